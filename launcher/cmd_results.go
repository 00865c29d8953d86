package launcher

import (
	"context"
	"errors"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/metalab-hpc/metalab/store"
)

type resultsOptions struct {
	Store string
	// Experiment picks the runs of one experiment, NAME[@VERSION].
	Experiment string
	Format     string
	Output     string
	Status     []string
	// Where are conditions NAME OP VALUE, all of which a run meets.
	Where []string
	// Sort is a comma-separated list of columns, -NAME descending.
	Sort string
	// Columns is a comma-separated list of the columns of table and csv.
	Columns string
}

func (a *App) cmdResults() *cli.Command {
	return &cli.Command{
		Name:  "results",
		Usage: "print or export the results of a store",
		Description: "One row per run ID: run_id, status, replicate, seed, one column per param and per\n" +
			"metric (a clash gets a param_/metric_ prefix), then started, ended, duration_s, error.\n" +
			"A store holds every experiment and version run into it: with runs of more than one,\n" +
			"experiment and version lead each row; --experiment NAME[@VERSION] picks one.\n" +
			"csv opens in pandas as is; jsonl and json hold the full records (data, series,\n" +
			"artifacts, logs).\n\n" +
			"series is a long CSV of the series (metrics reported with a step: learning\n" +
			"curves): one row per point, with the columns run_id, status, replicate, one per\n" +
			"param, then metric, step and value; a null value is an empty cell. pandas pivots\n" +
			"it: df.pivot_table(index=\"step\", columns=\"lr\", values=\"value\"). It streams as\n" +
			"csv does; --where and --sort pick and order its runs, --columns does not apply.\n" +
			"'summary --series METRIC' gives the mean and confidence interval per step.\n\n" +
			"The table shows the error of each run that has one (its first line; 'logs' prints\n" +
			"a command's whole output).\n\n" +
			"--where NAME OP VALUE keeps the runs that meet it (repeat it: a run must meet\n" +
			"all); NAME is a column as the CSV header names it (a param, a metric, status,\n" +
			"replicate, duration_s, ...), OP one of = != < <= > >=; numbers compare as\n" +
			"numbers, anything else as text, and a run without the param or metric (a failed\n" +
			"run has no metrics) meets no condition on it. --sort orders by columns, -NAME\n" +
			"descending, runs without a value last. --columns picks the columns of table and\n" +
			"csv, in its order. Quote a condition with < or > for the shell.\n\n" +
			"Order: table and json sort the runs by params, then replicate. csv and jsonl\n" +
			"stream the store without holding it in memory, in the store's record order (by\n" +
			"segment, then position in it), which is the same from one call to the next;\n" +
			"with --where, --sort or --columns they read the store first, as table does.\n\n" +
			damageHelp + "\n\n" +
			"EXAMPLES:\n" +
			"   metalab results --store runs/pi\n" +
			"   metalab results --store runs/pi --format csv --output results.csv\n" +
			"   metalab results --store runs/pi --status failed\n" +
			"   metalab results --store runs/sweep --format series --output curves.csv\n" +
			"   metalab results --store runs/pi --experiment pi_mc@0.2\n" +
			"   metalab results --store runs/pi --where n_samples=1000 --where 'pi_estimate>3'\n" +
			"   metalab results --store runs/pi --sort -pi_estimate --columns run_id,n_samples,pi_estimate\n" +
			"   METALAB_STORE=runs/pi metalab results --format json",
		Flags: []cli.Flag{
			storeFlag(),
			experimentFlag(),
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "table, csv, jsonl, json or series"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE` instead of stdout"},
			&cli.StringSliceFlag{Name: "status", Usage: "only runs with this status (completed, failed, cancelled, running); repeatable"},
			&cli.StringSliceFlag{Name: "where", Usage: "only runs that meet `COND`: NAME=VALUE, or NAME!=, <, <=, >, >= VALUE ('pi_estimate>3'); repeatable"},
			&cli.StringFlag{Name: "sort", Usage: "sort by these comma-separated `COLUMNS`, -NAME descending"},
			&cli.StringFlag{Name: "columns", Aliases: []string{"c"}, Usage: "print only these comma-separated `COLUMNS` (table and csv)"},
		},
		Action: func(c *cli.Context) error {
			dir, exp, done, err := storeDir(c.Context, c.String("store"), c.String("experiment"))
			if err != nil {
				return err
			}
			defer done()
			return a.runResults(resultsOptions{
				Store:      dir,
				Experiment: exp,
				Format:     c.String("format"),
				Output:     c.String("output"),
				Status:     c.StringSlice("status"),
				Where:      c.StringSlice("where"),
				Sort:       c.String("sort"),
				Columns:    c.String("columns"),
			}, a.Stdout, a.Stderr)
		},
	}
}

// runResults writes the results to out (or opts.Output), and warnings to
// errOut.
func (a *App) runResults(opts resultsOptions, out, errOut io.Writer) error {
	write := map[string]func(*Results, io.Writer) error{
		"table":  (*Results).WriteTable,
		"csv":    (*Results).WriteCSV,
		"jsonl":  (*Results).WriteJSONL,
		"json":   (*Results).WriteJSON,
		"series": (*Results).WriteSeries,
	}[opts.Format]
	if write == nil {
		return usageErr("use table, csv, jsonl, json or series", "unknown --format %q", opts.Format)
	}
	q, err := parseQuery(opts.Where, opts.Sort, opts.Columns)
	if err != nil {
		return err
	}
	if q.columns != nil && (opts.Format == "json" || opts.Format == "jsonl" || opts.Format == "series") {
		return usageErr("json and jsonl hold whole records, series the points of series; --columns picks the columns of table and csv",
			"--columns with --format %s", opts.Format)
	}
	var statuses []store.Status
	for _, s := range opts.Status {
		st := store.Status(s)
		if !st.Valid() {
			return usageErr("use completed, failed, cancelled or running", "unknown --status %q", s)
		}
		statuses = append(statuses, st)
	}
	if stream := map[string]func(*store.Store, []store.Status, experimentFilter, io.Writer) error{
		"csv": streamCSV, "jsonl": streamJSONL, "series": streamSeries,
	}[opts.Format]; stream != nil && q.empty() {
		st, only, err := a.openCollected(context.Background(), opts.Store, opts.Experiment, errOut)
		if err != nil {
			return err
		}
		defer st.Close()
		// What a damaged store lets the export read is written whole,
		// and the damage reported after it.
		var damage error
		fill := func(w io.Writer) error {
			err := stream(st, statuses, only, w)
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
	res, damage, err := a.readStoreResults(opts.Store, opts.Experiment, errOut)
	if err != nil {
		return err
	}
	if len(statuses) > 0 {
		res = res.WithStatus(statuses...)
	}
	res, cols, err := q.apply(res)
	if err != nil {
		return err
	}
	if cols != nil {
		write = map[string]func(*Results, io.Writer) error{
			"table": func(r *Results, w io.Writer) error { return r.writeTable(w, cols) },
			"csv":   func(r *Results, w io.Writer) error { return r.writeCSV(w, cols) },
		}[opts.Format]
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
