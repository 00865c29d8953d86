package launcher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
)

type runOptions struct {
	Target   string
	Store    string
	Workers  int
	Progress string
	NoTable  bool
	// Wait: wait for another writer of the store to end instead of
	// refusing.
	Wait bool
	// MaxPlanTime is as in Options: 0 the default, negative no limit.
	MaxPlanTime time.Duration
	// DryRun prints the plan and runs nothing.
	DryRun bool
	// Force runs into a directory that is not a store and not empty.
	Force bool
	// JSONLog: the logger writes JSON, and progress lines go through it.
	JSONLog bool
	// RerunChanged runs again the completed runs that came from other
	// code (see Options.RerunChanged).
	RerunChanged bool
}

func (a *App) cmdRun() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run a sweep locally, in parallel",
		ArgsUsage: "[EXPERIMENT.toml | EXPERIMENT-NAME]",
		Description: "Expands the param grid times the seed replicates into runs, skips those the store\n" +
			"already has as completed, and runs the rest here with one worker per CPU. Failed\n" +
			"and cancelled runs run again. Ctrl-C stops starting runs; run again to resume.\n\n" +
			"One process at a time writes a store's runs: a second run, or a run while SLURM\n" +
			"workers of the store are running, is refused with a message naming the holder\n" +
			"(--wait waits for it instead). A plan that metalab alone would take longer than\n" +
			"--max-plan-time to get through (at its least cost a run) is refused before\n" +
			"anything is written.\n\n" +
			"--dry-run prints the plan (runs, already completed, to run, the first few) and runs\n" +
			"nothing. A --store that names a directory with other files in it, not a store,\n" +
			"is refused (--force runs into it anyway). Without --store, $METALAB_STORE names\n" +
			"the store, else a new temporary directory is made.\n\n" +
			"Every record carries a fingerprint of the code that produced it: the files the command\n" +
			"names (the script, by content), the interpreter's path, the files of [context.files];\n" +
			"a Go program's build. Completed runs from other code than the operation's now are\n" +
			"counted in a warning (\"30 completed runs came from a different train.py\") and\n" +
			"skipped; --rerun-changed runs them again, each once, and their new records win.\n" +
			"(track_code = true in the experiment file puts the fingerprint into the run IDs.)\n\n" +
			"EXAMPLES:\n" +
			"   metalab run examples/pi/pi.toml --store runs/pi\n" +
			"   metalab run examples/pi/pi.toml --store runs/pi --dry-run\n" +
			"   metalab run examples/pi/pi.toml --store runs/pi --workers 8 --progress lines\n" +
			"   metalab run examples/pi/pi.toml --store runs/pi --rerun-changed   # after editing pi.py\n" +
			"   METALAB_STORE=runs/pi metalab run examples/pi/pi.toml --log-level warn",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "store", Aliases: []string{"s"}, Usage: "store `DIR` (default: a new temporary directory)"},
			&cli.IntFlag{Name: "workers", Aliases: []string{"j"}, Usage: "runs executed at once (default: one per CPU)"},
			&cli.StringFlag{Name: "progress", Value: "auto", Usage: "progress display: auto, bar, lines, quiet"},
			&cli.BoolFlag{Name: "no-table", Usage: "do not print the results table at the end"},
			&cli.BoolFlag{Name: "wait", Usage: "if another process writes the store, wait for it to end (default: refuse)"},
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "print the plan and the first runs to run; run nothing"},
			&cli.BoolFlag{Name: "force", Usage: "run into a --store directory that is not a store and not empty"},
			&cli.BoolFlag{Name: "rerun-changed", Usage: "run again the completed runs that came from other code than the operation's now"},
			&cli.DurationFlag{Name: "max-plan-time", Value: DefaultMaxPlanTime, Usage: "refuse a plan whose runs metalab alone would take longer than `DURATION` to get through; 0: no limit"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 1 {
				return usageErr(fmt.Sprintf("usage: %s run [EXPERIMENT]", a.Name), "run takes one experiment, got %d arguments", c.NArg())
			}
			opts := runOptions{
				Target:   c.Args().First(),
				Store:    c.String("store"),
				Workers:  c.Int("workers"),
				Progress: c.String("progress"),
				NoTable:  c.Bool("no-table"),
				Wait:     c.Bool("wait"),
				DryRun:   c.Bool("dry-run"),
				Force:    c.Bool("force"),
				JSONLog:  c.String(flagLogFormat) == "json",

				RerunChanged: c.Bool("rerun-changed"),
			}
			switch d := c.Duration("max-plan-time"); {
			case d < 0:
				return usageErr("0 means no limit", "--max-plan-time must not be negative, got %s", d)
			case d == 0:
				opts.MaxPlanTime = -1
			default:
				opts.MaxPlanTime = d
			}
			return a.runRun(c.Context, a.logger(c), opts, a.Stdout)
		},
	}
}

