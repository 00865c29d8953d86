package launcher

import (
	"encoding/json"
	"io"
	"strings"

	"github.com/urfave/cli/v2"
)

type summaryOptions struct {
	Store string
	// Experiment picks the runs of one experiment, NAME[@VERSION].
	Experiment string
	GroupBy    []string
	// Series summarises this series per step instead of the metrics.
	Series string
	JSON   bool
}

func (a *App) cmdSummary() *cli.Command {
	return &cli.Command{
		Name:  "summary",
		Usage: "mean, standard deviation and 95% confidence interval of each metric per group",
		Description: "Groups the completed runs by the given params (typically all params, so that a\n" +
			"group is the seed replicates of one point) and gives per group and metric: count\n" +
			"(n), mean, sample standard deviation (std) and the 95% confidence interval of the\n" +
			"mean (ci_low, ci_high; Student's t). The table's columns are named as the JSON's\n" +
			"keys. A group with no completed run that has a metric (all its runs failed, say)\n" +
			"is listed after the table with what became of its runs; in JSON it is an entry\n" +
			"whose metric is null, and every entry counts its group's runs by status (runs).\n\n" +
			"Runs of different experiments or versions (a store holds every one run into it) are\n" +
			"never pooled: each group is of one experiment version, named in the experiment and\n" +
			"version columns when there is more than one. --experiment NAME[@VERSION] picks one.\n\n" +
			"--series METRIC summarises a series (a metric reported with a step) instead: the\n" +
			"same statistics per group and step, with a step column, for a learning curve with\n" +
			"its confidence band. 'results --format series' exports the points themselves.\n\n" +
			"A param named as a column of the table (n, mean, metric, ...) is headed param_NAME.\n\n" +
			damageHelp + "\n\n" +
			"EXAMPLES:\n" +
			"   metalab summary --store runs/pi --group-by n_samples\n" +
			"   metalab summary --store runs/sweep --group-by lr,batch --json\n" +
			"   metalab summary --store runs/sweep --group-by lr --experiment sweep@2\n" +
			"   metalab summary --store runs/sweep --group-by lr --series loss",
		Flags: []cli.Flag{
			storeFlag(),
			experimentFlag(),
			&cli.StringFlag{Name: "group-by", Aliases: []string{"g"}, Usage: "comma-separated `PARAMS` (default: no grouping)"},
			&cli.StringFlag{Name: "series", Usage: "summarise the series `METRIC` per step (a metric reported with a step)"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
		},
		Action: func(c *cli.Context) error {
			var groupBy []string
			for _, g := range strings.Split(c.String("group-by"), ",") {
				if g = strings.TrimSpace(g); g != "" {
					groupBy = append(groupBy, g)
				}
			}
			dir, exp, done, err := storeDir(c.Context, c.String("store"), c.String("experiment"))
			if err != nil {
				return err
			}
			defer done()
			return a.runSummary(summaryOptions{Store: dir, Experiment: exp,
				GroupBy: groupBy, Series: c.String("series"), JSON: c.Bool("json")}, a.Stdout, a.Stderr)
		},
	}
}

// runSummary writes the summary to out, and warnings to errOut.
func (a *App) runSummary(opts summaryOptions, out, errOut io.Writer) error {
	// Of a damaged store: a summary of what could be read, then the
	// damage.
	res, damage, err := a.readStoreResults(opts.Store, opts.Experiment, errOut)
	if err != nil {
		return err
	}
	known := res.ownNames().params
	for _, g := range opts.GroupBy {
		if !known[g] && res.Len() > 0 {
			return usageErr("params in this store: "+strings.Join(sortedKeys(known), ", "), "no param %q in the store", g)
		}
	}
	var stats []GroupStat
	if opts.Series != "" {
		stats = res.SeriesSummary(opts.Series, opts.GroupBy...)
		if err := res.Err(); err != nil {
			return err
		}
	} else {
		stats = res.Summary(opts.GroupBy...)
	}
	if opts.JSON {
		if stats == nil {
			stats = []GroupStat{}
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		err = enc.Encode(stats)
	} else {
		err = WriteSummary(out, stats, opts.GroupBy)
	}
	if err != nil {
		return err
	}
	return damageExit(a.Name, opts.Store, damage)
}
