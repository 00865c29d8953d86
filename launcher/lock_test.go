package launcher

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/seeds"
	"github.com/metalab-hpc/metalab/store"
)

// gatedSweep is an experiment whose runs count their executions and, until
// the gate opens, wait for it.
type gatedSweep struct {
	mu       sync.Mutex
	executed map[string]int
	started  chan struct{}
	gate     chan struct{}
}

func newGatedSweep() *gatedSweep {
	return &gatedSweep{executed: map[string]int{}, started: make(chan struct{}, 1000), gate: make(chan struct{})}
}

func (g *gatedSweep) experiment(runs int) Experiment {
	return Experiment{Name: "gated", Version: "1", Params: params.Grid{"i": seqAny(runs)}, Seeds: seeds.New(1, 1),
		Operation: Op(func(ctx context.Context, rt *Runtime) error {
			g.mu.Lock()
			g.executed[rt.RunID]++
			g.mu.Unlock()
			g.started <- struct{}{}
			select {
			case <-g.gate:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})}
}

func (g *gatedSweep) executions() (runs, total int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, n := range g.executed {
		total += n
	}
	return len(g.executed), total
}

// TestSecondSweepOfAStore: a second sweep of a store that a sweep writes
// is refused with an error that names the first, or waits for it with
// LockWait; no run executes twice.
func TestSecondSweepOfAStore(t *testing.T) {
	tests := []struct {
		name string
		wait time.Duration
	}{
		{name: "refused", wait: 0},
		{name: "waits", wait: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			g := newGatedSweep()
			exp := g.experiment(6)
			first, err := Run(context.Background(), exp, append(quiet(), WithStore(dir), WithWorkers(2))...)
			if err != nil {
				t.Fatal(err)
			}
			<-g.started
			second := make(chan error, 1)
			var h2 *Handle
			go func() {
				var err error
				h2, err = Run(context.Background(), exp, append(quiet(), WithOptions(Options{Store: dir, LockWait: tt.wait, ProgressMode: "quiet"}),
					WithLogger(nopLogger()))...)
				if err == nil {
					_, err = h2.Result()
				}
				second <- err
			}()
			if tt.wait == 0 {
				err := <-second
				var busy *store.BusyError
				var ee *exitError
				if !errors.As(err, &busy) || !errors.As(err, &ee) {
					t.Fatalf("second Run()=%v, want a BusyError with a hint", err)
				}
				host, _ := os.Hostname()
				for _, want := range []string{dir, "host " + host, fmt.Sprintf("pid %d", os.Getpid()), "since", `run of experiment "gated"`} {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("error %q does not say %q", err, want)
					}
				}
				if !strings.Contains(ee.Hint(), "--wait") {
					t.Errorf("hint %q does not mention --wait", ee.Hint())
				}
			}
			close(g.gate)
			if _, err := first.Result(); err != nil {
				t.Fatal(err)
			}
			if tt.wait != 0 {
				if err := <-second; err != nil {
					t.Fatalf("second Run, waiting: %v", err)
				}
				if s := h2.Status(); s.Skipped != 6 || s.Done() != 0 {
					t.Errorf("second sweep after waiting: %v, want all 6 skipped", s)
				}
			}
			if runs, total := g.executions(); runs != 6 || total != 6 {
				t.Errorf("%d executions of %d runs, want 6 of 6", total, runs)
			}
			if entries, _ := os.ReadDir(filepath.Join(dir, "locks")); len(entries) != 0 {
				t.Errorf("lock entries left: %v", entries)
			}
		})
	}
}

// TestLostLockStopsTheSweep: a sweep whose lock entry disappears (another
// process judged it stale) stops and says why.
func TestLostLockStopsTheSweep(t *testing.T) {
	dir := t.TempDir()
	g := newGatedSweep()
	h, err := start(context.Background(), ptrTo(g.experiment(4)), Options{
		Store: dir, Workers: 2, Logger: ptrTo(nopLogger()), ProgressMode: "quiet", lockHeartbeat: 20 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	<-g.started
	entries, err := filepath.Glob(filepath.Join(dir, "locks", "x.*"))
	if err != nil || len(entries) != 1 {
		t.Fatalf("lock entries %v (%v), want 1", entries, err)
	}
	if err := os.Remove(entries[0]); err != nil {
		t.Fatal(err)
	}
	_, err = h.Result()
	if err == nil || !strings.Contains(err.Error(), "lost its lock") {
		t.Fatalf("Result()=%v, want the sweep stopped for its lost lock", err)
	}
	if s := h.Status(); s.Completed != 0 || s.Cancelled == 0 {
		t.Errorf("after losing the lock: %v, want the running runs cancelled", s)
	}
}

func ptrTo[T any](v T) *T { return &v }

func nopLogger() zerolog.Logger { return zerolog.Nop() }
