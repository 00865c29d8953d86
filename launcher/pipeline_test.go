package launcher

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/seeds"
	"github.com/metalab-hpc/metalab/store"
)

// pipelineOp is a Pipeliner: each run waits before it begins (as a run
// waits for the one ahead of it in a persistent process), and the runs in
// skip never begin.
type pipelineOp struct {
	depth  int
	before time.Duration // waited before Begin
	during time.Duration // waited after Begin
	skip   map[int]bool

	mu      sync.Mutex
	perSlot map[int]int // Execute calls at once, by slot
	most    atomic.Int32
}

func (o *pipelineOp) Pipeline() int { return o.depth }

func (o *pipelineOp) Execute(ctx context.Context, rt *Runtime) error {
	o.mu.Lock()
	o.perSlot[rt.Slot]++
	if n := int32(o.perSlot[rt.Slot]); n > o.most.Load() {
		o.most.Store(n)
	}
	o.mu.Unlock()
	defer func() {
		o.mu.Lock()
		o.perSlot[rt.Slot]--
		o.mu.Unlock()
	}()
	time.Sleep(o.before)
	if o.skip[int(rt.Params.Int("i"))] {
		return errors.New("never began")
	}
	if err := rt.Begin(); err != nil {
		return err
	}
	select {
	case <-time.After(o.during):
		rt.Capture.Metric("i", float64(rt.Params.Int("i")))
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// TestPipeliner: a Pipeliner's slot holds Pipeline() runs at once; a run's
// timeout and start time count from Begin, not from the time it waited
// before; a run that never began has no record and is still to do.
func TestPipeliner(t *testing.T) {
	for _, tc := range []struct {
		name            string
		op              *pipelineOp
		timeout         time.Duration
		wantCompleted   int
		wantFailed      int
		wantRecords     int
		wantMostPerSlot int32
	}{
		{name: "waits do not count against the timeout",
			op:      &pipelineOp{depth: 3, before: 600 * time.Millisecond, during: 10 * time.Millisecond},
			timeout: 400 * time.Millisecond, wantCompleted: 6, wantRecords: 6, wantMostPerSlot: 3},
		{name: "the timeout counts from Begin",
			op:      &pipelineOp{depth: 2, during: 2 * time.Second},
			timeout: 100 * time.Millisecond, wantFailed: 6, wantRecords: 6, wantMostPerSlot: 2},
		{name: "runs that never begin are not recorded",
			op:            &pipelineOp{depth: 2, before: 50 * time.Millisecond, skip: map[int]bool{1: true, 4: true}},
			wantCompleted: 4, wantRecords: 4, wantMostPerSlot: 2},
		{name: "depth 1 is an ordinary operation",
			op:            &pipelineOp{depth: 1},
			wantCompleted: 6, wantRecords: 6, wantMostPerSlot: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.op.perSlot = map[int]int{}
			cases := make(params.Cases, 6)
			for i := range cases {
				cases[i] = params.Point{"i": i}
			}
			exp := Experiment{Name: "p", Version: "1", Operation: tc.op, Params: cases, Seeds: seeds.New(1, 1), Timeout: tc.timeout}
			start := time.Now()
			h, res, err := runSweep(t, exp, WithStore(t.TempDir()), WithWorkers(1))
			if err != nil {
				t.Fatalf("Result: %v", err)
			}
			s := h.Status()
			if got, want := s.Completed, tc.wantCompleted; got != want {
				t.Errorf("completed=%d, want %d (%+v)", got, want, s)
			}
			if got, want := s.Failed, tc.wantFailed; got != want {
				t.Errorf("failed=%d, want %d (%+v)", got, want, s)
			}
			if got, want := res.Len(), tc.wantRecords; got != want {
				t.Errorf("records=%d, want %d", got, want)
			}
			if got, want := tc.op.most.Load(), tc.wantMostPerSlot; got != want {
				t.Errorf("at most %d runs at once in the slot, want %d", got, want)
			}
			for r := range res.All() {
				if r.Status == store.StatusCompleted && r.Metrics["i"] != float64(r.Params.Int("i")) {
					t.Errorf("run %v: metric i=%v", r.Params, r.Metrics["i"])
				}
				if d := r.Ended.Sub(r.Started); tc.op.before > 0 && d >= tc.op.before {
					t.Errorf("run %v: %v from start to end, want its own time only (it waited %v before it began)", r.Params, d, tc.op.before)
				}
				if r.Started.Before(start) {
					t.Errorf("run %v started %v, before the sweep", r.Params, r.Started)
				}
			}
		})
	}
}

// TestPipelinerStopped: once the sweep starts no more runs (here: it is
// cancelled), a run that has not begun may not: Begin says so, and the
// run has no record and stays to do.
func TestPipelinerStopped(t *testing.T) {
	op := &pipelineOp{depth: 4, before: 500 * time.Millisecond, perSlot: map[int]int{}}
	cases := make(params.Cases, 8)
	for i := range cases {
		cases[i] = params.Point{"i": i}
	}
	ctx, cancel := context.WithCancel(context.Background())
	exp := Experiment{Name: "p", Version: "1", Operation: op, Params: cases, Seeds: seeds.New(1, 1)}
	h, err := Run(ctx, exp, append(quiet(), WithStore(t.TempDir()), WithWorkers(1))...)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	cancel()
	res, _ := h.Result()
	s := h.Status()
	if got := s.Completed + s.Failed + s.Cancelled; got != 0 {
		t.Errorf("%d runs ended, want none: none had begun when the sweep was cancelled (%+v)", got, s)
	}
	if got := res.Len(); got != 0 {
		t.Errorf("%d records, want none", got)
	}
}