func (a *App) runRun(ctx context.Context, log zerolog.Logger, opts runOptions, out io.Writer) error {
	switch opts.Progress {
	case "auto", "bar", "lines", "quiet", "":
	default:
		return usageErr("use auto, bar, lines or quiet", "unknown --progress %q", opts.Progress)
	}
	if opts.Workers < 0 {
		return usageErr("", "--workers must be positive, got %d", opts.Workers)
	}
	var lockWait time.Duration
	if opts.Wait {
		lockWait = -1 // until Ctrl-C
	}
	exp, err := a.experiment(opts.Target)
	if err != nil {
		return err
	}
	if err := checkStoreDir(opts.Store, opts.Force); err != nil {
		return err
	}
	if opts.DryRun {
		return a.dryRun(ctx, exp, opts, out)
	}
	mode := opts.Progress
	if opts.JSONLog && (mode == "lines" || mode == "" || mode == "auto" && !isTerminal(a.Stderr)) {
		// Progress lines as records of the JSON log: stderr holds
		// nothing but JSON.
		mode = "log"
	}
	h, err := Run(ctx, *exp, WithOptions(Options{
		Store:        opts.Store,
		Workers:      opts.Workers,
		Logger:       &log,
		Progress:     a.Stderr,
		ProgressMode: mode,
		LockWait:     lockWait,
		MaxPlanTime:  opts.MaxPlanTime,
		RerunChanged: opts.RerunChanged,
	}))
	if err != nil {
		return err
	}
	if mode != "quiet" && mode != "log" {
		printPlanLine(a.Stderr, a.Name, "run", exp, h.plan)
	}
	res, runErr := h.Result()
	s := h.Status()
	if res != nil && !opts.NoTable && res.Len() > 0 {
		res.WriteTable(out)
	}
	if res != nil && !opts.NoTable && runErr == nil {
		runErr = res.Err()
	}
	switch {
	case s.Skipped == s.Total && s.Total > 0:
		fmt.Fprintf(out, "nothing to run: all %d runs are already completed in %s\n", s.Total, h.StoreDir())
	default:
		fmt.Fprintf(out, "%d runs: %d executed (%d completed, %d failed, %d cancelled), %d skipped (already completed); store %s\n",
			s.Total, s.Done(), s.Completed, s.Failed, s.Cancelled, s.Skipped, h.StoreDir())
	}
	if runErr != nil {
		if errors.Is(runErr, context.Canceled) {
			return &exitError{code: ExitInterrupted, err: runErr, hint: "run the same command again to resume"}
		}
		return runErr
	}
	if s.Failed > 0 {
		// The table of the failed runs shows each one's error.
		hint := fmt.Sprintf("their errors: '%s results --store %s --status failed'", a.Name, h.StoreDir())
		if a.isExperimentFile(opts.Target) {
			hint += fmt.Sprintf("; a run's whole output: '%s logs --store %s RUN_ID'", a.Name, h.StoreDir())
		}
		return &exitError{code: ExitRunsFailed, hint: hint, err: runsFailedError{s.Failed, s.Total}}
	}
	return nil
}

// runsFailedError says how many runs of a sweep failed; it is
// [ErrRunsFailed].
type runsFailedError struct{ failed, total int }

func (e runsFailedError) Error() string {
	return fmt.Sprintf("%d of %d runs failed", e.failed, e.total)
}

func (e runsFailedError) Is(target error) bool { return target == ErrRunsFailed }
