package launcher

import (
	"context"

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
}

// collectResult is what collect reports.
type collectResult struct {
	store.CollectReport
	Planned      int      `json:"planned"`
	MissingIDs   []string `json:"missing_ids,omitempty"` // not completed nor failed: never run, cancelled, or cut off
	FailedIDs    []string `json:"failed_ids,omitempty"`
	ExhaustedIDs []string `json:"exhausted_ids,omitempty"` // failed --max-failures times: not resubmitted
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
	re := &resubmission{Target: target}
	res.Planned = plan.Len()
	res.MissingIDs, res.FailedIDs, res.ExhaustedIDs, re.Only = selectResubmit(plan, statuses, failures, limit)
	return res, re, nil
}

// selectResubmit sorts the runs of the plan that are not completed: those
// missing (no record, or cancelled, or still running), those failed, and
// among these those that failed maxFailures times or more. It returns their
// run IDs, and the plan indexes of the missing and failed runs that are not
// exhausted, once per run ID.
func selectResubmit(plan *Plan, statuses map[string]store.Status, failures map[string]int, maxFailures int) (missing, failed, exhausted []string, only []int) {
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
	return missing, failed, exhausted, only
}
