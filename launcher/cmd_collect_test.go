package launcher

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// localSweep runs the first n runs of exp's plan into a new store, and
// returns its directory.
func localSweep(t *testing.T, exp Experiment, n int) string {
	t.Helper()
	dir := t.TempDir()
	nop := zerolog.Nop()
	h, err := Run(context.Background(), exp, WithOptions(Options{
		Store: dir, Logger: &nop, ProgressMode: "quiet", Progress: io.Discard,
		Select: func(p *Plan) ([]int, error) {
			var idx []int
			for i := 0; i < min(n, p.Len()); i++ {
				idx = append(idx, i)
			}
			return idx, nil
		},
	}))
	if err != nil {
		t.Fatal(err)
	}
	h.Result()
	return dir
}

// TestRunCollect collects a store of 5 points x 2 replicates of which 8
// runs ran and the 2 of x=1 failed: 2 missing and 2 failed, resubmitted to
// a stub scheduler unless they failed too often.
func TestRunCollect(t *testing.T) {
	tests := []struct {
		name      string
		opts      collectOptions
		submitted bool // the store has a submission of the experiment
		complete  bool // every run of the store completed
		queued    bool // the submission's jobs are in the queue
		ranAll    bool // every run of the store ran, and 2 failed
		code      int
		err       string // in the error's message
		out       []string
		notOut    []string
		hint      string
		sbatchN   int
	}{{
		name:   "no experiment known",
		out:    []string{"collected 1 segments, 0 new records: 8 runs (6 completed, 2 failed, 0 cancelled, 0 running)\n"},
		notOut: []string{"plan:"},
	}, {
		name: "the experiment named", opts: collectOptions{Target: "col"},
		out:  []string{"plan of col@1: 10 runs; 2 missing, 2 failed (0 of them failed too often to resubmit)\n", "  missing ", "  failed  "},
		code: ExitRunsFailed, err: "4 of 10 runs are not completed: 2 missing, 2 failed", hint: "'metalab collect --resubmit --store ",
	}, {
		name: "the experiment of the latest submission", submitted: true,
		out:  []string{"plan of col@1: 10 runs; 2 missing, 2 failed (0 of them failed too often to resubmit)\n"},
		code: ExitRunsFailed, hint: "collect --resubmit",
	}, {
		name: "every run completed", opts: collectOptions{Target: "col"}, complete: true,
		out: []string{"plan of col@1: 10 runs; 0 missing, 0 failed (0 of them failed too often to resubmit)\n"},
	}, {
		name: "resubmit", opts: collectOptions{Target: "col", Resubmit: true}, sbatchN: 1,
		out: []string{"resubmitting 4 runs\n", "experiment col (version 1): 4 runs, 0 already completed, 4 to submit\n", "submitted array 0: job 100 (0-3)\n"},
	}, {
		name: "resubmit leaves out runs that failed too often", opts: collectOptions{Target: "col", Resubmit: true, MaxFailures: 1}, sbatchN: 1,
		out: []string{"2 failed (2 of them failed too often to resubmit)\n", "resubmitting 2 runs\n", "2 runs, 0 already completed, 2 to submit\n"},
	}, {
		name: "nothing to resubmit", opts: collectOptions{Target: "col", Resubmit: true}, complete: true,
		out: []string{"plan of col@1: 10 runs; 0 missing, 0 failed", "nothing to resubmit\n"},
	}, {
		name: "nothing to resubmit but runs that failed too often", opts: collectOptions{Target: "col", Resubmit: true, MaxFailures: 1}, ranAll: true,
		out:  []string{"0 missing, 2 failed (2 of them failed too often to resubmit)\n", "nothing to resubmit\n"},
		code: ExitRunsFailed, err: "2 of 10 runs are not completed: 2 failed", hint: "2 runs failed too often to resubmit; see their errors with 'metalab results",
	}, {
		name: "a refused resubmission does not say it resubmits", opts: collectOptions{Target: "col", Resubmit: true}, submitted: true, queued: true,
		code: ExitUsage, hint: "or pass --force", notOut: []string{"resubmitting"},
	}, {
		name: "resubmit without an experiment", opts: collectOptions{Resubmit: true},
		code: ExitUsage, hint: "usage: metalab collect --store DIR --resubmit EXPERIMENT",
	}, {
		name: "an unknown experiment", opts: collectOptions{Target: "nope"},
		code: ExitUsage, hint: "name one of: col",
	}}
	exp := sweepExp("col", 5, 1)
	exp.Slurm.RunsPerTask = 1
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dir string
			if tt.complete {
				dir = localSweep(t, sweepExp("col", 5), 10)
			} else if tt.ranAll {
				dir = localSweep(t, exp, 10)
			} else {
				dir = localSweep(t, exp, 8)
			}
			if tt.submitted {
				recordRecordedSubmission(t, dir, "col")
			}
			squeue := squeueEmpty
			if tt.queued {
				squeue = withStoreID(t, dir, queueOf(t))
			}
			sched := newStubScheduler(t, map[string]string{
				"scontrol": scontrolConfig(t, 100), "sbatch": sbatchCounting, "squeue": squeue,
			})
			app, _ := testApp(exp, sched)
			opts := tt.opts
			opts.Store = dir
			var out bytes.Buffer
			err := app.runCollect(context.Background(), zerolog.Nop(), opts, &out)
			code, stderr := exitOutput(err)
			if got, want := code, tt.code; got != want {
				t.Fatalf("runCollect()=%v (exit %d), want exit %d\n%s", err, got, want, out.String())
			}
			if _, hint, _ := strings.Cut(stderr, "\nhint: "); !strings.Contains(hint, tt.hint) {
				t.Errorf("stderr %q, want a hint with %q", stderr, tt.hint)
			}
			if !strings.Contains(stderr, tt.err) {
				t.Errorf("stderr %q, want %q", stderr, tt.err)
			}
			for _, s := range tt.out {
				if !strings.Contains(out.String(), s) {
					t.Errorf("output lacks %q:\n%s", s, out.String())
				}
			}
			for _, s := range tt.notOut {
				if strings.Contains(out.String(), s) {
					t.Errorf("output has %q:\n%s", s, out.String())
				}
			}
			if got, want := len(sched.calls(t, "sbatch")), tt.sbatchN; got != want {
				t.Errorf("sbatch called %d times, want %d", got, want)
			}
		})
	}
}

