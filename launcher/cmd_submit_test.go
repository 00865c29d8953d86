package launcher

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/metalab-hpc/metalab/store"
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
		name: "earlier submission still queued", earlier: true, squeue: queueOf(t), sbatch: sbatchCounting,
		code: ExitUsage, hint: "or pass --force",
	}, {
		name: "jobs of the same name, not the store's", earlier: true, squeue: recorded(t, "squeue_identity.txt"), sbatch: sbatchCounting, sbatchN: 4,
		out: []string{"submitted array 3: job 103 (0-1%1)\n"},
	}, {
		name: "earlier submission left the queue", earlier: true, squeue: squeueEmpty, sbatch: sbatchCounting, sbatchN: 4,
		out: []string{"submitted array 3: job 103 (0-1%1)\n"},
	}, {
		name: "--force with a submission queued", opts: submitOptions{Force: true}, earlier: true, sbatch: sbatchCounting, sbatchN: 4,
		out: []string{"submitted array 3: job 103 (0-1%1)\n"},
	}, {
		name: "scheduler down", sbatch: recorded(t, "stderr/sbatch_down.txt") + " >&2; exit 1", sbatchN: 1,
		code: ExitScheduler, hint: "is slurmctld running?",
	}, {
		name: "no time limit", opts: submitOptions{DryRun: true},
		out: []string{"core-hours: no bound without [slurm] time (10 tasks, each up to the partition's time limit)\n",
			"expected: cannot estimate the core-hours of the runs until some have completed\n",
			"warning signal: USR1@120 (a tenth of the time limit, 5 s to 2 min before it)\n",
			"each job is submitted with --job-name=sub --comment='metalab store=<store ID> submission="},
		notOut: []string{"at most 0.0 core-hours"},
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
				dir, _, _, _ = testSubmission(t, exp)
				recordRecordedSubmission(t, dir, "sub")
			}
			if tt.local {
				if _, _, err := runSweep(t, exp, WithStore(dir)); err != nil {
					t.Fatal(err)
				}
			}
			squeue := tt.squeue
			if tt.earlier {
				squeue = withStoreID(t, dir, squeue)
			}
			sched := newStubScheduler(t, map[string]string{
				"scontrol": scontrolConfig(t, 4), "sbatch": tt.sbatch, "squeue": squeue,
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
	if got, want := sub.StoreID, storeIDOf(t, dir); got != want {
		t.Errorf("recorded store ID %q, want the store's %q", got, want)
	}
	if sub.JobName != "rec" || sub.CollectName != "rec-collect" || sub.KillWait != 5 {
		t.Errorf("recorded job names %q and %q, KillWait %d s; want rec, rec-collect and the scheduler's 5 s", sub.JobName, sub.CollectName, sub.KillWait)
	}
	calls := sched.calls(t, "sbatch")
	for k, arr := range sub.Arrays {
		script := filepath.Join(dir, arr.Script)
		if got, want := calls[k], "--parsable --job-name=rec --comment="+jobComment(sub.StoreID, sub.ID, false)+" "+script; got != want {
			t.Errorf("sbatch call %d: %q, want %q", k, got, want)
		}
		if arr.Submitted.IsZero() {
			t.Errorf("array %d: no time of submission recorded", k)
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
	if got, want := calls[4], "--parsable --job-name=rec-collect --comment="+jobComment(sub.StoreID, sub.ID, true)+" "+filepath.Join(submissionDir(dir, sub.ID), "collect.sbatch"); got != want {
		t.Errorf("sbatch call of the collect job: %q, want %q", got, want)
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

// TestRunSubmitLock: a submit holds the store's lock from the check of the
// queue to the last sbatch, so that a second submit or a local run at the
// same moment is refused, naming it; workers of an earlier submission do
// not keep a submit out.
func TestRunSubmitLock(t *testing.T) {
	tests := []struct {
		name    string
		holder  store.LockMode
		purpose string
		code    int
		hint    string
		sbatchN int
	}{
		{name: "another submit", holder: store.Submit, purpose: "metalab submit of experiment \"lk\"", code: ExitRunsFailed,
			hint: "submit once it has ended"},
		{name: "a local run", holder: store.Exclusive, purpose: "metalab run of experiment \"lk\"", code: ExitRunsFailed,
			hint: "a local run executes this store's runs"},
		{name: "workers", holder: store.Shared, purpose: "metalab worker", sbatchN: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exp := sweepExp("lk", 2)
			dir := t.TempDir()
			st, err := store.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			held, err := st.Lock(context.Background(), store.LockOptions{Mode: tt.holder, Purpose: tt.purpose})
			if err != nil {
				t.Fatal(err)
			}
			defer held.Release()
			sched := newStubScheduler(t, map[string]string{"scontrol": scontrolConfig(t, 100), "sbatch": sbatchCounting, "squeue": squeueEmpty})
			app, _ := testApp(exp, sched)
			var out bytes.Buffer
			err = app.runSubmit(context.Background(), zerolog.Nop(), submitOptions{Target: "lk", Store: dir}, &out)
			code, stderr := exitOutput(err)
			if got, want := code, tt.code; got != want {
				t.Fatalf("runSubmit()=%v (exit %d), want exit %d\n%s", err, got, want, out.String())
			}
			if tt.code != 0 && (!strings.Contains(stderr, "is in use by "+tt.purpose) || !strings.Contains(stderr, "hint: "+tt.hint)) {
				t.Errorf("stderr %q, want it to name %q and hint %q", stderr, tt.purpose, tt.hint)
			}
			if got, want := len(sched.calls(t, "sbatch")), tt.sbatchN; got != want {
				t.Errorf("sbatch called %d times, want %d", got, want)
			}
			if tt.code != 0 && out.Len() > 0 {
				t.Errorf("a refused submit printed:\n%s", out.String())
			}
		})
	}
	// The lock is released: a local run can start after a submit.
	exp := sweepExp("lk", 2)
	dir := t.TempDir()
	sched := newStubScheduler(t, map[string]string{"scontrol": scontrolConfig(t, 100), "sbatch": sbatchCounting})
	app, _ := testApp(exp, sched)
	if err := app.runSubmit(context.Background(), zerolog.Nop(), submitOptions{Target: "lk", Store: dir}, io.Discard); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "locks")); len(entries) != 0 {
		t.Errorf("submit left lock entries %v", entries)
	}
}
