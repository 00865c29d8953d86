package launcher

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// TestRunWorkerErrors: what a worker says when it cannot run its shard, or
// when runs of it fail. (worker_test.go runs shards that succeed.)
func TestRunWorkerErrors(t *testing.T) {
	tests := []struct {
		name    string
		taskEnv string // SLURM_ARRAY_TASK_ID
		opts    workerOptions
		changed bool // the experiment changed since the submission
		fail    bool // the runs of x=0 fail
		code    int
		stderr  string
	}{
		{name: "the task from SLURM", taskEnv: "2", opts: workerOptions{Task: -1}},
		{name: "no task", opts: workerOptions{Task: -1}, code: ExitUsage,
			stderr: "metalab: SLURM_ARRAY_TASK_ID is not set\nhint: run it from an sbatch array, or pass --task\n"},
		{name: "no such submission", opts: workerOptions{Submission: "nope"}, code: ExitUsage,
			stderr: "metalab: no submission \"nope\" in store "},
		{name: "the experiment changed", changed: true, code: ExitUsage,
			stderr: "changed since submission test-sub: "},
		{name: "runs failed", fail: true, code: ExitRunsFailed,
			stderr: "metalab: 2 of 4 runs of this shard failed: some runs failed\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exp := sweepExp("w", 5)
			dir, sub, _, _ := testSubmission(t, exp)
			if tt.changed {
				exp.Version = "2"
			}
			if tt.fail {
				exp = sweepExp("w", 5, 0)
			}
			t.Setenv("SLURM_ARRAY_TASK_ID", tt.taskEnv)
			t.Setenv("SLURM_ARRAY_JOB_ID", "77")
			app, _ := testApp(exp, nil)
			opts := tt.opts
			opts.Store = dir
			if opts.Submission == "" {
				opts.Submission = sub.ID
			}
			err := app.runWorker(context.Background(), zerolog.Nop(), opts)
			code, stderr := exitOutput(err)
			if got, want := code, tt.code; got != want {
				t.Fatalf("runWorker()=%v (exit %d), want exit %d", err, got, want)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q, want it to contain %q", stderr, tt.stderr)
			}
			if tt.fail && !errors.Is(err, ErrRunsFailed) {
				t.Errorf("runWorker()=%v, want ErrRunsFailed", err)
			}
		})
	}
}
