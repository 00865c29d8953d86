// Package expfile owns metalab's experiment file: a TOML description of a
// sweep whose operation is any program, run once per run (package command).
// [Load] turns a file into a [launcher.Experiment].
//
// The format is documented, key by key, in docs/experiment-file.md. The
// loader is strict, because a typo in a sweep costs a cluster allocation:
// an unknown key, a value of the wrong type, an empty grid axis, two params
// that would collide as environment variables, or a command that does not
// exist or is not executable is an [*Error] naming the file, the line and
// the key, usually with a hint (the closest valid key for a typo).
package expfile
