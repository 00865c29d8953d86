package launcher

import (
	"bytes"
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRunStatus reads the status of a store of 10 runs, 8 of them run and
// 2 of those failed, whose submission's jobs are array 204 and collect job
// 207 of slurm/testdata/squeue_identity.txt, with a stub scheduler that
// answers what a real one answered.
func TestRunStatus(t *testing.T) {
	tests := []struct {
		name      string
		opts      statusOptions
		submitted bool
		recycled  bool // the submission recorded the IDs of jobs 205 and 206, now others'
		squeue    string
		sacct     string
		out       []string
		notOut    []string
		squeueN   int
		sacctN    int
	}{{
		name:   "no submission",
		out:    []string{" experiment st (version 1) in ", "\n10 runs: 6 completed, 2 failed, 0 cancelled, 0 running, 2 pending\n"},
		notOut: []string{"scheduler:", "accounting:"},
	}, {
		name: "jobs in the queue", submitted: true, squeue: queueOf(t), squeueN: 1,
		out:    []string{"\n10 runs: 6 completed, 2 failed, 0 cancelled, 0 running, 2 pending\n", "\nscheduler: 2 jobs in the queue, 2 array tasks running, 9 pending\n"},
		notOut: []string{"accounting:"},
	}, {
		name: "a task ending", submitted: true, squeue: queueOf(t, "sed 's/^\\(204_0|.*\\)RUNNING/\\1COMPLETING/'"), squeueN: 1,
		out: []string{"\nscheduler: 2 jobs in the queue, 1 array tasks running, 9 pending, 1 ending\n"},
	}, {
		name: "recycled job IDs: jobs of the same name, not the store's", submitted: true, recycled: true,
		squeue: recorded(t, "squeue_identity.txt"), sacct: recorded(t, "sacct_disabled.txt") + " >&2; exit 1", squeueN: 1, sacctN: 1,
		out: []string{"\nscheduler: 0 jobs in the queue, 0 array tasks running, 0 pending\n",
			"\naccounting: disabled on this cluster (no sacct); how tasks ended is known only from the store\n"},
	}, {
		name: "the queue is empty, accounting by jobcomp", submitted: true, squeue: squeueEmpty, sacct: recorded(t, "sacct_jobcomp.txt"),
		squeueN: 1, sacctN: 1,
		out: []string{"\nscheduler: 0 jobs in the queue, 0 array tasks running, 0 pending\n", "\naccounting: tasks 1 cancelled, 8 completed, 2 failed, 1 pending, 1 timeout\n"},
	}, {
		name: "accounting down", submitted: true, squeue: squeueEmpty, sacct: recorded(t, "stderr/squeue_down.txt") + " >&2; exit 1",
		squeueN: 1, sacctN: 1,
		out: []string{"\naccounting: not reachable ("},
	}, {
		name: "scheduler down", submitted: true, squeue: recorded(t, "stderr/squeue_down.txt") + " >&2; exit 1", squeueN: 1,
		out: []string{"\nscheduler: not reachable (", "Unable to contact slurm controller (connect failure)); runs of SLURM tasks are counted as running\n"},
	}, {
		name: "json", opts: statusOptions{JSON: true}, submitted: true, squeue: queueOf(t), squeueN: 1,
		out: []string{`"total":10,"completed":6,"failed":2,"cancelled":0,"running":0,"pending":2`, `"scheduler":{"jobs":2,"tasks_pending":9,"tasks_running":2}`},
	}}
	exp := sweepExp("st", 5, 1)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := localSweep(t, exp, 8)
			if tt.submitted {
				sub := recordRecordedSubmission(t, dir, "st")
				if tt.recycled {
					sub.Arrays, sub.Collect = []ArrayJob{{JobID: "205"}}, "206"
					testRecordSubmission(t, dir, sub)
				}
			}
			bodies := map[string]string{}
			if tt.squeue != "" {
				bodies["squeue"] = withStoreID(t, dir, tt.squeue)
			}
			if tt.sacct != "" {
				bodies["sacct"] = tt.sacct
			}
			sched := newStubScheduler(t, bodies)
			app, stderr := testApp(exp, sched)
			opts := tt.opts
			opts.Store = dir
			var out bytes.Buffer
			if err := app.runStatus(context.Background(), opts, &out); err != nil {
				t.Fatal(err)
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
			if stderr.Len() > 0 {
				t.Errorf("stderr: %s", stderr)
			}
			squeue := sched.calls(t, "squeue")
			if got, want := len(squeue), tt.squeueN; got != want {
				t.Errorf("squeue called %d times, want %d", got, want)
			}
			if len(squeue) > 0 && !strings.Contains(squeue[0], "--me") || len(squeue) > 0 && !strings.Contains(squeue[0], "--name=idrec,idrec-collect") {
				t.Errorf("squeue %s, want this user's jobs of the submission's names", squeue[0])
			}
			sacct := sched.calls(t, "sacct")
			if got, want := len(sacct), tt.sacctN; got != want {
				t.Errorf("sacct called %d times, want %d", got, want)
			}
			if len(sacct) > 0 && !strings.Contains(sacct[0], "--name=idrec,idrec-collect") {
				t.Errorf("sacct %s, want the jobs of the submission's names", sacct[0])
			}
		})
	}
}

