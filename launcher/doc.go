// Package launcher runs parameter sweeps: an experiment's operation for
// every point of a param grid times several seed replicates, each run once,
// with every result kept in a store and a table of results at the end. It is
// metalab's front door: the Go API, which mirrors the Python metalab
// library, and the `metalab` command line, built on the same API.
//
// # Experiments, plans, runs, results
//
// An [Experiment] names what a sweep runs: an [Operation] (a Go function
// made one by [Op], or a program described by an experiment file, which
// package expfile loads into an operation of package command), a param
// source (params.Grid, params.Random or params.Cases), a seed plan
// (seeds.New), a timeout, retries and limits on what a run may capture.
//
// [NewPlan] expands it into runs: every point times every replicate, each
// a [RunSpec] with a deterministic run ID ([RunID]: a hash of the
// experiment's name, version and context, the point and the seeds), the
// same on every machine, so that a run is never executed twice.
//
// [Run] starts a sweep and returns a [Handle] at once. The sweep opens the
// store (taking its lock: one writer of a store's runs at a time), skips
// the runs the store has as completed, and executes the others on a pool
// of workers, each with a [Runtime] and a capture.Recorder; [Handle.Status]
// tells how far it got, [Handle.Cancel] stops it, and [Handle.Result]
// waits for its [Results]: [Results.Table], [Results.All], [Results.Where],
// [Results.Summary], [Results.SeriesSummary], [Results.WriteCSV],
// [Results.WriteSeries]. A param or metric name that no run has is an
// error of [Results.Err], as it is of the command line. Results hold the
// runs in columns (table.go) and build a run's record when asked for it;
// [Results.Rows] reads a million runs without building one. [LoadResults]
// reads the results of a store again later; python/metalab_results.py reads them
// into pandas through the command line's exports.
// `metalab report` (cmd_report.go) has package report read a store's
// records in one pass into the one-file HTML page, with Summary's numbers;
// `metalab serve` (cmd_serve.go) has package serve serve that page live,
// with the counts of `status` and the output of `logs`.
//
// A sweep grows: run an experiment with more values, cases, replicates or
// trials into its store, and only the runs the store lacks execute, since
// their IDs do not depend on the plan around them. A store holds any
// number of experiments, each name and version its own (experiments.go,
// [Results.OfExperiment]); an operation that says what it runs
// ([Describer]: the command operations do) is recorded, and a change of
// it under the same name and version is warned of, not refused.
// docs/store.md gives the rules.
//
// # Which code produced a result
//
// Every record carries the fingerprint of the code that produced it
// (store.Record.Code): of a [Coder] operation, what it says its code is
// (a command: its command line, the files it names by content, the
// interpreter's path); of a Go function, the program's build. The store
// keeps what went into each fingerprint, so a sweep says how many
// completed runs came from other code and which file changed, and
// [Options.RerunChanged] (`--rerun-changed`) runs exactly those again,
// each once, their new records winning over the old. Run IDs do not hash
// the code unless [Experiment.TrackCode] is set: then every edit, a
// comment included, makes a new sweep, and run IDs name their code
// exactly; without, an edit costs nothing until asked, and the store holds
// results of old code under the same run IDs meanwhile (the code column of
// the results tells them apart). docs/experiment-file.md weighs the two.
//
// # Where results live
//
// A store (package store) is a directory, on a filesystem that the nodes of
// a cluster may share. Each process appends records to a segment of its own
// (a start and an end record per run); SQLite indexes, one per node and one
// for the store, are caches that store.Store.Collect rebuilds from the
// segments. Artifacts are files under artifacts/<run ID>/, command output
// goes to one log per worker slot, and submissions and the pinned binary
// they run have directories of their own. store.Store.Collect, and every
// command that reads results, merges what the writers left.
//
// Beyond one directory, `metalab store` (cmd_store.go, transfer.go) exports
// stores into a PostgreSQL database (package pgstore), an index of any
// number of them for SQL, and copies runs between directories, databases
// and the Python library's stores (package pystore), keeping one record
// per run by the store's own rule. The reading commands take a database
// URL as --store (pgsource.go). docs/postgres.md says when to use which.
//
// # On a SLURM cluster
//
// `metalab submit` (submit.go) plans the sweep on the login node, drops the
// runs the store has, groups the rest into shards (package shard, sized by
// the durations of the runs the store has completed) and renders sbatch
// array scripts (package templates) that run the same binary, pinned in
// the store, as `metalab worker` (worker.go); it holds the store's lock
// meanwhile, so that two submits, or a submit and a local run, never hand
// out the same runs. Each array task runs its shard as a worker sweep: it
// reads where it runs from slurm.TaskEnv, stops starting runs before its
// time limit, and writes a segment of its own. Every job carries the
// store's identity in its name and comment (identity.go), since job IDs
// are recycled: `metalab status` (status.go) adds what squeue and sacct say
// of the store's jobs (package slurm), `metalab cancel` cancels exactly
// those, and `metalab collect` (collect.go) merges the node indexes and
// reports what is missing (--resubmit submits it again). Both find the runs
// left "running" by a task that has ended (reconcile.go): lost, and
// resubmitted. A [Submission] records each submit in the store.
//
// # The command line
//
// [Main] gives a Go program the whole command line for the experiments
// compiled into it; the metalab binary (the repository's main.go) is an
// [App] that also loads experiment files. Both answer the same commands,
// one cmd_<name>.go each: run, submit, worker, collect, status, results,
// summary, report, serve, logs, artifacts, cancel and store, with help, version and completion (bash, zsh,
// fish) beside them. A command's file builds an options struct from
// its flags and calls one function that returns an error, tested with a
// buffer and a stand-in scheduler; cli.go holds what commands share. [App]
// turns errors into exit codes and messages in one place, with the hint of
// any error in the chain that has a Hint method.
//
// # Exit codes
//
//	0    all runs completed (ExitOK)
//	1    some runs failed, or an operation error stopped the sweep (ExitRunsFailed)
//	2    bad usage or bad input: experiment file, params, store (ExitUsage)
//	3    a command printed what it could read of a damaged store (ExitDamaged)
//	4    the scheduler failed or could not be reached: sbatch, squeue, scontrol, scancel (ExitScheduler)
//	130  interrupted by SIGINT or SIGTERM; the same command resumes (ExitInterrupted)
//
// # Runs are not trusted
//
// An operation is somebody else's program, often run as root. Command
// operations run in a process group of their own, with a per-slot scratch
// directory that metalab reaches only through an os.Root, never by a path
// the run could have redirected; what a run leaves behind (a daemon, a
// symlink in place of a directory, a FIFO, a capture line of 300 MB) is
// killed, refused or bounded, and fails the run with a message that says
// what it did. docs/reliability.md lists the tests that hold metalab to it.
package launcher
