package launcher

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/metalab-hpc/metalab/store"
)

type logsOptions struct {
	Store  string
	RunID  string
	Stdout bool // only stdout
	Stderr bool // only stderr
}

// minPrefix is the shortest run ID prefix that names a run.
const minPrefix = 4

func (a *App) cmdLogs() *cli.Command {
	return &cli.Command{
		Name:      "logs",
		Usage:     "print what one run wrote to stdout and stderr",
		ArgsUsage: "RUN_ID",
		Description: "Prints the output of one command run (an experiment file's command): its stdout,\n" +
			"then its stderr, as kept in the store's per-worker log files. A unique prefix of\n" +
			"at least 4 characters names a run. Run IDs are in 'metalab results'.\n\n" +
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
	if _, err := st.Collect(ctx); err != nil {
		return err
	}
	rec, err := a.findRun(st, opts.RunID)
	if err != nil {
		return err
	}
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
	return nil
}

// findRun returns the record of the run whose ID is id or, failing that,
// the only one that starts with id.
func (a *App) findRun(st *store.Store, id string) (*Record, error) {
	var exact *Record
	var matches []*Record
	err := st.Records(func(r *store.Record) error {
		switch {
		case r.RunID == id:
			exact = r
		case len(id) >= minPrefix && strings.HasPrefix(r.RunID, id):
			matches = append(matches, r)
		}
		return nil
	})
	switch {
	case err != nil:
		return nil, err
	case exact != nil:
		return exact, nil
	case len(matches) == 1:
		return matches[0], nil
	case len(matches) > 1:
		ids := make([]string, len(matches))
		for i, m := range matches {
			ids[i] = m.RunID
		}
		sort.Strings(ids)
		if len(ids) > 5 {
			ids = append(ids[:5], "...")
		}
		return nil, usageErr("give more characters of the run ID",
			"run ID prefix %q matches %d runs: %s", id, len(matches), strings.Join(ids, ", "))
	}
	hint := fmt.Sprintf("list the run IDs with '%s results --store %s'", a.Name, st.Dir())
	if len(id) < minPrefix {
		hint = fmt.Sprintf("a run ID prefix needs at least %d characters; %s", minPrefix, hint)
	}
	return nil, usageErr(hint, "no run %q in %s", id, st.Dir())
}

// copyLog writes one run's byte range of a shared log file. The file is
// opened inside the store only: a record's path comes from a segment that
// anyone who can write the store could have edited.
func copyLog(w io.Writer, st *store.Store, ref *store.LogRef) error {
	f, err := st.OpenFile(ref.File)
	if err != nil {
		return fmt.Errorf("log of the run: %w", err)
	}
	defer f.Close()
	if ref.Offset < 0 || ref.Length < 0 {
		return fmt.Errorf("log of the run: the record gives a negative range (%d, %d) of %s", ref.Offset, ref.Length, f.Name())
	}
	n, err := io.Copy(w, io.NewSectionReader(f, ref.Offset, ref.Length))
	if err != nil {
		return err
	}
	if n < ref.Length {
		return fmt.Errorf("log %s is truncated: the run's bytes %d-%d are not all there", f.Name(), ref.Offset, ref.Offset+ref.Length)
	}
	return nil
}
