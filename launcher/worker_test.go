package launcher

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/seeds"
	"github.com/metalab-hpc/metalab/shard"
	"github.com/metalab-hpc/metalab/slurm"
	"github.com/metalab-hpc/metalab/store"
)

// TestWorkerRunsItsShardOnce runs the worker of a hand-made submission, as
// an array task would, twice: the second time (a requeue) it does no work.
func TestWorkerRunsItsShardOnce(t *testing.T) {
	dir := t.TempDir()
	var executed []string
	exp := Experiment{
		Name: "w", Version: "1", Seeds: seeds.New(1, 2), Params: params.Grid{"x": seqAny(5)},
		Operation: Op(func(rt *Runtime) { executed = append(executed, rt.RunID) }),
	}
	dir, sub, plan, layout := testSubmission(t, exp)
	t.Setenv("SLURM_ARRAY_JOB_ID", "77")
	t.Setenv("SLURMD_NODENAME", "nodeA")
	app := &App{Name: "metalab", Experiments: []Experiment{exp}, Stdout: io.Discard, Stderr: io.Discard}
	opts := workerOptions{Store: dir, Submission: sub.ID, Array: 0, Task: 1}
	if err := app.runWorker(context.Background(), zerolog.Nop(), opts); err != nil {
		t.Fatal(err)
	}
	want, _ := layout.Shard(0, 1)
	if got := len(executed); got != len(want) {
		t.Fatalf("worker executed %d runs, want the %d of task 1", got, len(want))
	}
	for _, i := range want {
		if !slices.Contains(executed, plan.At(i).ID) {
			t.Errorf("run %s of the shard did not execute", plan.At(i).ID)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "segments", "nodeA-j77_1-r0.jsonl")); err != nil {
		t.Errorf("segment not named after node, job, task and restart: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "index", "nodes", "nodeA.sqlite")); err != nil {
		t.Errorf("no node index for SLURMD_NODENAME: %v", err)
	}

	// A requeued attempt of the same task finds its runs completed.
	executed = nil
	t.Setenv("SLURM_RESTART_COUNT", "1")
	if err := app.runWorker(context.Background(), zerolog.Nop(), opts); err != nil {
		t.Fatal(err)
	}
	if len(executed) != 0 {
		t.Errorf("the requeued task executed %d runs again", len(executed))
	}

	// A task ID outside the layout is an error that says so.
	opts.Task = 99
	if err := app.runWorker(context.Background(), zerolog.Nop(), opts); err == nil || !strings.Contains(err.Error(), "99") {
		t.Errorf("worker of task 99: %v, want an error naming the task", err)
	}
}

// testSubmission makes a submission of exp by hand in a new store: its 10
// first runs in tasks of 4.
func testSubmission(t *testing.T, exp Experiment) (dir string, sub *Submission, plan *Plan, layout *shard.Layout) {
	t.Helper()
	dir = t.TempDir()
	plan, err := NewPlan(&exp)
	if err != nil {
		t.Fatal(err)
	}
	indexes := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	layout, err = shard.Split(indexes, shard.Params{RunsPerTask: 4})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Init(plan.Manifest()); err != nil {
		t.Fatal(err)
	}
	st.Close()
	sub = &Submission{ID: "test-sub", Target: exp.Name, Experiment: exp.Name, Version: exp.Version,
		Identity: plan.Manifest().Identity, Plan: plan.Manifest().Spec, Created: time.Now()}
	os.MkdirAll(submissionDir(dir, sub.ID), 0o755)
	if err := saveLayout(dir, sub.ID, layout); err != nil {
		t.Fatal(err)
	}
	if err := saveSubmission(dir, sub); err != nil {
		t.Fatal(err)
	}
	return dir, sub, plan, layout
}

// TestWorkersAndLocalSweepsExclude: a worker waits for a local sweep that
// holds the store, up to its stop time, then leaves its runs pending; a
// local sweep is refused while workers run.
func TestWorkersAndLocalSweepsExclude(t *testing.T) {
	tests := []struct {
		name    string
		holder  store.LockMode // what holds the store
		release time.Duration  // after this (0: never)
		endIn   time.Duration  // the task's time limit
		local   bool           // a local sweep starts, not a worker
		want    string         // in the error; "": success
	}{
		{name: "worker waits for a local sweep that ends", holder: store.Exclusive, release: 300 * time.Millisecond, endIn: time.Minute},
		{name: "worker gives up at its stop time", holder: store.Exclusive, endIn: 3 * time.Second, want: "collect --resubmit"},
		{name: "local sweep while a worker runs", holder: store.Shared, local: true, want: "SLURM workers of the store are running"},
		{name: "worker beside another worker", holder: store.Shared, endIn: time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var executed []string
			exp := Experiment{
				Name: "w", Version: "1", Seeds: seeds.New(1, 2), Params: params.Grid{"x": seqAny(5)},
				Operation: Op(func(rt *Runtime) { mu.Lock(); executed = append(executed, rt.RunID); mu.Unlock() }),
			}
			dir, sub, _, layout := testSubmission(t, exp)
			st, err := store.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			lock, err := st.Lock(context.Background(), store.LockOptions{Mode: tt.holder, Purpose: "the holder"})
			if err != nil {
				t.Fatal(err)
			}
			defer lock.Release()
			if tt.release > 0 {
				time.AfterFunc(tt.release, func() { lock.Release() })
			}
			t.Setenv("SLURM_ARRAY_JOB_ID", "78")
			t.Setenv("SLURM_JOB_END_TIME", strconv.FormatInt(time.Now().Add(tt.endIn).Unix(), 10))
			app := &App{Name: "metalab", Experiments: []Experiment{exp}, Stdout: io.Discard, Stderr: io.Discard}
			if tt.local {
				err = app.runRun(context.Background(), zerolog.Nop(), runOptions{Target: "w", Store: dir, Progress: "quiet", NoTable: true}, io.Discard)
			} else {
				err = app.runWorker(context.Background(), zerolog.Nop(), workerOptions{Store: dir, Submission: sub.ID, Array: 0, Task: 1})
			}
			var ee *exitError
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got %v, want the shard run", err)
			case tt.want == "":
				want, _ := layout.Shard(0, 1)
				if got := len(executed); got != len(want) {
					t.Errorf("worker executed %d runs, want the %d of task 1", got, len(want))
				}
			case !errors.As(err, &ee) || !strings.Contains(err.Error(), "the holder") || !strings.Contains(ee.Hint(), tt.want):
				t.Errorf("got %v (hint %q), want the holder named and a hint with %q", err, hintOfExit(ee), tt.want)
			case len(executed) != 0:
				t.Errorf("%d runs executed while refused", len(executed))
			}
		})
	}
}

