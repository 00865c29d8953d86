package launcher

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/metalab-hpc/metalab/slurm"
	"github.com/metalab-hpc/metalab/store"
)

// storeStatus is what a store, and at most one scheduler call, say about a
// sweep.
type storeStatus struct {
	// The counts of the store's runs, of its one experiment version (or
	// the one --experiment picks), or their sums (see Experiments).
	experimentStatus
	Store string `json:"store"`
	// Lost counts the runs whose records this status's collect found lost
	// to a damaged segment (see collect); they are counted as pending now.
	Lost int `json:"lost,omitempty"`
	// Interrupted counts the runs the store has as running whose writer
	// is gone (see reconcile.go): a SLURM task no longer running, a local
	// process no longer holding the store. They are counted as pending,
	// not running; Writers names the writers.
	Interrupted int              `json:"interrupted,omitempty"`
	Writers     string           `json:"interrupted_writers,omitempty"`
	Scheduler   *schedulerStatus `json:"scheduler,omitempty"`
	// Experiments counts the runs of each experiment version, when the
	// store holds more than one (and --experiment picks more than one);
	// the counts above are their sums, and Experiment and Version empty.
	Experiments []experimentStatus `json:"experiments,omitempty"`
	// OtherCode counts, per experiment version, the completed runs whose
	// records came from other code than its latest sweep or submit ran.
	OtherCode []otherCode `json:"other_code,omitempty"`
}

// otherCode counts the completed runs of an experiment version that came
// from other code than its latest sweep's (Code), and names what differs.
type otherCode struct {
	Experiment string   `json:"experiment"`
	Version    string   `json:"version"`
	Runs       int      `json:"runs"`
	Code       string   `json:"code"`
	Changed    []string `json:"changed,omitempty"`
}

// experimentStatus counts the runs of one experiment version. Total is the
// runs of its latest plan and those the store keeps from earlier ones;
// Pending are those of the plan without a record.
type experimentStatus struct {
	Experiment string `json:"experiment"`
	Version    string `json:"version"`
	Total      int    `json:"total"`
	Completed  int    `json:"completed"`
	Failed     int    `json:"failed"`
	Cancelled  int    `json:"cancelled"`
	Running    int    `json:"running"`
	Pending    int    `json:"pending"`
}

// schedulerStatus counts the array tasks of the store's submissions that the
// scheduler still holds.
type schedulerStatus struct {
	Jobs         int `json:"jobs"`
	TasksPending int `json:"tasks_pending"`
	TasksRunning int `json:"tasks_running"`
	// TasksEnding counts tasks in COMPLETING: their batch script has
	// ended and SLURM is cleaning up after them; not running.
	TasksEnding int    `json:"tasks_ending,omitempty"`
	Error       string `json:"error,omitempty"`
	// Accounting, once no job is left in the queue: how the tasks ended,
	// from sacct, or a note that the cluster keeps no accounting.
	Accounting *accountingStatus `json:"accounting,omitempty"`
}

type accountingStatus struct {
	Enabled bool           `json:"enabled"`
	States  map[string]int `json:"task_states,omitempty"` // COMPLETED, FAILED, TIMEOUT, ...
	Error   string         `json:"error,omitempty"`
}

