package launcher

import (
	"context"
	"errors"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/metalab-hpc/metalab/store"
)

type resultsOptions struct {
	Store  string
	Format string
	Output string
	Status []string
}

func (a *App) cmdResults() *cli.Command {
	return &cli.Command{
		Name:  "results",
		Usage: "print or export the results of a store",
		Description: "One row per run ID: run_id, status, replicate, seed, one column per param and per\n" +
			"metric (a clash gets a param_/metric_ prefix), then started, ended, duration_s, error.\n" +
			"csv opens in pandas as is; jsonl and json hold the full records (data, series,\n" +
			"artifacts, logs).\n\n" +
			"Order: table and json sort the runs by params, then replicate. csv and jsonl\n" +
			"stream the store without holding it in memory, in the store's record order (by\n" +
			"segment, then position in it), which is the same from one call to the next.\n\n" +
			damageHelp + "\n\n" +
			"EXAMPLES:\n" +
			"   metalab results --store runs/pi\n" +
			"   metalab results --store runs/pi --format csv --output results.csv\n" +
			"   metalab results --store runs/pi --status failed",
		Flags: []cli.Flag{
			storeFlag(),
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table, csv, jsonl or json"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE` instead of stdout"},
			&cli.StringSliceFlag{Name: "status", Usage: "only runs with this status (completed, failed, cancelled, running); repeatable"},
		},
		Action: func(c *cli.Context) error {
			return a.runResults(resultsOptions{
				Store:  c.String("store"),
				Format: c.String("format"),
				Output: c.String("output"),
				Status: c.StringSlice("status"),
			}, a.Stdout, a.Stderr)
		},
	}
}

// runResults writes the results to out (or opts.Output), and warnings to
// errOut.
func (a *App) runResults(opts resultsOptions, out, errOut io.Writer) error {
	write := map[string]func(*Results, io.Writer) error{
		"table": (*Results).WriteTable,
		"csv":   (*Results).WriteCSV,
		"jsonl": (*Results).WriteJSONL,
		"json":  (*Results).WriteJSON,
	}[opts.Format]
	if write == nil {
		return usageErr("use table, csv, jsonl or json", "unknown --format %q", opts.Format)
	}
	var statuses []store.Status
	for _, s := range opts.Status {
		st := store.Status(s)
		if !st.Valid() {
			return usageErr("use completed, failed, cancelled or running", "unknown --status %q", s)
		}
		statuses = append(statuses, st)
	}
	if stream := map[string]func(*store.Store, []store.Status, io.Writer) error{
		"csv": streamCSV, "jsonl": streamJSONL,
	}[opts.Format]; stream != nil {
		st, err := store.OpenExisting(opts.Store)
		if err != nil {
			return err
		}
		defer st.Close()
		rep, err := st.Collect(context.Background())
		if err != nil {
			return err
		}
		warnLost(errOut, a.Name, opts.Store, rep.Lost)
		// What a damaged store lets the export read is written whole,
		// and the damage reported after it.
		var damage error
		fill := func(w io.Writer) error {
			err := stream(st, statuses, w)
			if errors.As(err, new(*store.DamageError)) {
				damage, err = err, nil
			}
			return err
		}
		if opts.Output == "" || opts.Output == "-" {
			err = fill(out)
		} else {
			err = writeFileAtomic(opts.Output, fill)
		}
		if err != nil {
			return err
		}
		return damageExit(a.Name, opts.Store, damage)
	}
	res, damage, err := a.readStoreResults(opts.Store, errOut)
	if err != nil {
		return err
	}
	if len(statuses) > 0 {
		res = res.WithStatus(statuses...)
	}
	if opts.Output == "" || opts.Output == "-" {
		err = write(res, out)
	} else {
		err = writeFileAtomic(opts.Output, func(w io.Writer) error { return write(res, w) })
	}
	if err != nil {
		return err
	}
	return damageExit(a.Name, opts.Store, damage)
}
