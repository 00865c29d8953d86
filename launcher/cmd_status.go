package launcher

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/metalab-hpc/metalab/store"
)

type statusOptions struct {
	Store    string
	JSON     bool
	Watch    bool
	Interval time.Duration
}

// storeStatus is what a store, and at most one scheduler call, say about a
// sweep.
type storeStatus struct {
	Experiment string `json:"experiment"`
	Version    string `json:"version"`
	Store      string `json:"store"`
	Total      int    `json:"total"`
	Completed  int    `json:"completed"`
	Failed     int    `json:"failed"`
	Cancelled  int    `json:"cancelled"`
	Running    int    `json:"running"`
	Pending    int    `json:"pending"`
	// Lost counts the runs whose records this status's collect found lost
	// to a damaged segment (see collect); they are counted as pending now.
	Lost      int              `json:"lost,omitempty"`
	Scheduler *schedulerStatus `json:"scheduler,omitempty"`
}

// schedulerStatus counts the array tasks of the store's submissions that the
// scheduler still holds.
type schedulerStatus struct {
	Jobs         int    `json:"jobs"`
	TasksPending int    `json:"tasks_pending"`
	TasksRunning int    `json:"tasks_running"`
	Error        string `json:"error,omitempty"`
	// Accounting, once no job is left in the queue: how the tasks ended,
	// from sacct, or a note that the cluster keeps no accounting.
	Accounting *accountingStatus `json:"accounting,omitempty"`
}

type accountingStatus struct {
	Enabled bool           `json:"enabled"`
	States  map[string]int `json:"task_states,omitempty"` // COMPLETED, FAILED, TIMEOUT, ...
	Error   string         `json:"error,omitempty"`
}

func (a *App) cmdStatus() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "count runs by status in a store, and the SLURM tasks still queued",
		Description: "Counts from the store first: completed, failed, cancelled, running (started, no end\n" +
			"record yet) and pending (never started). If the store has SLURM submissions, one\n" +
			"squeue call for all their jobs adds the tasks still pending or running. --watch\n" +
			"refreshes every --interval (at least 10 s), backing off while nothing changes, and\n" +
			"ends when no submitted job is left in the queue.\n\n" +
			"The counts come from a collect of the store's indexes, which also repairs the\n" +
			"damage that readers (results, summary) reported in the segments; status warns\n" +
			"on stderr when it finds runs whose records were lost to it.\n\n" +
			"EXAMPLES:\n" +
			"   metalab status --store runs/pi\n" +
			"   metalab status --store /scratch/$USER/sweep --watch\n" +
			"   metalab status --store runs/pi --json",
		Flags: []cli.Flag{
			storeFlag(),
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object (per refresh)"},
			&cli.BoolFlag{Name: "watch", Aliases: []string{"w"}, Usage: "refresh until the submitted jobs have left the queue"},
			&cli.DurationFlag{Name: "interval", Value: 10 * time.Second, Usage: "first refresh interval of --watch (at least 10s)"},
		},
		Action: func(c *cli.Context) error {
			return a.runStatus(c.Context, statusOptions{
				Store: c.String("store"), JSON: c.Bool("json"), Watch: c.Bool("watch"), Interval: c.Duration("interval"),
			}, a.Stdout)
		},
	}
}

func readStoreStatus(ctx context.Context, dir string) (storeStatus, error) {
	st, err := store.OpenExisting(dir)
	if err != nil {
		return storeStatus{}, err
	}
	defer st.Close()
	var s storeStatus
	s.Store = st.Dir()
	m, err := st.Manifest()
	if err != nil {
		return s, err
	}
	if m != nil {
		s.Experiment, s.Version = m.Experiment, m.Version
		var spec struct {
			Runs int `json:"runs"`
		}
		_ = json.Unmarshal(m.Spec, &spec)
		s.Total = spec.Runs
	}
	// Collect counts the runs by status in SQL; a Collect that finds
	// nothing new reuses the counts of the last one.
	rep, err := st.Collect(ctx)
	if err != nil {
		return s, err
	}
	s.Completed, s.Failed, s.Cancelled, s.Running = rep.Completed, rep.Failed, rep.Cancelled, rep.Running
	s.Lost = rep.Lost
	known := s.Completed + s.Failed + s.Cancelled + s.Running
	if s.Total < known {
		s.Total = known
	}
	s.Pending = s.Total - known
	return s, nil
}

