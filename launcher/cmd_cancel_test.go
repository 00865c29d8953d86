package launcher

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRunCancel cancels the jobs of a store whose submission's jobs are
// array 204 and collect job 207 of slurm/testdata/squeue_identity.txt,
// and not jobs 205 and 206 of the same name, one of whose IDs an older
// submission recorded (recycled by the scheduler since).
func TestRunCancel(t *testing.T) {
	tests := []struct {
		name    string
		opts    cancelOptions
		none    bool   // the store has no submission
		squeue  string // body of the stub squeue; "" for the recorded queue
		scancel string // body of the stub scancel
		code    int
		out     []string
		hint    string
		calls   []string // of scancel
	}{
		{name: "every submission", scancel: "exit 0", calls: []string{"204 207"}, out: []string{
			"cancelled job 204 of submission " + recordedSub + " (tasks: 8 pending, 2 running)\n",
			"cancelled job 207 of submission " + recordedSub + " (collect job: 1 pending)\n",
			"left alone: job 205 recorded in the store, no longer queued as its job (ended, or the ID is another job's now)\n"}},
		{name: "one submission", opts: cancelOptions{Submission: "old"}, squeue: squeueEmpty,
			out: []string{"no job of the store is queued or running: nothing cancelled\n", "left alone: job 205 "}},
		{name: "an unknown submission", opts: cancelOptions{Submission: "s3"}, out: []string{"no submitted jobs to cancel\n"}},
		{name: "no submission", none: true, out: []string{"no submitted jobs to cancel\n"}},
		{name: "the queue is empty", squeue: squeueEmpty,
			out: []string{"no job of the store is queued or running: nothing cancelled\n", "left alone: jobs 205, 204 and 207 recorded"}},
		// No scancel error was recorded; the words after "error:" are
		// those of squeue and sbatch (slurm/testdata/stderr/).
		{name: "scancel fails", scancel: `echo "scancel: error: Unable to contact slurm controller (connect failure)" >&2; exit 1`,
			code: ExitScheduler, hint: "is slurmctld running?", calls: []string{"204 207"}},
		{name: "scheduler down", squeue: recorded(t, "stderr/squeue_down.txt") + " >&2; exit 1",
			code: ExitScheduler, hint: "is slurmctld running?"},
		{name: "no scancel", code: ExitScheduler, hint: "is SLURM installed here?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exp := sweepExp("can", 2)
			dir := localSweep(t, exp, 4)
			if !tt.none {
				testRecordSubmission(t, dir, &Submission{ID: "old", Created: time.Date(2026, 11, 1, 0, 0, 0, 0, time.Local),
					JobName: "idrec", Arrays: []ArrayJob{{JobID: "205"}}})
				recordRecordedSubmission(t, dir, "can")
			}
			bodies := map[string]string{"squeue": withStoreID(t, dir, queueOf(t))}
			if tt.squeue != "" {
				bodies["squeue"] = tt.squeue
			}
			if tt.scancel != "" {
				bodies["scancel"] = tt.scancel
			}
			sched := newStubScheduler(t, bodies)
			app, _ := testApp(exp, sched)
			opts := tt.opts
			opts.Store = dir
			var out bytes.Buffer
			err := app.runCancel(context.Background(), opts, &out)
			code, stderr := exitOutput(err)
			if got, want := code, tt.code; got != want {
				t.Fatalf("runCancel()=%v (exit %d), want exit %d", err, got, want)
			}
			if _, hint, _ := strings.Cut(stderr, "\nhint: "); !strings.Contains(hint, tt.hint) {
				t.Errorf("stderr %q, want a hint with %q", stderr, tt.hint)
			}
			for _, s := range tt.out {
				if !strings.Contains(out.String(), s) {
					t.Errorf("output lacks %q:\n%s", s, out.String())
				}
			}
			if got, want := strings.Join(sched.calls(t, "scancel"), "\n"), strings.Join(tt.calls, "\n"); got != want {
				t.Errorf("scancel calls %q, want %q", got, want)
			}
		})
	}
}

// TestRunCancelNotAStore: bad input, exit 2, and nothing cancelled.
func TestRunCancelNotAStore(t *testing.T) {
	sched := newStubScheduler(t, map[string]string{"scancel": "exit 0"})
	app, _ := testApp(sweepExp("can", 1), sched)
	err := app.runCancel(context.Background(), cancelOptions{Store: filepath.Join(t.TempDir(), "none")}, &bytes.Buffer{})
	if code, _ := exitOutput(err); code != ExitUsage {
		t.Errorf("runCancel()=%v (exit %d), want exit %d", err, code, ExitUsage)
	}
	if calls := sched.calls(t, "scancel"); len(calls) > 0 {
		t.Errorf("scancel called: %q", calls)
	}
}