// readStatus is what the store says of its sweeps (of the experiment that
// spec names, --experiment; "": all), with the runs it has as running whose writer is gone
// counted as pending, and at most one squeue call (or, once no job is left
// in the queue, one sacct call) of its submissions' jobs.
func readStatus(ctx context.Context, dir, spec, prog string, client *slurm.Client) (storeStatus, error) {
	st, err := store.OpenExisting(dir)
	if err != nil {
		return storeStatus{}, err
	}
	defer st.Close()
	only, err := storeExperiment(st, spec, prog)
	if err != nil {
		return storeStatus{}, err
	}
	s, m, err := readStoreStatus(ctx, st, only)
	if err != nil {
		return s, err
	}
	if s.OtherCode, err = readOtherCode(st, only); err != nil {
		return s, err
	}
	all, err := listSubmissions(dir)
	if err != nil {
		return s, err
	}
	var subs []*Submission
	for _, sub := range all {
		if only.picks(sub.Experiment, sub.Version) {
			subs = append(subs, sub)
		}
	}
	var jobs []ownedJob
	queueKnown := true
	if len(subs) > 0 {
		s.Scheduler = &schedulerStatus{}
		storeID := ""
		if m != nil {
			storeID = m.StoreID()
		}
		jobs, err = queuedJobs(ctx, client, storeID, subs)
		if err != nil {
			s.Scheduler.Error = err.Error()
			queueKnown = false
		}
		schedulerCounts(s.Scheduler, jobs)
		if queueKnown && s.Scheduler.Jobs == 0 {
			s.Scheduler.Accounting = accountingState(ctx, client, subs)
		}
	}
	if s.Running > 0 {
		all, err := lostRuns(st, jobs, queueKnown)
		if err != nil {
			return s, err
		}
		var lost []lostRun
		for _, l := range all {
			if only.picks(l.Experiment, l.Version) {
				lost = append(lost, l)
			}
		}
		s.Interrupted, s.Writers = len(lost), writers(lost, 5)
		s.Running -= len(lost)
		s.Pending += len(lost)
		for _, l := range lost {
			for i := range s.Experiments {
				if e := &s.Experiments[i]; e.Experiment == l.Experiment && e.Version == l.Version {
					e.Running--
					e.Pending++
				}
			}
		}
	}
	return s, nil
}

// readStoreStatus counts the store's runs by the status of their records,
// of the experiments that only picks: in a store of one experiment, from
// the counts of the store index; in one of several, by reading the
// experiment of every run's record.
func readStoreStatus(ctx context.Context, st *store.Store, only experimentFilter) (storeStatus, *store.Manifest, error) {
	var s storeStatus
	s.Store = st.Dir()
	m, err := st.Manifest()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return s, nil, err
	}
	// Collect counts the runs by status in SQL; a Collect that finds
	// nothing new reuses the counts of the last one.
	rep, err := st.Collect(ctx)
	if err != nil {
		return s, m, err
	}
	s.Lost = rep.Lost
	exps, err := st.Experiments()
	if err != nil {
		return s, m, err
	}
	if len(exps) <= 1 {
		if len(exps) == 1 {
			e := exps[0]
			s.Experiment, s.Version, s.Total = e.Name, e.Version, e.Plan.Runs+e.Plan.Outside
		}
		s.Completed, s.Failed, s.Cancelled, s.Running = rep.Completed, rep.Failed, rep.Cancelled, rep.Running
		known := s.Completed + s.Failed + s.Cancelled + s.Running
		s.Total = max(s.Total, known)
		s.Pending = s.Total - known
		return s, m, nil
	}
	counts, err := st.CountByExperiment()
	if err != nil && !errors.As(err, new(*store.DamageError)) {
		return s, m, err
	}
	var rows []experimentStatus
	for _, e := range exps {
		c := counts[e.Ref()]
		delete(counts, e.Ref())
		if c == nil {
			c = &store.Counts{}
		}
		rows = append(rows, experimentRow(e.Name, e.Version, e.Plan.Runs+e.Plan.Outside, c))
	}
	// Runs of an experiment the store has no record of: none that this
	// metalab wrote, but counted rather than lost.
	for _, ref := range slices.Sorted(maps.Keys(counts)) {
		name, version, _ := cutLast(ref, "@")
		rows = append(rows, experimentRow(name, version, 0, counts[ref]))
	}
	for _, r := range rows {
		if !only.picks(r.Experiment, r.Version) {
			continue
		}
		s.Experiments = append(s.Experiments, r)
		s.add(r)
	}
	if len(s.Experiments) == 1 {
		s.Experiment, s.Version = s.Experiments[0].Experiment, s.Experiments[0].Version
		s.Experiments = nil
	}
	return s, m, nil
}