// TestRunCollectJSON: --json lists every run ID that is not completed.
func TestRunCollectJSON(t *testing.T) {
	exp := sweepExp("col", 5, 1)
	dir := localSweep(t, exp, 8)
	app, _ := testApp(exp, nil)
	var out bytes.Buffer
	err := app.runCollect(context.Background(), zerolog.Nop(), collectOptions{Store: dir, Target: "col", JSON: true}, &out)
	if code, _ := exitOutput(err); code != ExitRunsFailed {
		t.Fatalf("runCollect()=%v (exit %d), want exit %d: runs are missing", err, code, ExitRunsFailed)
	}
	var got collectResult
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v:\n%s", err, out.String())
	}
	if got.Planned != 10 || got.Runs != 8 || len(got.MissingIDs) != 2 || len(got.FailedIDs) != 2 || len(got.ExhaustedIDs) != 0 {
		t.Errorf("collect --json: %+v, want 10 planned, 8 runs, 2 missing, 2 failed, none exhausted", got)
	}
}

// TestRunCollectNotAStore: collect of a directory that is not a store is
// bad input.
func TestRunCollectNotAStore(t *testing.T) {
	app, _ := testApp(sweepExp("col", 1), nil)
	err := app.runCollect(context.Background(), zerolog.Nop(), collectOptions{Store: filepath.Join(t.TempDir(), "none")}, io.Discard)
	if code, _ := exitOutput(err); code != ExitUsage {
		t.Errorf("runCollect()=%v (exit %d), want exit %d", err, code, ExitUsage)
	}
}

// testRecordSubmission records sub in the store at dir.
func testRecordSubmission(t *testing.T, dir string, sub *Submission) {
	t.Helper()
	if err := os.MkdirAll(submissionDir(dir, sub.ID), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := saveSubmission(dir, sub); err != nil {
		t.Fatal(err)
	}
}
