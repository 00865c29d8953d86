// Package command owns operations that run a program once per run: the way
// metalab runs experiments written in Python, R, Julia or shell, described by
// an experiment file.
//
// [New] checks the program before any run starts. Each run then executes it
// directly, never through a shell, in its own process group, with the run's
// params, seeds and paths in its environment (see [Op.Execute] for the
// variables). The program reports results by appending JSON lines to
// $METALAB_CAPTURE (the protocol of package capture). Exit status 0 completes
// the run; anything else, a timeout or a signal fails it, with the exit
// status and the tail of stderr in the record.
//
// A run's stdout and stderr are appended to one log file per worker slot in
// the store (logs/<writer>-s<slot>.out and .err), and its record keeps the
// byte range, so a sweep of 100,000 runs makes a handful of log files, not
// 200,000.
package command
