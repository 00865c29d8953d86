package launcher

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/metalab-hpc/metalab/store"
)

// Pipeliner is an [Operation] that takes a worker slot's next runs before
// the one it is running ends, so that the worker it hands them to (a
// persistent command's process) finds the next run waiting when it ends
// the last, instead of a round trip between runs.
//
// The launcher then gives each worker slot up to Pipeline() runs at once,
// in concurrent Execute calls that share [Runtime.Slot]. The operation
// still runs them one at a time, and calls [Runtime.Begin] when each
// starts. Until then the run has neither record nor clock: its start
// record is written, and its timeout starts, at Begin. A run whose Execute
// returns without Begin having been called is neither recorded nor
// counted: like a run never dispatched, it is still to do. An error that
// should fail the run must therefore come after Begin.
type Pipeliner interface {
	Operation
	// Pipeline is how many runs each worker slot may hold at once; 1 or
	// less means one, as for any Operation.
	Pipeline() int
}

// pipeline is how many runs op may hold per worker slot.
func pipeline(op Operation) int {
	if p, ok := op.(Pipeliner); ok {
		return max(1, p.Pipeline())
	}
	return 1
}

// Begin tells the launcher that the run starts now: its start record is
// written, and its timeout starts. Only a [Pipeliner] needs to call it
// (once a run; later calls return the first's error); for other
// operations the run began before Execute was called. After an error the
// run must not start: either the sweep starts no more runs (it was
// cancelled, or it is near its time limit: [ErrNoMoreRuns]), and the run
// is still to do, or the store cannot record it, and the sweep stops.
func (rt *Runtime) Begin() error {
	if rt.clock == nil {
		return nil
	}
	return rt.clock.begin()
}

// runClock starts a pipelined run when its operation says it begins.
type runClock struct {
	x      *executor
	rec    *store.Record
	cancel context.CancelCauseFunc

	mu    sync.Mutex
	begun bool
	err   error
	timer *time.Timer
}

// startRun writes rec's start record and returns the run's context, which
// its timeout ends. For a pipelined operation both wait for
// [Runtime.Begin], through the returned clock.
func (x *executor) startRun(ctx context.Context, rec *store.Record) (context.Context, context.CancelFunc, *runClock, error) {
	if x.depth <= 1 {
		rec.Started = x.now()
		if err := x.w.Append(rec); err != nil {
			return nil, nil, nil, err
		}
		if x.exp.Timeout > 0 {
			runCtx, cancel := context.WithTimeoutCause(ctx, x.exp.Timeout, errTimeout)
			return runCtx, cancel, nil, nil
		}
		return ctx, func() {}, nil, nil
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	c := &runClock{x: x, rec: rec, cancel: cancel}
	return runCtx, c.stop, c, nil
}

// ErrNoMoreRuns is [Runtime.Begin]'s answer once the sweep starts no more
// runs.
var ErrNoMoreRuns = errors.New("the sweep starts no more runs")

func (c *runClock) begin() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.begun || c.err != nil {
		return c.err
	}
	if c.x.noBegin.Load() {
		c.err = ErrNoMoreRuns
		return c.err
	}
	c.begun = true
	c.x.h.running.Add(1)
	c.rec.Started = c.x.now()
	if c.err = c.x.w.Append(c.rec); c.err != nil {
		return c.err
	}
	if t := c.x.exp.Timeout; t > 0 {
		c.timer = time.AfterFunc(t, func() { c.cancel(errTimeout) })
	}
	return nil
}

// stop ends the run's context once the operation has returned.
func (c *runClock) stop() {
	c.mu.Lock()
	if c.timer != nil {
		c.timer.Stop()
	}
	c.mu.Unlock()
	c.cancel(nil)
}

// state says whether the run began, and the store error of its start
// record.
func (c *runClock) state() (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == ErrNoMoreRuns {
		return false, nil
	}
	return c.begun, c.err
}
