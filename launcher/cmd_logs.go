package launcher

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/metalab-hpc/metalab/store"
)

type logsOptions struct {
	Store  string
	RunID  string
	Stdout bool // only stdout
	Stderr bool // only stderr
	Log    bool // only the captured log lines
}

func (a *App) cmdLogs() *cli.Command {
	return &cli.Command{
		Name:      "logs",
		Usage:     "print what one run wrote to stdout and stderr, and the lines it logged",
		ArgsUsage: "RUN_ID",
		Description: "Prints what one run left: the stdout, then the stderr of a command run (an\n" +
			"experiment file's command), as kept in the store's per-worker log files, then the\n" +
			"lines the run logged through the capture protocol ({\"log\": ...}, capture.log in\n" +
			"Python, c.Log in Go), which its record holds, under a line '--- capture log ---'\n" +
			"when output precedes them. A Go operation's run has only its logged lines.\n" +
			"--stdout, --stderr and --log print only those; a unique prefix of at least 4\n" +
			"characters names a run. Run IDs are in 'metalab results'.\n\n" +
			damageHelp + "\n\n" +
			"EXAMPLES:\n" +
			"   metalab logs --store runs/pi 3f2a9c1e5b7d4a60\n" +
			"   metalab logs --store runs/pi 3f2a --stderr\n" +
			"   metalab logs --store runs/pi 3f2a --log",
		Flags: []cli.Flag{
			storeFlag(),
			&cli.BoolFlag{Name: "stdout", Usage: "print only stdout"},
			&cli.BoolFlag{Name: "stderr", Usage: "print only stderr"},
			&cli.BoolFlag{Name: "log", Usage: "print only the lines the run logged (capture.log, c.Log)"},
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
				Log:    c.Bool("log"),
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
	if rec.Stdout == nil && rec.Stderr == nil && len(rec.Logs) == 0 {
		return usageErr("a command's stdout and stderr are kept, and the lines any run logs (capture.log in Python, c.Log in Go)",
			"run %s (%s) kept no output and logged no line", rec.RunID, rec.Status)
	}
	if err := writeLogs(out, st, rec, opts); err != nil {
		return err
	}
	return damageExit(a.Name, opts.Store, damage)
}

// writeLogs writes what opts picks of the output and logged lines of rec:
// all of them when it picks none.
func writeLogs(out io.Writer, st *store.Store, rec *Record, opts logsOptions) error {
	all := !opts.Stdout && !opts.Stderr && !opts.Log
	printed := false
	for _, part := range []struct {
		want bool
		ref  *store.LogRef
	}{{all || opts.Stdout, rec.Stdout}, {all || opts.Stderr, rec.Stderr}} {
		if !part.want || part.ref == nil {
			continue
		}
		if err := copyLog(out, st, part.ref); err != nil {
			return err
		}
		printed = printed || part.ref.Length > 0
	}
	if (all || opts.Log) && len(rec.Logs) > 0 {
		return writeLogLines(out, rec.Logs, printed)
	}
	return nil
}

// writeLogLines writes the lines a run logged, one a line, under a line
// that tells them from the output before them, if any.
func writeLogLines(w io.Writer, lines []string, after bool) error {
	bw := bufio.NewWriter(w)
	if after {
		bw.WriteString("--- capture log ---\n")
	}
	for _, l := range lines {
		bw.WriteString(strings.TrimSuffix(l, "\n"))
		bw.WriteByte('\n')
	}
	return bw.Flush()
}