// schedulerState asks the scheduler, in one squeue call, about the jobs of
// every submission in the store. nil: the store has no submission.
func (a *App) schedulerState(ctx context.Context, dir string) *schedulerStatus {
	subs, err := listSubmissions(dir)
	if err != nil || len(subs) == 0 {
		return nil
	}
	var ids []string
	for _, s := range subs {
		ids = append(ids, s.JobIDs()...)
	}
	if len(ids) == 0 {
		return nil
	}
	ss := &schedulerStatus{}
	jobs, err := a.slurmClient().Queue(ctx, ids)
	if err != nil {
		ss.Error = err.Error()
		return ss
	}
	seen := map[string]bool{}
	for _, j := range jobs {
		if j.State.Finished() {
			continue
		}
		seen[j.ArrayJobID] = true
		n := 1
		if j.IsArray() {
			n = len(j.ArrayTasks)
		}
		if j.State == "RUNNING" || j.State == "COMPLETING" || j.State == "CONFIGURING" {
			ss.TasksRunning += n
		} else {
			ss.TasksPending += n
		}
	}
	ss.Jobs = len(seen)
	if ss.Jobs == 0 {
		ss.Accounting = a.accountingState(ctx, ids)
	}
	return ss
}

// accountingState asks sacct, once, how the tasks of jobs that have left
// the queue ended. Without accounting (no slurmdbd) it says so.
func (a *App) accountingState(ctx context.Context, ids []string) *accountingStatus {
	recs, ok, err := a.slurmClient().Accounting(ctx, ids)
	switch {
	case err != nil:
		return &accountingStatus{Enabled: true, Error: err.Error()}
	case !ok:
		return &accountingStatus{Enabled: false}
	}
	acc := &accountingStatus{Enabled: true, States: map[string]int{}}
	for _, r := range recs {
		if r.Step != "" {
			continue
		}
		acc.States[string(r.State)] += max(len(r.ArrayTasks), 1)
	}
	return acc
}

func (a *App) runStatus(ctx context.Context, opts statusOptions, out io.Writer) error {
	interval := max(opts.Interval, 10*time.Second)
	var last storeStatus
	for first := true; ; first = false {
		s, err := readStoreStatus(ctx, opts.Store)
		if err != nil {
			return err
		}
		warnLost(a.Stderr, a.Name, opts.Store, s.Lost)
		s.Scheduler = a.schedulerState(ctx, opts.Store)
		if err := printStatus(out, s, opts.JSON); err != nil {
			return err
		}
		if !opts.Watch || s.Scheduler == nil || (s.Scheduler.Error == "" && s.Scheduler.Jobs == 0) {
			return nil
		}
		// Back off while nothing changes: a sweep of days needs no refresh
		// every 10 s, and every refresh costs the scheduler a call.
		if !first && statusEqual(s, last) {
			interval = min(interval*3/2, 5*time.Minute)
		} else {
			interval = max(opts.Interval, 10*time.Second)
		}
		last = s
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}

func statusEqual(a, b storeStatus) bool {
	if (a.Scheduler == nil) != (b.Scheduler == nil) {
		return false
	}
	if a.Scheduler != nil && *a.Scheduler != *b.Scheduler {
		return false
	}
	a.Scheduler, b.Scheduler = nil, nil
	return a == b
}

func printStatus(out io.Writer, s storeStatus, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(out)
		return enc.Encode(s)
	}
	fmt.Fprintf(out, "%s experiment %s (version %s) in %s\n", time.Now().Format(time.TimeOnly), s.Experiment, s.Version, s.Store)
	fmt.Fprintf(out, "%d runs: %d completed, %d failed, %d cancelled, %d running, %d pending\n",
		s.Total, s.Completed, s.Failed, s.Cancelled, s.Running, s.Pending)
	if sc := s.Scheduler; sc != nil {
		if sc.Error != "" {
			fmt.Fprintf(out, "scheduler: not reachable (%s)\n", firstLine(sc.Error))
		} else {
			fmt.Fprintf(out, "scheduler: %d jobs in the queue, %d array tasks running, %d pending\n",
				sc.Jobs, sc.TasksRunning, sc.TasksPending)
		}
		if acc := sc.Accounting; acc != nil {
			switch {
			case !acc.Enabled:
				fmt.Fprintln(out, "accounting: disabled on this cluster (no sacct); how tasks ended is known only from the store")
			case acc.Error != "":
				fmt.Fprintf(out, "accounting: not reachable (%s)\n", firstLine(acc.Error))
			default:
				var parts []string
				for _, k := range sortedKeys(boolKeys(acc.States)) {
					parts = append(parts, fmt.Sprintf("%d %s", acc.States[k], strings.ToLower(k)))
				}
				fmt.Fprintf(out, "accounting: tasks %s\n", strings.Join(parts, ", "))
			}
		}
	}
	return nil
}

func boolKeys(m map[string]int) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}
