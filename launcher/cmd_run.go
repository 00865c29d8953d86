package launcher

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
)

type runOptions struct {
	Target   string
	Store    string
	Workers  int
	Progress string
	NoTable  bool
}

func (a *App) cmdRun() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "run a sweep locally, in parallel",
		ArgsUsage: "[EXPERIMENT.toml | EXPERIMENT-NAME]",
		Description: "Expands the param grid times the seed replicates into runs, skips those the store\n" +
			"already has as completed, and runs the rest here with one worker per CPU. Failed\n" +
			"and cancelled runs run again. Ctrl-C stops starting runs; run again to resume.\n\n" +
			"EXAMPLES:\n" +
			"   metalab run examples/pi/pi.toml --store runs/pi\n" +
			"   metalab run examples/pi/pi.toml --store runs/pi --workers 8 --progress lines",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "store", Aliases: []string{"s"}, Usage: "store `DIR` (default: a new temporary directory)"},
			&cli.IntFlag{Name: "workers", Aliases: []string{"j"}, Usage: "runs executed at once (default: one per CPU)"},
			&cli.StringFlag{Name: "progress", Value: "auto", Usage: "progress display: auto, bar, lines, quiet"},
			&cli.BoolFlag{Name: "no-table", Usage: "do not print the results table at the end"},
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
	exp, err := a.experiment(opts.Target)
	if err != nil {
		return err
	}
	h, err := Run(ctx, *exp, WithOptions(Options{
		Store:        opts.Store,
		Workers:      opts.Workers,
		Logger:       &log,
		Progress:     a.Stderr,
		ProgressMode: opts.Progress,
	}))
	if err != nil {
		return err
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
			return fmt.Errorf("%w\nhint: run the same command again to resume", runErr)
		}
		return runErr
	}
	if s.Failed > 0 {
		return fmt.Errorf("%d of %d runs failed; see '%s results --store %s --status failed': %w",
			s.Failed, s.Total, a.Name, h.StoreDir(), ErrRunsFailed)
	}
	return nil
}
