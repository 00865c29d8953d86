package launcher

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
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
	plan, err := NewPlan(&exp)
	if err != nil {
		t.Fatal(err)
	}
	indexes := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	layout, err := shard.Split(indexes, shard.Params{RunsPerTask: 4})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Bind(plan.Manifest()); err != nil {
		t.Fatal(err)
	}
	st.Close()
	sub := &Submission{ID: "test-sub", Target: "w", Identity: plan.Manifest().Identity, Created: time.Now()}
	os.MkdirAll(submissionDir(dir, sub.ID), 0o755)
	if err := saveLayout(dir, sub.ID, layout); err != nil {
		t.Fatal(err)
	}
	if err := saveSubmission(dir, sub); err != nil {
		t.Fatal(err)
	}
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
		if !contains(executed, plan.At(i).ID) {
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

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func TestStopDispatchAt(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	exp := &Experiment{Slurm: slurm.Settings{Time: "1:00:00"}}
	if got, want := stopDispatchAt(start, exp, zerolog.Nop()), start.Add(58*time.Minute); !got.Equal(want) {
		t.Errorf("1 h limit: stop at %v, want %v (2 min margin)", got, want)
	}
	exp.Slurm.Time = "10"
	if got, want := stopDispatchAt(start, exp, zerolog.Nop()), start.Add(9*time.Minute); !got.Equal(want) {
		t.Errorf("10 min limit: stop at %v, want %v (a tenth)", got, want)
	}
	exp.Slurm.Time = ""
	if got := stopDispatchAt(start, exp, zerolog.Nop()); !got.IsZero() {
		t.Errorf("no limit: stop at %v, want never", got)
	}
	t.Setenv("SLURM_JOB_END_TIME", "1767229200") // 2026-01-01T01:00:00Z
	if got, want := stopDispatchAt(start, exp, zerolog.Nop()), start.Add(58*time.Minute); !got.Equal(want) {
		t.Errorf("SLURM_JOB_END_TIME: stop at %v, want %v", got, want)
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
