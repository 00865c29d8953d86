package launcher

import (
	"context"

	"github.com/metalab-hpc/metalab/slurm"
	"github.com/metalab-hpc/metalab/store"
)

// collectRequest is a collect of a store.
type collectRequest struct {
	Store string
	// Verify reads every segment in full, for damage no reader met.
	Verify bool
	// Target names the experiment whose plan the store is checked against;
	// "" means that of the store's latest submission, and no check when
	// the store has none.
	Target string
	// Experiment loads a target.
	Experiment func(target string) (*Experiment, error)
	// MaxFailures leaves out of the resubmission the runs that failed this
	// often (immediate retries included); 0 means 3 x (1 + retries), three
	// submissions' worth of attempts.
	MaxFailures int
	// Client asks the scheduler which tasks still run, when the store has
	// runs it records as running.
	Client *slurm.Client
}

// collectResult is what collect reports.
type collectResult struct {
	store.CollectReport
	// Experiment is the experiment whose plan was checked, as commands
	// name it (NAME@VERSION): a store holds several.
	Experiment   string   `json:"experiment,omitempty"`
	Planned      int      `json:"planned"`
	MissingIDs   []string `json:"missing_ids,omitempty"` // not completed nor failed: never run, cancelled, or cut off
	FailedIDs    []string `json:"failed_ids,omitempty"`
	ExhaustedIDs []string `json:"exhausted_ids,omitempty"` // failed --max-failures times: not resubmitted
	// RunningIDs are running in a task or process that is still at work;
	// LostIDs (among MissingIDs) were left running by one that is gone.
	RunningIDs []string `json:"running_ids,omitempty"`
	LostIDs    []string `json:"lost_ids,omitempty"`
	// Writers names the writers of the lost runs; QueueError says why
	// the scheduler could not tell which tasks still run.
	Writers    string `json:"lost_writers,omitempty"`
	QueueError string `json:"queue_error,omitempty"`
}

// incomplete is how many runs of the plan are not completed.
func (r collectResult) incomplete() int {
	return len(r.MissingIDs) + len(r.FailedIDs) + len(r.RunningIDs)
}

// resubmission is what collect --resubmit submits.
type resubmission struct {
	Target string
	// Only are the plan indexes of the runs missing, or failed less than
	// the limit.
	Only []int
}

// collectRuns merges the node indexes of the store into its index (or,
// with Verify, re-reads every segment) and, when it knows the experiment,
// sorts the runs of its plan that are not completed into missing, failed
// and failed too often. The resubmission is nil when no experiment is
// known.
func collectRuns(ctx context.Context, req collectRequest) (collectResult, *resubmission, error) {
	st, err := store.OpenExisting(req.Store)
	if err != nil {
		return collectResult{}, nil, err
	}
	defer st.Close()
	collect := st.Collect
	if req.Verify {
		collect = st.Verify
	}
	rep, err := collect(ctx)
	if err != nil {
		return collectResult{}, nil, err
	}
	res := collectResult{CollectReport: rep}
	target := req.Target
	if target == "" {
		subs, err := listSubmissions(st.Dir())
		if err != nil {
			return collectResult{}, nil, err
		}
		if len(subs) > 0 {
			target = subs[len(subs)-1].Target
		}
	}
	if target == "" {
		return res, nil, nil
	}
	exp, err := req.Experiment(target)
	if err != nil {
		return collectResult{}, nil, err
	}
	plan, err := NewPlan(exp)
	if err != nil {
		return collectResult{}, nil, err
	}
	statuses, err := st.Statuses()
	if err != nil {
		return collectResult{}, nil, err
	}
	failures, err := st.FailedAttempts()
	if err != nil {
		return collectResult{}, nil, err
	}
	limit := req.MaxFailures
	if limit <= 0 {
		limit = 3 * (1 + exp.Retries)
	}
	live := map[string]bool{}
	if rep.Running > 0 {
		if live, err = liveRunning(ctx, st, req.Client, statuses, &res); err != nil {
			return collectResult{}, nil, err
		}
	}
	re := &resubmission{Target: target}
	res.Planned = plan.Len()
	res.Experiment = shownRef(exp.Name, exp.Version)
	res.MissingIDs, res.FailedIDs, res.ExhaustedIDs, res.RunningIDs, re.Only = selectResubmit(plan, statuses, failures, limit, live)
	return res, re, nil
}

// liveRunning tells which of the runs the store has as running are still
// at work, asking the scheduler once if the store has submissions, and
// notes in res those that are lost.
func liveRunning(ctx context.Context, st *store.Store, client *slurm.Client, statuses map[string]store.Status, res *collectResult) (map[string]bool, error) {
	subs, err := listSubmissions(st.Dir())
	if err != nil {
		return nil, err
	}
	var jobs []ownedJob
	queueKnown := true
	if len(subs) > 0 && client != nil {
		m, err := st.Manifest()
		if err != nil {
			return nil, err
		}
		if jobs, err = queuedJobs(ctx, client, m.StoreID(), subs); err != nil {
			res.QueueError, queueKnown = err.Error(), false
		}
	}
	lost, err := lostRuns(st, jobs, queueKnown)
	if err != nil {
		return nil, err
	}
	gone := map[string]bool{}
	for _, l := range lost {
		gone[l.RunID] = true
		res.LostIDs = append(res.LostIDs, l.RunID)
	}
	res.Writers = writers(lost, 5)
	live := map[string]bool{}
	for id, s := range statuses {
		if s == store.StatusRunning && !gone[id] {
			live[id] = true
		}
	}
	return live, nil
}

// selectResubmit sorts the runs of the plan that are not completed: those
// still running (in live), those missing (no record, cancelled, or left
// running by a writer that is gone), those failed, and among these those
// that failed maxFailures times or more. It returns their run IDs, and the
// plan indexes of the missing and failed runs that are not exhausted, once
// per run ID.
func selectResubmit(plan *Plan, statuses map[string]store.Status, failures map[string]int, maxFailures int, live map[string]bool) (missing, failed, exhausted, running []string, only []int) {
	seen := make(map[string]bool, plan.Len())
	for i := 0; i < plan.Len(); i++ {
		id := plan.At(i).ID
		if seen[id] {
			continue
		}
		seen[id] = true
		switch statuses[id] {
		case store.StatusCompleted:
			continue
		case store.StatusRunning:
			if live[id] {
				running = append(running, id)
				continue
			}
			missing = append(missing, id)
		case store.StatusFailed:
			failed = append(failed, id)
			if failures[id] >= maxFailures {
				exhausted = append(exhausted, id)
				continue
			}
		default:
			missing = append(missing, id)
		}
		only = append(only, i)
	}
	return missing, failed, exhausted, running, only
}
