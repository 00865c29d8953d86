package launcher

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/metalab-hpc/metalab/pgstore"
)

type statusOptions struct {
	Store string
	// Experiment picks one experiment of the store, NAME[@VERSION].
	Experiment string
	JSON       bool
	Watch      bool
	Interval   time.Duration
	// shown names the store in the output when Store is a copy of a
	// database's runs; "" is Store.
	shown string
	// after waits between refreshes; nil is time.After.
	after func(time.Duration) <-chan time.Time
}

func (a *App) cmdStatus() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "count runs by status in a store, and the SLURM tasks still queued",
		Description: "Counts from the store first: completed, failed, cancelled, running (started, no end\n" +
			"record yet) and pending (never started). The runs of an experiment are those of its\n" +
			"latest plan and those the store keeps from earlier ones. A store that holds several\n" +
			"experiments or versions gets a row of counts for each, and --experiment NAME[@VERSION]\n" +
			"counts one (with its submissions). If the store has SLURM submissions, one\n" +
			"squeue call for all their jobs adds the tasks still pending or running: only jobs\n" +
			"of this user whose name and comment say they are this store's (job IDs are\n" +
			"recycled). A run left running by a task that is no longer running, or by a local\n" +
			"run that no longer holds the store, is lost: counted as pending, and named. --watch\n" +
			"refreshes every --interval (at least 10 s), backing off while nothing changes, and\n" +
			"ends when no submitted job is left in the queue.\n\n" +
			"The counts come from a collect of the store's indexes, which also repairs the\n" +
			"damage that readers (results, summary) reported in the segments; status warns\n" +
			"on stderr when it finds runs whose records were lost to it.\n\n" +
			"Completed runs whose records came from other code than the latest sweep (or submit) of\n" +
			"their experiment ran are counted, with what changed (\"4 completed runs of pi_mc came\n" +
			"from a different pi.py\"); 'run --rerun-changed' or 'submit --rerun-changed' runs them\n" +
			"again.\n\n" +
			"EXAMPLES:\n" +
			"   metalab status --store runs/pi\n" +
			"   metalab status --store /scratch/$USER/sweep --watch\n" +
			"   metalab status --store runs/pi --json\n" +
			"   metalab status --store runs/pi --experiment pi_mc@0.2",
		Flags: []cli.Flag{
			storeFlag(),
			experimentFlag(),
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object (per refresh)"},
			&cli.BoolFlag{Name: "watch", Aliases: []string{"w"}, Usage: "refresh until the submitted jobs have left the queue"},
			&cli.DurationFlag{Name: "interval", Value: 10 * time.Second, Usage: "first refresh interval of --watch (at least 10s)"},
		},
		Action: func(c *cli.Context) error {
			dir, exp, done, err := storeDir(c.Context, c.String("store"), c.String("experiment"))
			if err != nil {
				return err
			}
			defer done()
			return a.runStatus(c.Context, statusOptions{
				Store: dir, Experiment: exp, shown: pgstore.Redact(c.String("store")), JSON: c.Bool("json"), Watch: c.Bool("watch"), Interval: c.Duration("interval"),
			}, a.Stdout)
		},
	}
}

func (a *App) runStatus(ctx context.Context, opts statusOptions, out io.Writer) error {
	base := max(opts.Interval, 10*time.Second)
	interval := base
	after := opts.after
	if after == nil {
		after = time.After
	}
	client := a.slurmClient()
	var last storeStatus
	for first := true; ; first = false {
		s, err := readStatus(ctx, opts.Store, opts.Experiment, a.Name, client)
		if err != nil {
			return err
		}
		if pgstore.IsURL(opts.shown) {
			s.Store = opts.shown
		}
		warnLost(a.Stderr, a.Name, opts.Store, s.Lost)
		if err := printStatus(out, a.Name, s, opts.JSON); err != nil {
			return err
		}
		if !opts.Watch || s.Scheduler == nil || (s.Scheduler.Error == "" && s.Scheduler.Jobs == 0) {
			return nil
		}
		interval = nextRefresh(interval, base, first || !statusEqual(s, last))
		last = s
		select {
		case <-ctx.Done():
			return nil
		case <-after(interval):
		}
	}
}

func printStatus(out io.Writer, name string, s storeStatus, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(out)
		return enc.Encode(s)
	}
	if len(s.Experiments) == 0 {
		fmt.Fprintf(out, "%s experiment %s in %s\n", time.Now().Format(time.TimeOnly), experimentName(s.Experiment, s.Version), s.Store)
	} else {
		fmt.Fprintf(out, "%s %d experiments in %s\n", time.Now().Format(time.TimeOnly), len(s.Experiments), s.Store)
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "experiment\tversion\truns\tcompleted\tfailed\tcancelled\trunning\tpending")
		for _, e := range s.Experiments {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\n", e.Experiment, e.Version, e.Total, e.Completed, e.Failed, e.Cancelled, e.Running, e.Pending)
		}
		tw.Flush()
	}
	fmt.Fprintf(out, "%d runs: %d completed, %d failed, %d cancelled, %d running, %d pending\n",
		s.Total, s.Completed, s.Failed, s.Cancelled, s.Running, s.Pending)
	for _, l := range statusNotes(name, s) {
		fmt.Fprintln(out, l)
	}
	return nil
}

// statusNotes are the lines of status after the counts: runs lost, runs
// of other code, the scheduler's queue and accounting.
func statusNotes(name string, s storeStatus) []string {
	var out []string
	if s.Interrupted > 0 {
		out = append(out, fmt.Sprintf("lost: %s left running by %s, which ended without recording %s; counted as pending ('%s collect --resubmit --store %s' runs them again)",
			nRuns(s.Interrupted), s.Writers, map[bool]string{true: "it", false: "them"}[s.Interrupted == 1], name, s.Store))
	}
	for _, c := range s.OtherCode {
		what := "other code"
		if len(c.Changed) > 0 {
			what = "a different " + joinAnd(c.Changed)
		}
		out = append(out, fmt.Sprintf("code: %s of %s came from %s than its latest sweep ran (code %s); '%s run --rerun-changed' (or submit) runs them again",
			nCompleted(c.Runs), experimentName(c.Experiment, c.Version), what, c.Code, name))
	}
	sc := s.Scheduler
	if sc == nil {
		return out
	}
	if sc.Error != "" {
		out = append(out, fmt.Sprintf("scheduler: not reachable (%s); runs of SLURM tasks are counted as running", firstLine(sc.Error)))
	} else {
		l := fmt.Sprintf("scheduler: %d jobs in the queue, %d array tasks running, %d pending", sc.Jobs, sc.TasksRunning, sc.TasksPending)
		if sc.TasksEnding > 0 {
			l += fmt.Sprintf(", %d ending", sc.TasksEnding)
		}
		out = append(out, l)
	}
	if acc := sc.Accounting; acc != nil {
		switch {
		case !acc.Enabled:
			out = append(out, "accounting: disabled on this cluster (no sacct); how tasks ended is known only from the store")
		case acc.Error != "":
			out = append(out, fmt.Sprintf("accounting: not reachable (%s)", firstLine(acc.Error)))
		default:
			var parts []string
			for _, k := range sortedKeys(boolKeys(acc.States)) {
				parts = append(parts, fmt.Sprintf("%d %s", acc.States[k], strings.ToLower(k)))
			}
			out = append(out, "accounting: tasks "+strings.Join(parts, ", "))
		}
	}
	return out
}

func boolKeys(m map[string]int) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}
