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
//
// # Files
//
// load.go holds [Load] and the reading shared by every table; schema.go the
// keys each table takes and the check for unknown ones; then one file per
// part of the format: command.go (command, mode, workdir, env, timeout,
// retries), params.go (grid, random, cases), seeds.go, context.go, slurm.go and
// limits.go. positions.go finds the line of each key, which the TOML
// decoder does not keep, and errors.go holds [Error] and the did-you-mean
// hint.
package expfile
