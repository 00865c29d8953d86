// Package templates owns the sbatch scripts that metalab submits: the
// built-in template (sbatch.tmpl, embedded in the binary), the data it is
// rendered from ([Script]), and the quoting that keeps any value safe in it.
//
// # Quoting
//
// A rendered script is read twice, by two different parsers. sbatch reads
// the #SBATCH lines at the top: it splits them at white space, ends them at
// an unquoted '#', and honours double quotes and backslash escapes, so the
// template function sbatch double-quotes a value when it needs to (a job
// name with a space, an output path with a '#'). No quoting can carry a
// newline through it, so [Render] refuses one in any #SBATCH value and names
// the field. Then bash runs the rest: the function shq single-quotes every
// value that reaches the shell (module names, the work directory,
// environment values, the worker's argv), so spaces, quotes, $(...),
// backticks and newlines arrive as they were. [Script.Setup] is the one
// exception: it is shell code, inserted as written.
//
// # Custom templates
//
// Render takes the path of a user's template instead of the built-in one;
// [Builtin] returns the built-in source as a starting point. A custom
// template sees the same [Script] and the same functions (sbatch, shq,
// shjoin), and its parse and execution errors name its file and line.
package templates
