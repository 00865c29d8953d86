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

// TestRecheckAfterTakeover: a sweep that took the store's lock over from
// a holder judged dead checks each run against the store before it
// starts, and skips one that the other writer completed meanwhile.
func TestRecheckAfterTakeover(t *testing.T) {
	dir := t.TempDir()
	plantDeadHolder(t, dir)
	var mu sync.Mutex
	var executed []string
	var plan *Plan
	exp := Experiment{Name: "re", Version: "1", Params: params.Grid{"i": seqAny(4)}, Seeds: seeds.New(1, 1)}
	exp.Operation = Op(func(rt *Runtime) error {
		mu.Lock()
		executed = append(executed, rt.RunID)
		first := len(executed) == 1
		mu.Unlock()
		if first {
			// The holder thought dead completes run 2 meanwhile.
			w, err := rt.store.NewWriter(store.WriterOptions{Name: "paused"})
			if err != nil {
				return err
			}
			spec := plan.At(2)
			now := time.Now()
			err = w.Append(&store.Record{RunID: spec.ID, Status: store.StatusCompleted, Experiment: "re", Version: "1",
				Params: spec.Params, Started: now, Ended: now})
			if cerr := w.Close(); err == nil {
				err = cerr
			}
			return err
		}
		return nil
	})
	var err error
	if plan, err = NewPlan(&exp); err != nil {
		t.Fatal(err)
	}
	nop := zerolog.Nop()
	h, err := Run(context.Background(), exp, WithOptions(Options{Store: dir, Workers: 1, Logger: &nop, ProgressMode: "quiet"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Result(); err != nil {
		t.Fatal(err)
	}
	if got, want := len(executed), 3; got != want {
		t.Errorf("executed %d runs, want %d: run 2 completed by the other writer", got, want)
	}
	for _, id := range executed {
		if id == plan.At(2).ID {
			t.Errorf("run 2 executed again")
		}
	}
	if s := h.Status(); s.Skipped != 1 || s.Completed != 3 || s.Pending != 0 {
		t.Errorf("status %v, want 3 completed and 1 skipped", s)
	}
}

// plantDeadHolder leaves in the store at dir the shared lock entry of a
// process of this host that is gone, as a worker killed with SIGKILL does.
func plantDeadHolder(t *testing.T, dir string) {
	t.Helper()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	hostname, _ := os.Hostname()
	boot, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	ns, _ := os.Readlink("/proc/self/ns/pid")
	const pid = 1 << 22 // above pid_max's default
	b := fmt.Sprintf(`{"mode":"shared","purpose":"a worker","since":%q,"host":%q,"pid":%d,"boot_id":%q,"pid_ns":%q}`,
		time.Now().UTC().Format(time.RFC3339Nano), hostname, pid, strings.TrimSpace(string(boot)), ns)
	name := fmt.Sprintf("s.%016x.%s.%d.0000000000000000", time.Now().UnixNano(), strings.SplitN(hostname, ".", 2)[0], pid)
	if err := os.MkdirAll(filepath.Join(dir, "locks"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "locks", name), []byte(b), 0o644); err != nil {
		t.Fatal(err)
	}
}
