package launcher

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRunCancel cancels the jobs of a store's two submissions, s1 (arrays
// 42 and 43) and s2 (array 50 and collect job 51), with one scancel call.
func TestRunCancel(t *testing.T) {
	tests := []struct {
		name    string
		opts    cancelOptions
		none    bool   // the store has no submission
		scancel string // body of the stub scancel
		code    int
		out     string
		hint    string
		calls   []string // of scancel
	}{
		{name: "every submission", scancel: "exit 0", out: "cancelled jobs [42 43 50 51]\n", calls: []string{"42 43 50 51"}},
		{name: "one submission", opts: cancelOptions{Submission: "s2"}, scancel: "exit 0", out: "cancelled jobs [50 51]\n", calls: []string{"50 51"}},
		{name: "an unknown submission", opts: cancelOptions{Submission: "s3"}, out: "no submitted jobs to cancel\n"},
		{name: "no submission", none: true, out: "no submitted jobs to cancel\n"},
		// No scancel error was recorded; the words after "error:" are
		// those of squeue and sbatch (slurm/testdata/stderr/).
		{name: "scheduler down", scancel: `echo "scancel: error: Unable to contact slurm controller (connect failure)" >&2; exit 1`,
			code: ExitRunsFailed, hint: "is slurmctld running?", calls: []string{"42 43 50 51"}},
		{name: "no scancel", code: ExitRunsFailed, hint: "is SLURM installed here?"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exp := sweepExp("can", 2)
			dir := localSweep(t, exp, 4)
			if !tt.none {
				now := time.Now()
				testRecordSubmission(t, dir, &Submission{ID: "s1", Created: now, Arrays: []ArrayJob{{JobID: "42"}, {JobID: "43"}}})
				testRecordSubmission(t, dir, &Submission{ID: "s2", Created: now.Add(time.Second), Arrays: []ArrayJob{{JobID: "50"}}, Collect: "51"})
			}
			bodies := map[string]string{}
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
			if got, want := out.String(), tt.out; got != want {
				t.Errorf("output %q, want %q", got, want)
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
