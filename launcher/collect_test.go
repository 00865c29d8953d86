package launcher

import (
	"slices"
	"testing"

	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/seeds"
	"github.com/metalab-hpc/metalab/store"
)

func TestSelectResubmit(t *testing.T) {
	exp := Experiment{Name: "sel", Version: "1", Seeds: seeds.New(1, 1), Params: params.Grid{"x": seqAny(4)}, Operation: Op(func() {})}
	plan, err := NewPlan(&exp)
	if err != nil {
		t.Fatal(err)
	}
	id := func(i int) string { return plan.At(i).ID }
	tests := []struct {
		name     string
		statuses map[int]store.Status
		failures map[int]int
		limit    int
		live     []int // running in a task still at work
		missing  []int // plan indexes
		failed   []int
		exhaust  []int
		running  []int
		only     []int
	}{
		{name: "nothing ran", limit: 3, missing: []int{0, 1, 2, 3}, only: []int{0, 1, 2, 3}},
		{name: "all completed", limit: 3,
			statuses: map[int]store.Status{0: store.StatusCompleted, 1: store.StatusCompleted, 2: store.StatusCompleted, 3: store.StatusCompleted}},
		{name: "cancelled and lost are missing", limit: 3,
			statuses: map[int]store.Status{0: store.StatusCompleted, 1: store.StatusCancelled, 2: store.StatusRunning, 3: store.StatusCompleted},
			missing:  []int{1, 2}, only: []int{1, 2}},
		{name: "running in a live task is not resubmitted", limit: 3, live: []int{2},
			statuses: map[int]store.Status{0: store.StatusRunning, 1: store.StatusCancelled, 2: store.StatusRunning, 3: store.StatusCompleted},
			missing:  []int{0, 1}, running: []int{2}, only: []int{0, 1}},
		{name: "failed below the limit", limit: 3,
			statuses: map[int]store.Status{0: store.StatusFailed, 1: store.StatusCompleted, 2: store.StatusCompleted, 3: store.StatusCompleted},
			failures: map[int]int{0: 2},
			failed:   []int{0}, only: []int{0}},
		{name: "failed at the limit", limit: 3,
			statuses: map[int]store.Status{0: store.StatusFailed, 1: store.StatusFailed, 2: store.StatusCompleted},
			failures: map[int]int{0: 3, 1: 1},
			missing:  []int{3}, failed: []int{0, 1}, exhaust: []int{0}, only: []int{1, 3}},
	}
	ids := func(idx []int) []string {
		var out []string
		for _, i := range idx {
			out = append(out, id(i))
		}
		return out
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			statuses := map[string]store.Status{}
			for i, s := range tt.statuses {
				statuses[id(i)] = s
			}
			failures := map[string]int{}
			for i, n := range tt.failures {
				failures[id(i)] = n
			}
			live := map[string]bool{}
			for _, i := range tt.live {
				live[id(i)] = true
			}
			missing, failed, exhausted, running, only := selectResubmit(plan, statuses, failures, tt.limit, live)
			if got, want := running, ids(tt.running); !slices.Equal(got, want) {
				t.Errorf("running=%v, want %v", got, want)
			}
			if got, want := missing, ids(tt.missing); !slices.Equal(got, want) {
				t.Errorf("missing=%v, want %v", got, want)
			}
			if got, want := failed, ids(tt.failed); !slices.Equal(got, want) {
				t.Errorf("failed=%v, want %v", got, want)
			}
			if got, want := exhausted, ids(tt.exhaust); !slices.Equal(got, want) {
				t.Errorf("exhausted=%v, want %v", got, want)
			}
			if got, want := only, tt.only; !slices.Equal(got, want) {
				t.Errorf("only=%v, want %v", got, want)
			}
		})
	}
}
