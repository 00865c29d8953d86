package e2e

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// figures prints a test's line of figures to stdout, which hack/test.sh
// shows (it runs this package with -v); docs/reliability.md collects them.
func figures(t *testing.T, format string, args ...any) {
	fmt.Printf("FIGURES %s: %s\n", t.Name(), fmt.Sprintf(format, args...))
}

// TestWorkersKilledAndRequeued kills running array tasks with SIGKILL
// (scancel --full --signal=KILL, as a node that dies) and requeues others
// (scontrol requeue, as a preemption), then submits the sweep again and
// collects: every run completed once, none lost.
func TestWorkersKilledAndRequeued(t *testing.T) {
	needCluster(t)
	dir := sharedDir(t)
	const runs = 60
	exp := writeSweep(t, dir, "e2e_kill", 30, 2, "runs_per_task = 6\nrequeue = true")
	store := filepath.Join(dir, "store")
	execLog := filepath.Join(dir, "exec.log")
	env := []string{"EXEC_LOG=" + execLog, "SLEEP=0.4"}
	mustRun(t, env, bins.metalab, "submit", exp, "--store", store)
	ids := jobIDs(t, store)

	// Hurt each running task once, when it has run a while: kill one,
	// requeue the next.
	hurt := map[string]bool{}
	seen := map[string]time.Time{}
	kills, requeues := 0, 0
	waitJobs(t, store, 3*time.Minute, func() {
		for _, line := range squeueTasks(t, ids, "R") {
			task := strings.Fields(line)[0]
			if hurt[task] {
				continue
			}
			if seen[task].IsZero() {
				seen[task] = time.Now()
				continue
			}
			if time.Since(seen[task]) < 900*time.Millisecond {
				continue
			}
			hurt[task] = true
			if kills <= requeues {
				if out, err := exec.Command("scancel", "--full", "--signal=KILL", task).CombinedOutput(); err != nil {
					t.Logf("scancel %s: %v %s", task, err, out)
					continue
				}
				kills++
			} else {
				if out, err := exec.Command("scontrol", "requeue", task).CombinedOutput(); err != nil {
					t.Logf("scontrol requeue %s: %v %s", task, err, out)
					continue
				}
				requeues++
				// SLURM holds a requeued job back (BeginTime); let it go.
				go func() {
					time.Sleep(time.Second)
					exec.Command("scontrol", "update", "JobId="+task, "StartTime=now").Run()
				}()
			}
		}
	})
	if kills == 0 || requeues == 0 {
		t.Fatalf("kills=%d requeues=%d: the tasks ended before they could be hurt", kills, requeues)
	}
	collected := collectAny(t, bins.metalab, store)
	before := 0
	for _, r := range resultsByID(t, bins.metalab, store) {
		if r.Status == "completed" {
			before++
		}
	}
	// Submit again: only what the killed tasks did not complete.
	out := mustRun(t, env, bins.metalab, "submit", exp, "--store", store)
	if want := fmt.Sprintf("%d already completed, %d to submit", before, runs-before); before < runs && !strings.Contains(out, want) {
		t.Errorf("second submit: want %q in\n%s\n(collect said:\n%s)", want, out, collected)
	}
	waitJobs(t, store, 3*time.Minute, nil)
	out = mustRun(t, nil, bins.metalab, "collect", "--store", store)

	lost, duplicated := 0, 0
	counts := completedCounts(t, store)
	res := resultsByID(t, bins.metalab, store)
	for _, r := range res {
		if r.Status != "completed" {
			lost++
		}
	}
	lost += runs - len(res)
	for _, n := range counts {
		if n > 1 {
			duplicated++
		}
	}
	execs := 0
	for _, n := range countLines(t, execLog) {
		execs += n
	}
	figures(t, "kills=%d requeues=%d runs=%d completed_before_resubmit=%d lost=%d duplicated=%d reexecuted=%d",
		kills, requeues, runs, before, lost, duplicated, execs-runs)
	if !strings.Contains(out, fmt.Sprintf("%d runs (%d completed", runs, runs)) || lost > 0 || duplicated > 0 {
		t.Errorf("after kills, requeues and a second submit: lost=%d duplicated=%d; collect:\n%s", lost, duplicated, out)
	}
}

// TestRacingAttempts runs a second attempt of an array task while the
// first still runs (a requeue racing a slow node): both execute the same
// runs and write completed records, and collect keeps one result per run.
func TestRacingAttempts(t *testing.T) {
	needCluster(t)
	dir := sharedDir(t)
	const runs = 8
	exp := writeSweep(t, dir, "e2e_race", 4, 2, "runs_per_task = 8")
	store := filepath.Join(dir, "store")
	execLog := filepath.Join(dir, "exec.log")
	env := []string{"EXEC_LOG=" + execLog, "SLEEP=0.5"}
	mustRun(t, env, bins.metalab, "submit", exp, "--store", store)
	subs := submissions(t, store)
	if len(subs) != 1 || len(subs[0].Arrays) != 1 {
		t.Fatalf("submissions: %+v", subs)
	}
	job := subs[0].Arrays[0].JobID
	deadline := time.Now().Add(time.Minute)
	for len(squeueTasks(t, []string{job}, "R")) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("task 0 did not start")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The racing attempt: the same task, restarted, on the other node.
	race := run(t, append(env, "SLURM_ARRAY_JOB_ID="+job, "SLURM_JOB_ID="+job, "SLURM_ARRAY_TASK_ID=0",
		"SLURM_RESTART_COUNT=1", "SLURMD_NODENAME=racer"),
		bins.metalab, "worker", "--store", store, "--submission", subs[0].ID, "--array", "0")
	if race.code != 0 {
		t.Fatalf("racing worker: exit %d\n%s", race.code, race.stderr)
	}
	waitJobs(t, store, 2*time.Minute, nil)
	out := mustRun(t, nil, bins.metalab, "collect", "--store", store)
	res := resultsByID(t, bins.metalab, store) // fails on a run listed twice
	completed := 0
	for _, r := range res {
		if r.Status == "completed" {
			completed++
		}
	}
	both := 0
	for _, n := range completedCounts(t, store) {
		if n > 1 {
			both++
		}
	}
	figures(t, "attempts=2 runs=%d results=%d completed=%d executed_by_both=%d duplicated_results=0", runs, len(res), completed, both)
	if len(res) != runs || completed != runs {
		t.Errorf("results: %d, completed %d; want %d each\n%s", len(res), completed, runs, out)
	}
	if both == 0 {
		t.Logf("the attempts did not overlap (no run executed by both)")
	}
	if both > 0 && !strings.Contains(out, "duplicate completed records") {
		t.Errorf("collect does not report the runs executed twice:\n%s", out)
	}
}