// TestRunStatusWatch: --watch refreshes until no job of the submission is
// left in the queue, waiting the interval while the status changes and
// longer while it does not.
func TestRunStatusWatch(t *testing.T) {
	exp := sweepExp("st", 5)
	dir := localSweep(t, exp, 10)
	recordRecordedSubmission(t, dir, "st")
	// The queue: three times the same tasks, then some have ended, then
	// none is left.
	queue := withStoreID(t, dir, queueOf(t))
	sched := newStubScheduler(t, map[string]string{
		"squeue": `n=$(wc -l < "$calls")
if [ "$n" -le 3 ]; then ` + queue + `
elif [ "$n" -eq 4 ]; then ` + queue + ` | grep -v RUNNING
fi`,
		"sacct": recorded(t, "sacct_jobcomp.txt"),
	})
	app, _ := testApp(exp, sched)
	var waits []time.Duration
	opts := statusOptions{Store: dir, Watch: true, Interval: 20 * time.Second, after: func(d time.Duration) <-chan time.Time {
		waits = append(waits, d)
		c := make(chan time.Time, 1)
		c <- time.Time{}
		return c
	}}
	var out bytes.Buffer
	if err := app.runStatus(context.Background(), opts, &out); err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{20 * time.Second, 30 * time.Second, 45 * time.Second, 20 * time.Second}
	if got := waits; !slices.Equal(got, want) {
		t.Errorf("waited %v, want %v", got, want)
	}
	if got, want := strings.Count(out.String(), "\nscheduler: "), 5; got != want {
		t.Errorf("%d refreshes, want %d:\n%s", got, want, out.String())
	}
	if !strings.HasSuffix(out.String(), "scheduler: 0 jobs in the queue, 0 array tasks running, 0 pending\naccounting: tasks 1 cancelled, 8 completed, 2 failed, 1 pending, 1 timeout\n") {
		t.Errorf("the last refresh is not that of the empty queue:\n%s", out.String())
	}
}

func TestNextRefresh(t *testing.T) {
	tests := []struct {
		last    time.Duration
		changed bool
		want    time.Duration
	}{
		{10 * time.Second, true, 10 * time.Second},
		{40 * time.Second, true, 10 * time.Second},
		{10 * time.Second, false, 15 * time.Second},
		{4 * time.Minute, false, 5 * time.Minute},
		{5 * time.Minute, false, 5 * time.Minute},
	}
	for _, tt := range tests {
		if got := nextRefresh(tt.last, 10*time.Second, tt.changed); got != tt.want {
			t.Errorf("nextRefresh(%v, 10s, %t)=%v, want %v", tt.last, tt.changed, got, tt.want)
		}
	}
}

// TestRunStatusNotAStore: bad input, exit 2.
func TestRunStatusNotAStore(t *testing.T) {
	app, _ := testApp(sweepExp("st", 1), nil)
	err := app.runStatus(context.Background(), statusOptions{Store: filepath.Join(t.TempDir(), "none")}, &bytes.Buffer{})
	if code, _ := exitOutput(err); code != ExitUsage {
		t.Errorf("runStatus()=%v (exit %d), want exit %d", err, code, ExitUsage)
	}
}
