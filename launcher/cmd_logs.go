package launcher

import (
	"context"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/metalab-hpc/metalab/store"
)

type logsOptions struct {
	Store  string
	RunID  string
	Stdout bool // only stdout
	Stderr bool // only stderr
}

func (a *App) cmdLogs() *cli.Command {
	return &cli.Command{
		Name:      "logs",
		Usage:     "print what one run wrote to stdout and stderr",
		ArgsUsage: "RUN_ID",
		Description: "Prints the output of one command run (an experiment file's command): its stdout,\n" +
			"then its stderr, as kept in the store's per-worker log files. A unique prefix of\n" +
			"at least 4 characters names a run. Run IDs are in 'metalab results'.\n\n" +
			damageHelp + "\n\n" +
			"EXAMPLES:\n" +
			"   metalab logs --store runs/pi 3f2a9c1e5b7d4a60\n" +
			"   metalab logs --store runs/pi 3f2a --stderr",
		Flags: []cli.Flag{
			storeFlag(),
			&cli.BoolFlag{Name: "stdout", Usage: "print only stdout"},
			&cli.BoolFlag{Name: "stderr", Usage: "print only stderr"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErr(fmt.Sprintf("usage: %s logs --store DIR RUN_ID", a.Name), "logs takes one run ID, got %d arguments", c.NArg())
			}
			return a.runLogs(c.Context, logsOptions{
				Store:  c.String("store"),
				RunID:  c.Args().First(),
				Stdout: c.Bool("stdout"),
				Stderr: c.Bool("stderr"),
			}, a.Stdout)
		},
	}
}

func (a *App) runLogs(ctx context.Context, opts logsOptions, out io.Writer) error {
	st, err := store.OpenExisting(opts.Store)
	if err != nil {
		return err
	}
	defer st.Close()
	rep, err := st.Collect(ctx)
	if err != nil {
		return err
	}
	warnLost(a.Stderr, a.Name, opts.Store, rep.Lost)
	// Of a damaged store: the run's output if its record could be read,
	// then the damage.
	rec, err := findRun(st, opts.RunID, a.Name)
	if rec == nil {
		return damageExit(a.Name, opts.Store, err)
	}
	damage := err
	if rec.Stdout == nil && rec.Stderr == nil {
		return usageErr("only runs of an experiment file's command keep their output",
			"run %s (%s) kept no output", rec.RunID, rec.Status)
	}
	both := opts.Stdout == opts.Stderr
	if (both || opts.Stdout) && rec.Stdout != nil {
		if err := copyLog(out, st, rec.Stdout); err != nil {
			return err
		}
	}
	if (both || opts.Stderr) && rec.Stderr != nil {
		if err := copyLog(out, st, rec.Stderr); err != nil {
			return err
		}
	}
	return damageExit(a.Name, opts.Store, damage)
}
