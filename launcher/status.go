package launcher

import (
	"context"
	"encoding/json"
	"time"

	"github.com/metalab-hpc/metalab/slurm"
	"github.com/metalab-hpc/metalab/store"
)

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

// readStatus is what the store says of its sweep, and at most one squeue
// call (or, once no job is left in the queue, one sacct call) of its
// submissions.
func readStatus(ctx context.Context, dir string, client *slurm.Client) (storeStatus, error) {
	s, err := readStoreStatus(ctx, dir)
	if err != nil {
		return s, err
	}
	s.Scheduler = schedulerState(ctx, client, dir)
	return s, nil
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
func schedulerState(ctx context.Context, client *slurm.Client, dir string) *schedulerStatus {
	subs, err := listSubmissions(dir)
	if err != nil || len(subs) == 0 {
		return nil
	}
	ids := jobIDs(subs, "")
	if len(ids) == 0 {
		return nil
	}
	ss := &schedulerStatus{}
	jobs, err := client.Queue(ctx, ids)
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
		ss.Accounting = accountingState(ctx, client, ids)
	}
	return ss
}

// accountingState asks sacct, once, how the tasks of jobs that have left
// the queue ended. Without accounting (no slurmdbd) it says so.
func accountingState(ctx context.Context, client *slurm.Client, ids []string) *accountingStatus {
	recs, ok, err := client.Accounting(ctx, ids)
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