func hintOfExit(e *exitError) string {
	if e == nil {
		return ""
	}
	return e.hint
}

func TestStopDispatchAt(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	end := time.Unix(1767229200, 0) // 2026-01-01T01:00:00Z, as SLURM_JOB_END_TIME gives it
	tests := []struct {
		name  string
		limit string
		end   time.Time
		want  time.Time // zero: never
	}{
		{"1 h limit: 2 min margin", "1:00:00", time.Time{}, start.Add(58 * time.Minute)},
		{"10 min limit: a tenth", "10", time.Time{}, start.Add(9 * time.Minute)},
		{"no limit", "", time.Time{}, time.Time{}},
		{"SLURM's end time", "", end, start.Add(58 * time.Minute)},
		{"SLURM's end time before the limit", "2:00:00", end, start.Add(58 * time.Minute)},
	}
	for _, tt := range tests {
		exp := &Experiment{Slurm: slurm.Settings{Time: tt.limit}}
		if got := stopDispatchAt(start, tt.end, exp, zerolog.Nop()); !got.Equal(tt.want) {
			t.Errorf("%s: stop at %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestStopDispatchLeavesRunsPending(t *testing.T) {
	exp := Experiment{Name: "late", Version: "1", Seeds: seeds.New(1, 1), Params: params.Grid{"x": seqAny(10)},
		Operation: Op(func() {})}
	h, err := Run(context.Background(), exp, append(quiet(), WithOptions(Options{
		Store: t.TempDir(), StopDispatchAt: time.Now().Add(-time.Second),
		Logger: func() *zerolog.Logger { l := zerolog.Nop(); return &l }(), ProgressMode: "quiet",
	}))...)
	if err != nil {
		t.Fatal(err)
	}
	h.Result()
	if s := h.Status(); s.Done() != 0 || s.Pending != 10 {
		t.Errorf("past the stop time: %v, want nothing started and 10 pending", s)
	}
}

// TestWarnedStopsDispatchOnly: SLURM's warning signal stops a sweep
// starting runs, and lets the run in flight end: completed, not cancelled.
func TestWarnedStopsDispatchOnly(t *testing.T) {
	warned := make(chan struct{})
	exp := Experiment{Name: "warn", Version: "1", Seeds: seeds.New(1, 1), Params: params.Grid{"x": seqAny(10)},
		Operation: Op(func(ctx context.Context) error {
			select {
			case <-warned:
			default:
				close(warned)
			}
			select {
			case <-time.After(200 * time.Millisecond):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})}
	nop := zerolog.Nop()
	h, err := Run(context.Background(), exp, WithOptions(Options{
		Store: t.TempDir(), Workers: 1, Logger: &nop, ProgressMode: "quiet", stopDispatch: warned,
	}))
	if err != nil {
		t.Fatal(err)
	}
	h.Result()
	if s := h.Status(); s.Completed < 1 || s.Cancelled != 0 || s.Pending < 8 {
		t.Errorf("warned during the first run: %v, want it completed, none cancelled, the rest pending", s)
	}
}

// graceOp is an operation that notes the grace it is given.
type graceOp struct {
	mu    sync.Mutex
	grace time.Duration
}

func (g *graceOp) Execute(context.Context, *Runtime) error { return nil }
func (g *graceOp) LimitGrace(d time.Duration)              { g.mu.Lock(); g.grace = d; g.mu.Unlock() }

// TestWorkerGraceFitsKillWait: a worker gives the runs it cancels half of
// the KillWait recorded with its submission, and leaves an operation's
// grace alone when the submission recorded none.
func TestWorkerGraceFitsKillWait(t *testing.T) {
	for _, tt := range []struct {
		killWait int
		want     time.Duration
	}{{5, 2500 * time.Millisecond}, {30, 15 * time.Second}, {0, 0}} {
		op := &graceOp{}
		exp := Experiment{Name: "g", Version: "1", Seeds: seeds.New(1, 2), Params: params.Grid{"x": seqAny(5)}, Operation: op}
		dir, sub, _, _ := testSubmission(t, exp)
		sub.KillWait = tt.killWait
		if err := saveSubmission(dir, sub); err != nil {
			t.Fatal(err)
		}
		app := &App{Name: "metalab", Experiments: []Experiment{exp}, Stdout: io.Discard, Stderr: io.Discard}
		if err := app.runWorker(context.Background(), zerolog.Nop(), workerOptions{Store: dir, Submission: sub.ID, Task: 0}); err != nil {
			t.Fatal(err)
		}
		if got := op.grace; got != tt.want {
			t.Errorf("KillWait %d s: grace %v, want %v", tt.killWait, got, tt.want)
		}
	}
}

// TestWorkerSIGUSR1: the worker takes SIGUSR1 as SLURM's warning. Without
// a time limit of its own, or when [slurm] signal was set, the run in
// flight completes, no other starts, and it says what is left; a worker
// that knows its stop time keeps it (the derived warning comes up to half
// a minute early).
func TestWorkerSIGUSR1(t *testing.T) {
	for _, tt := range []struct {
		name     string
		settings slurm.Settings
		left     int // runs not started
	}{
		{"no time limit", slurm.Settings{}, 3},
		{"a signal of the user's", slurm.Settings{Time: "10", Signal: "USR1@300"}, 3},
		{"a time limit", slurm.Settings{Time: "10"}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var once sync.Once
			exp := Experiment{Name: "usr1", Version: "1", Seeds: seeds.New(1, 2), Params: params.Grid{"x": seqAny(5)},
				Operation: Op(func() {
					once.Do(func() { syscall.Kill(os.Getpid(), syscall.SIGUSR1) })
					time.Sleep(200 * time.Millisecond)
				}), Slurm: tt.settings}
			dir, sub, _, _ := testSubmission(t, exp)
			app := &App{Name: "metalab", Experiments: []Experiment{exp}, Stdout: io.Discard, Stderr: io.Discard}
			err := app.runWorker(context.Background(), zerolog.Nop(), workerOptions{Store: dir, Submission: sub.ID, Task: 0, Workers: 1})
			switch {
			case tt.left == 0 && err != nil:
				t.Fatalf("runWorker()=%v, want all 4 runs", err)
			case tt.left > 0 && (err == nil || !strings.Contains(err.Error(), strconv.Itoa(tt.left)+" runs not started")):
				t.Fatalf("runWorker()=%v, want it stopped with %d runs not started", err, tt.left)
			}
			st, err := store.OpenExisting(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			rep, err := st.Collect(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if rep.Completed != 4-tt.left || rep.Cancelled != 0 {
				t.Errorf("after SIGUSR1: %+v, want %d completed, none cancelled", rep, 4-tt.left)
			}
		})
	}
}

func TestWarnSignal(t *testing.T) {
	for _, tt := range []struct {
		s    slurm.Settings
		want string
	}{
		{slurm.Settings{}, "B:USR1@120"},
		{slurm.Settings{Time: "1:00:00"}, "B:USR1@120"},
		{slurm.Settings{Time: "00:01:00"}, "B:USR1@6"},
		{slurm.Settings{Time: "3"}, "B:USR1@18"},
		{slurm.Settings{Time: "0:30"}, "B:USR1@5"},
		{slurm.Settings{Time: "1", Signal: "USR2@30"}, "B:USR2@30"},
		{slurm.Settings{Signal: "B:USR1@300"}, "B:USR1@300"},
	} {
		if got := warnSignal(tt.s); got != tt.want {
			t.Errorf("warnSignal(time %q, signal %q)=%q, want %q", tt.s.Time, tt.s.Signal, got, tt.want)
		}
	}
}

// TestWorkerRerunsChangedOnce: the worker of a submission made with
// --rerun-changed runs its shard's runs although the store has them as
// completed (from before the submission), and a requeued attempt of the
// task, which finds them completed since, does not run them again.
func TestWorkerRerunsChangedOnce(t *testing.T) {
	var mu sync.Mutex
	var executed []string
	exp := Experiment{
		Name: "w", Version: "1", Seeds: seeds.New(1, 2), Params: params.Grid{"x": seqAny(5)},
		Operation: Op(func(rt *Runtime) { mu.Lock(); executed = append(executed, rt.RunID); mu.Unlock() }),
	}
	dir, sub, _, layout := testSubmission(t, exp)
	if _, _, err := runSweep(t, exp, WithStore(dir)); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SLURM_ARRAY_JOB_ID", "78")
	t.Setenv("SLURMD_NODENAME", "nodeA")
	app := &App{Name: "metalab", Experiments: []Experiment{exp}, Stdout: io.Discard, Stderr: io.Discard}
	opts := workerOptions{Store: dir, Submission: sub.ID, Array: 0, Task: 1}
	shardRuns, _ := layout.Shard(0, 1)
	for _, tt := range []struct {
		name    string
		rerun   bool
		restart string
		want    int
	}{
		{"a plain submission: completed runs are skipped", false, "0", 0},
		{"rerun changed", true, "1", len(shardRuns)},
		{"rerun changed, requeued", true, "2", 0},
	} {
		executed = nil
		if tt.restart != "2" { // a requeued task: the same submission
			sub.Created = time.Now()
		}
		sub.RerunChanged = tt.rerun
		if err := saveSubmission(dir, sub); err != nil {
			t.Fatal(err)
		}
		t.Setenv("SLURM_RESTART_COUNT", tt.restart)
		if err := app.runWorker(context.Background(), zerolog.Nop(), opts); err != nil {
			t.Fatal(err)
		}
		if got := len(executed); got != tt.want {
			t.Errorf("%s: executed %d runs, want %d", tt.name, got, tt.want)
		}
	}
}