// readOtherCode counts the completed runs of each experiment that only
// picks whose code is not the one its latest sweep recorded. Only the
// records of an experiment the store has seen other code of are read.
func readOtherCode(st *store.Store, only experimentFilter) ([]otherCode, error) {
	exps, err := st.Experiments()
	if err != nil {
		return nil, err
	}
	var out []otherCode
	for _, e := range exps {
		if !only.picks(e.Name, e.Version) || e.Code == "" || len(e.Codes) < 2 {
			continue
		}
		by := map[string]int{}
		err := st.CompletedCodes(e.Name, e.Version, func(_, code string) {
			if code != "" && code != e.Code {
				by[code]++
			}
		})
		if err != nil && !errors.As(err, new(*store.DamageError)) {
			return nil, err
		}
		if n := sumCounts(by); n > 0 {
			out = append(out, otherCode{Experiment: e.Name, Version: e.Version, Runs: n, Code: e.Code,
				Changed: changedParts(by, e.Codes, e.Codes[e.Code])})
		}
	}
	return out, nil
}

func experimentRow(name, version string, planned int, c *store.Counts) experimentStatus {
	r := experimentStatus{Experiment: name, Version: version,
		Completed: c.Completed, Failed: c.Failed, Cancelled: c.Cancelled, Running: c.Running}
	r.Total = max(planned, c.Runs())
	r.Pending = r.Total - c.Runs()
	return r
}

// add adds the counts of r.
func (s *experimentStatus) add(r experimentStatus) {
	s.Total += r.Total
	s.Completed += r.Completed
	s.Failed += r.Failed
	s.Cancelled += r.Cancelled
	s.Running += r.Running
	s.Pending += r.Pending
}

// cutLast cuts s around the last sep.
func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// schedulerCounts counts the store's jobs in the queue and their tasks.
func schedulerCounts(ss *schedulerStatus, jobs []ownedJob) {
	seen := map[string]bool{}
	for _, j := range jobs {
		seen[j.ArrayJobID] = true
		switch n := tasks(j.JobState); j.State {
		case slurm.StateCompleting:
			ss.TasksEnding += n
		case slurm.StatePending:
			ss.TasksPending += n
		default:
			if alive(j.State) {
				ss.TasksRunning += n
			} else {
				ss.TasksPending += n // requeued, held: waiting to run
			}
		}
	}
	ss.Jobs = len(seen)
}

// accountingState asks sacct, once, how the tasks of the submissions' jobs
// that have left the queue ended: only jobs of their names, and none that
// started before the first of them was made (a recycled job ID). Without
// accounting (no slurmdbd) it says so.
func accountingState(ctx context.Context, client *slurm.Client, subs []*Submission) *accountingStatus {
	ids := jobIDs(subs, "")
	if len(ids) == 0 {
		return nil
	}
	recs, ok, err := client.Accounting(ctx, ids, jobNames(subs)...)
	switch {
	case err != nil:
		return &accountingStatus{Enabled: true, Error: err.Error()}
	case !ok:
		return &accountingStatus{Enabled: false}
	}
	first := subs[0].Created
	for _, s := range subs {
		if s.Created.Before(first) {
			first = s.Created
		}
	}
	acc := &accountingStatus{Enabled: true, States: map[string]int{}}
	for _, r := range recs {
		if r.Step != "" || !r.Start.IsZero() && r.Start.Before(first.Add(-submitSkew)) {
			continue
		}
		acc.States[string(r.State)] += max(len(r.ArrayTasks), 1)
	}
	return acc
}

// statusEqual compares two statuses by value.
func statusEqual(a, b storeStatus) bool { return reflect.DeepEqual(a, b) }

// nextRefresh is how long status --watch waits after a refresh: base while
// the status changes, half as long again as the last wait while it does
// not, up to 5 minutes. A sweep of days needs no refresh every 10 s, and
// every refresh costs the scheduler a call.
func nextRefresh(last, base time.Duration, changed bool) time.Duration {
	if changed {
		return base
	}
	return min(last*3/2, 5*time.Minute)
}
