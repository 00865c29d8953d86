package launcher

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// TestRunSubmit submits a sweep of 10 points x 2 replicates in tasks of 2
// runs, at most 2 at once, to a stub scheduler whose arrays hold at most 4
// tasks: arrays 0 and 1 of 3 tasks, then 2 and 3 of 2 tasks after them, one
// task of each running at once.
func TestRunSubmit(t *testing.T) {
	tests := []struct {
		name    string
		opts    submitOptions
		squeue  string // body of the stub squeue
		sbatch  string // body of the stub sbatch
		earlier bool   // an earlier submission exists
		local   bool   // the sweep ran locally first
		code    int    // exit code of the error; 0: none
		out     []string
		notOut  []string
		hint    string // in the hint of the error
		sbatchN int    // calls of sbatch
	}{{
		name: "dry run", opts: submitOptions{DryRun: true},
		out: []string{
			"experiment sub (version 1): 20 runs, 0 already completed, 20 to submit\n",
			"\n--- array 0: submissions/", "#SBATCH --array=0-2%1\n",
			"\n--- array 3: submissions/", "#SBATCH --dependency=\"afterany:<job ID of array 1>\"\n",
			"\ndry run: nothing submitted\n",
		},
		notOut: []string{"submitted array"},
	}, {
		name: "submit", sbatch: sbatchCounting, sbatchN: 4,
		out: []string{
			"experiment sub (version 1): 20 runs, 0 already completed, 20 to submit\n",
			"submitted array 0: job 100 (0-2%1)\n", "submitted array 1: job 101 (0-2%1)\n",
			"submitted array 2: job 102 (0-1%1)\n", "submitted array 3: job 103 (0-1%1)\n",
			"follow it with: metalab status --store ",
		},
		notOut: []string{"#SBATCH", "collect"},
	}, {
		name: "submit with a collect job", opts: submitOptions{Collect: true}, sbatch: sbatchCounting, sbatchN: 5,
		out: []string{"submitted array 3: job 103 (0-1%1)\n", "submitted collect: job 104 (after all arrays)\n"},
	}, {
		name: "earlier submission still queued", earlier: true, squeue: recorded(t, "squeue_mixed.txt"), sbatch: sbatchCounting,
		code: ExitUsage, hint: "or pass --force",
	}, {
		name: "earlier submission left the queue", earlier: true, squeue: squeueEmpty, sbatch: sbatchCounting, sbatchN: 4,
		out: []string{"submitted array 3: job 103 (0-1%1)\n"},
	}, {
		name: "--force with a submission queued", opts: submitOptions{Force: true}, earlier: true, sbatch: sbatchCounting, sbatchN: 4,
		out: []string{"submitted array 3: job 103 (0-1%1)\n"},
	}, {
		name: "scheduler down", sbatch: recorded(t, "stderr/sbatch_down.txt") + " >&2; exit 1", sbatchN: 1,
		code: ExitRunsFailed, hint: "is slurmctld running?",
	}, {
		name: "all runs completed", local: true,
		out: []string{"nothing to submit: all 20 runs are already completed in "},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exp := sweepExp("sub", 10)
			exp.Slurm.RunsPerTask, exp.Slurm.MaxConcurrent = 2, 2
			dir := t.TempDir()
			if tt.earlier {
				var sub *Submission
				dir, sub, _, _ = testSubmission(t, exp)
				sub.Arrays = []ArrayJob{{JobID: "42"}}
				if err := saveSubmission(dir, sub); err != nil {
					t.Fatal(err)
				}
			}
			if tt.local {
				if _, _, err := runSweep(t, exp, WithStore(dir)); err != nil {
					t.Fatal(err)
				}
			}
			sched := newStubScheduler(t, map[string]string{
				"scontrol": scontrolConfig(t, 4), "sbatch": tt.sbatch, "squeue": tt.squeue,
			})
			app, _ := testApp(exp, sched)
			opts := tt.opts
			opts.Target, opts.Store = "sub", dir
			var out bytes.Buffer
			err := app.runSubmit(context.Background(), zerolog.Nop(), opts, &out)
			code, stderr := exitOutput(err)
			if got, want := code, tt.code; got != want {
				t.Fatalf("runSubmit()=%v (exit %d), want exit %d\n%s", err, got, want, out.String())
			}
			if _, hint, _ := strings.Cut(stderr, "\nhint: "); !strings.Contains(hint, tt.hint) {
				t.Errorf("stderr %q, want a hint with %q", stderr, tt.hint)
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

// TestRunSubmitRecords checks what a submission leaves in the store: the
// scripts that sbatch was given, an array that waits for another naming
// that one's job, and a record with every job ID.
func TestRunSubmitRecords(t *testing.T) {
	exp := sweepExp("rec", 10)
	exp.Slurm.RunsPerTask, exp.Slurm.MaxConcurrent = 2, 2
	dir := t.TempDir()
	sched := newStubScheduler(t, map[string]string{"scontrol": scontrolConfig(t, 4), "sbatch": sbatchCounting})
	app, _ := testApp(exp, sched)
	var out bytes.Buffer
	if err := app.runSubmit(context.Background(), zerolog.Nop(), submitOptions{Target: "rec", Store: dir, Collect: true}, &out); err != nil {
		t.Fatal(err)
	}
	subs, err := listSubmissions(dir)
	if err != nil || len(subs) != 1 {
		t.Fatalf("listSubmissions()=%v, %v; want one submission", subs, err)
	}
	sub := subs[0]
	if got, want := strings.Join(sub.JobIDs(), ","), "100,101,102,103,104"; got != want {
		t.Errorf("recorded job IDs %s, want %s", got, want)
	}
	if got, want := sub.Runs, 20; got != want {
		t.Errorf("recorded %d runs, want %d", got, want)
	}
	calls := sched.calls(t, "sbatch")
	for k, arr := range sub.Arrays {
		script := filepath.Join(dir, arr.Script)
		if got, want := calls[k], "--parsable "+script; got != want {
			t.Errorf("sbatch call %d: %q, want %q", k, got, want)
		}
		b, err := os.ReadFile(script)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, d := range arr.After {
			want = append(want, sub.Arrays[d].JobID)
		}
		dep := ""
		if m := regexp.MustCompile(`(?m)^#SBATCH --dependency="?afterany:([0-9:]+)"?$`).FindSubmatch(b); m != nil {
			dep = string(m[1])
		}
		if got, want := dep, strings.Join(want, ":"); got != want {
			t.Errorf("array %d waits for jobs %q, want %q\n%s", k, got, want, b)
		}
		if !bytes.Contains(b, []byte(" worker --store "+dir+" --submission "+sub.ID)) {
			t.Errorf("array %d does not run the worker of the submission:\n%s", k, b)
		}
	}
	b, err := os.ReadFile(filepath.Join(submissionDir(dir, sub.ID), "collect.sbatch"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("afterany:100:101:102:103")) {
		t.Errorf("collect job does not wait for the arrays:\n%s", b)
	}
}

// TestRunSubmitDryRunCreatesNothing: a dry run into a new directory leaves
// no store behind, not even a scratch one, asks the scheduler only for its
// configuration, and tolerates its silence.
func TestRunSubmitDryRunCreatesNothing(t *testing.T) {
	exp := sweepExp("dry", 3)
	dir := filepath.Join(t.TempDir(), "st")
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	sched := newStubScheduler(t, map[string]string{"scontrol": recorded(t, "stderr/scontrol_show_config_down.txt") + " >&2; exit 1"})
	app, _ := testApp(exp, sched)
	var out bytes.Buffer
	if err := app.runSubmit(context.Background(), zerolog.Nop(), submitOptions{Target: "dry", Store: dir, DryRun: true}, &out); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("dry run created %s: %v", dir, err)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("dry run left %s in the temporary directory", left[0].Name())
	}
	if !strings.Contains(out.String(), "dry run: nothing submitted") {
		t.Errorf("output:\n%s", out.String())
	}
	if got, want := len(sched.calls(t, "scontrol")), 1; got != want {
		t.Errorf("scontrol called %d times, want %d", got, want)
	}
}

// exitOutput is the exit code that App.exit gives err, and what it prints.
func exitOutput(err error) (code int, stderr string) {
	var buf bytes.Buffer
	a := &App{Name: "metalab", Stderr: &buf}
	code = a.exit(err)
	return code, buf.String()
}
