package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The tests of issue 16: SLURM at the edges. Job IDs that the scheduler
// hands out again, submitters that race, a local run beside a submission,
// a worker killed by SLURM, a short time limit, and many short runs.

// restartClean restarts the cluster with a clean state: the controller
// forgets every job, and job IDs start again at 1.
func restartClean(t *testing.T) {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join(repoRoot(), "hack", "slurm-docker", "up.sh"), "--clean", "--no-install")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("up.sh --clean: %v\n%s", err, out)
	}
}

// sbatchWrap submits a --wrap job outside metalab and cancels it when the
// test ends; it returns its job ID.
func sbatchWrap(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("sbatch", append([]string{"--parsable"}, args...)...).Output()
	if err != nil {
		t.Fatalf("sbatch %v: %v", args, err)
	}
	id := strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("scancel", id).Run() })
	return id
}

// jobState is the state squeue shows for a job (one line a task of an
// array), or "" once it has gone.
func jobState(t *testing.T, id string) string {
	out, _ := exec.Command("squeue", "-h", "-t", "all", "-j", id, "-o", "%T").Output()
	return strings.TrimSpace(string(out))
}

// jobEnded reports whether every task of a job has ended (or gone).
func jobEnded(t *testing.T, id string) bool {
	for _, s := range strings.Fields(jobState(t, id)) {
		switch s {
		case "PENDING", "RUNNING", "COMPLETING", "CONFIGURING", "SUSPENDED", "REQUEUED":
			return false
		}
	}
	return true
}

// waitUntil polls cond every 200 ms until it holds, or fails the test.
func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// executions counts the lines of an execution log: how many times each run
// executed, and in all.
func executions(t *testing.T, log string) (map[string]int, int) {
	t.Helper()
	counts := countLines(t, log)
	total := 0
	for _, n := range counts {
		total += n
	}
	return counts, total
}

// statusJSON is the part of `metalab status --json` the tests read.
type statusJSON struct {
	Total, Completed, Failed, Cancelled, Running, Pending, Interrupted int
	Scheduler                                                          *struct {
		Jobs         int `json:"jobs"`
		TasksRunning int `json:"tasks_running"`
		TasksPending int `json:"tasks_pending"`
	}
}

func status(t *testing.T, bin, store string) statusJSON {
	t.Helper()
	out := mustRun(t, nil, bin, "status", "--store", store, "--json")
	var s statusJSON
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	return s
}

// TestRecycledJobID: the cluster restarts with a clean state, and foreign
// jobs get the job IDs a finished submission of the store recorded, one of
// another name and one of the sweep's own name. status does not count
// them, cancel leaves them running, and collect --resubmit is not refused
// because of them.
func TestRecycledJobID(t *testing.T) {
	needCluster(t)
	if os.Geteuid() != 0 {
		t.Skip("restarting the cluster with a clean state needs root")
	}
	restartClean(t)
	dir := sharedDir(t)
	// Runs with an odd x fail until $FIXED exists.
	fixed := filepath.Join(dir, "fixed")
	exp := writeSweep(t, dir, "e2e_recycled", 4, 1, "runs_per_task = 2")
	op := "#!/bin/sh\nset -eu\nif [ $((METALAB_PARAM_X % 2)) -eq 1 ] && [ ! -e \"$FIXED\" ]; then exit 3; fi\n" + opScript[len("#!/bin/sh\nset -eu\n"):]
	if err := os.WriteFile(filepath.Join(dir, "op.sh"), []byte(op), 0o755); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(dir, "store")
	env := []string{"EXEC_LOG=" + filepath.Join(dir, "exec.log"), "FIXED=" + fixed}
	mustRun(t, env, bins.metalab, "submit", exp, "--store", store)
	recorded := jobIDs(t, store)
	waitJobs(t, store, 2*time.Minute, nil)
	if out := collectAny(t, bins.metalab, store); !strings.Contains(out, "4 runs (2 completed, 2 failed") {
		t.Fatalf("collect after the first submission:\n%s", out)
	}

	restartClean(t)
	victim := sbatchWrap(t, "-J", "victim", "--wrap", "sleep 300")
	twin := sbatchWrap(t, "-J", "e2e_recycled", "--wrap", "sleep 300")
	if victim != recorded[0] {
		t.Fatalf("the foreign job got ID %s, not the recorded %s", victim, recorded[0])
	}
	waitUntil(t, "the foreign jobs to run", time.Minute, func() bool {
		return jobState(t, victim) == "RUNNING" && jobState(t, twin) == "RUNNING"
	})

	st := status(t, bins.metalab, store)
	if st.Scheduler == nil || st.Scheduler.Jobs != 0 || st.Scheduler.TasksRunning != 0 || st.Running != 0 || st.Completed != 2 {
		t.Errorf("status counts a foreign job: %+v", st)
	}
	out := mustRun(t, nil, bins.metalab, "cancel", "--store", store)
	if !strings.Contains(out, "nothing cancelled") || !strings.Contains(out, "left alone: job "+victim+" recorded in the store") {
		t.Errorf("cancel:\n%s", out)
	}
	if a, b := jobState(t, victim), jobState(t, twin); a != "RUNNING" || b != "RUNNING" {
		t.Errorf("after cancel the foreign jobs are %s and %s, want RUNNING", a, b)
	}

	// A resubmission is not refused because of them.
	os.WriteFile(fixed, nil, 0o644)
	r := run(t, env, bins.metalab, "collect", "--store", store, "--resubmit")
	if r.code != 0 || !strings.Contains(r.stdout, "resubmitting 2 runs") {
		t.Fatalf("collect --resubmit beside foreign jobs: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	subs := submissions(t, store)
	latest := subs[len(subs)-1].Arrays[0].JobID
	if !strings.Contains(r.stdout, "submitted array 0: job "+latest) {
		t.Errorf("resubmission output:\n%s", r.stdout)
	}
	waitUntil(t, "the resubmission to end", 2*time.Minute, func() bool { return jobEnded(t, latest) })
	if out := mustRun(t, nil, bins.metalab, "collect", "--store", store); !strings.Contains(out, "4 runs (4 completed") {
		t.Errorf("collect at the end:\n%s", out)
	}
	if a, b := jobState(t, victim), jobState(t, twin); a != "RUNNING" || b != "RUNNING" {
		t.Errorf("at the end the foreign jobs are %s and %s, want RUNNING", a, b)
	}
	figures(t, "recorded_job_ids=%v foreign_job_ids=%s,%s foreign_state_after_cancel=RUNNING status_jobs=%d resubmitted=2",
		recorded, victim, twin, st.Scheduler.Jobs)
}

// TestSimultaneousSubmits starts two submits of one store at the same
// moment, three times: one is refused (by the store's lock, or by the queue
// check once the other's jobs are queued), and every run executes once.
func TestSimultaneousSubmits(t *testing.T) {
	needCluster(t)
	byLock, byQueue := 0, 0
	const runs = 100
	for round := range 3 {
		dir := sharedDir(t)
		exp := writeSweep(t, dir, "e2e_twosubmits", 50, 2, "max_concurrent = 8")
		store := filepath.Join(dir, "store")
		execLog := filepath.Join(dir, "exec.log")
		env := append(os.Environ(), "EXEC_LOG="+execLog, "SLEEP=0.1")
		var cmds [2]*exec.Cmd
		var outs [2]bytes.Buffer
		for i := range cmds {
			cmds[i] = exec.Command(bins.metalab, "submit", exp, "--store", store)
			cmds[i].Env = env
			cmds[i].Stdout, cmds[i].Stderr = &outs[i], &outs[i]
		}
		for _, c := range cmds {
			if err := c.Start(); err != nil {
				t.Fatal(err)
			}
		}
		codes := [2]int{}
		for i, c := range cmds {
			c.Wait()
			codes[i] = c.ProcessState.ExitCode()
		}
		ok := 0
		for i, code := range codes {
			switch {
			case code == 0:
				ok++
			case code == 1 && strings.Contains(outs[i].String(), "is in use by metalab submit"):
				byLock++
			case code == 2 && strings.Contains(outs[i].String(), "still have"):
				byQueue++
			default:
				t.Errorf("round %d, submit %d: exit %d\n%s", round, i, code, outs[i].String())
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: %d submits went through, want 1:\n%s\n---\n%s", round, ok, outs[0].String(), outs[1].String())
		}
		waitJobs(t, store, 3*time.Minute, nil)
		if out := mustRun(t, nil, bins.metalab, "collect", "--store", store); !strings.Contains(out, fmt.Sprintf("%d runs (%d completed", runs, runs)) {
			t.Fatalf("round %d: collect:\n%s", round, out)
		}
		counts, total := executions(t, execLog)
		if total != runs || len(counts) != runs {
			t.Errorf("round %d: %d executions of %d runs, want each once", round, total, len(counts))
		}
		if len(submissions(t, store)) != 1 {
			t.Errorf("round %d: %d submissions recorded, want 1", round, len(submissions(t, store)))
		}
	}
	figures(t, "rounds=3 runs=%d refused_by_lock=%d refused_by_queue=%d executions_per_run=1", runs, byLock, byQueue)
}

// TestSubmitDuringLocalRun: a submit while `metalab run` works on the store
// is refused, naming the run, and submits nothing once the run has
// completed everything; a local `run --wait` started while a submission's
// tasks run shares the work with them. No run executes twice.
func TestSubmitDuringLocalRun(t *testing.T) {
	needCluster(t)

	// A local run first, a submit during it.
	dir := sharedDir(t)
	const runs = 30
	exp := writeSweep(t, dir, "e2e_localfirst", runs, 1, "")
	store := filepath.Join(dir, "store")
	execLog := filepath.Join(dir, "exec.log")
	env := []string{"EXEC_LOG=" + execLog, "SLEEP=0.3"}
	local := exec.Command(bins.metalab, "run", exp, "--store", store, "--workers", "2", "--progress", "quiet", "--no-table")
	local.Env = append(os.Environ(), env...)
	var localOut bytes.Buffer
	local.Stdout, local.Stderr = &localOut, &localOut
	if err := local.Start(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the local run to start runs", time.Minute, func() bool { _, n := executions(t, execLog); return n >= 2 })
	r := run(t, env, bins.metalab, "submit", exp, "--store", store)
	if r.code != 1 || !strings.Contains(r.stderr, "is in use by metalab run of experiment") || !strings.Contains(r.stderr, "hint: a local run executes this store's runs") {
		t.Errorf("submit during a local run: exit %d, want 1 naming the run\n%s%s", r.code, r.stdout, r.stderr)
	}
	if err := local.Wait(); err != nil {
		t.Fatalf("local run: %v\n%s", err, localOut.String())
	}
	if out := mustRun(t, env, bins.metalab, "submit", exp, "--store", store); !strings.Contains(out, fmt.Sprintf("nothing to submit: all %d runs are already completed", runs)) {
		t.Errorf("submit after the local run:\n%s", out)
	}
	counts, total := executions(t, execLog)
	if total != runs || len(counts) != runs {
		t.Errorf("a local run and a refused submit: %d executions of %d runs, want %d", total, len(counts), runs)
	}

	// A submission first, a local run --wait while its tasks run.
	dir = sharedDir(t)
	const runs2 = 40
	exp = writeSweep(t, dir, "e2e_submitfirst", runs2, 1, "runs_per_task = 5\nmax_concurrent = 2")
	store = filepath.Join(dir, "store")
	execLog = filepath.Join(dir, "exec.log")
	env = []string{"EXEC_LOG=" + execLog, "SLEEP=0.5"}
	mustRun(t, env, bins.metalab, "submit", exp, "--store", store)
	waitUntil(t, "the tasks to start runs", time.Minute, func() bool { _, n := executions(t, execLog); return n >= 3 })
	local = exec.Command(bins.metalab, "run", exp, "--store", store, "--wait", "--workers", "2", "--progress", "quiet", "--no-table")
	local.Env = append(os.Environ(), env...)
	localOut.Reset()
	local.Stdout, local.Stderr = &localOut, &localOut
	if err := local.Start(); err != nil {
		t.Fatal(err)
	}
	waitJobs(t, store, 5*time.Minute, nil)
	if err := local.Wait(); err != nil {
		t.Fatalf("local run --wait: %v\n%s", err, localOut.String())
	}
	out := collectAny(t, bins.metalab, store)
	counts, total = executions(t, execLog)
	twice := 0
	for _, n := range counts {
		if n > 1 {
			twice++
		}
	}
	if !strings.Contains(out, fmt.Sprintf("%d runs (%d completed", runs2, runs2)) || total != runs2 || twice > 0 {
		t.Errorf("a submission and a local run: %d executions of %d runs, %d twice\n%s", total, len(counts), twice, out)
	}
	byTasks := 0
	for _, r := range segmentRecords(t, store) {
		if r.Status == "completed" && r.TaskID != "" {
			byTasks++
		}
	}
	figures(t, "local_first: runs=%d executions=%d submit_refused=1; submission_first: runs=%d executions=%d by_tasks=%d by_local_run=%d executed_twice=%d",
		runs, runs, runs2, total, byTasks, runs2-byTasks, twice)
}

// TestWorkerKilledAfterIgnoringSIGTERM: cancel sends SIGTERM to workers
// whose (Go) operation ignores its cancellation; SLURM kills them with
// SIGKILL KillWait (5 s) later, before they record anything. status
// reports their runs lost, not running, and collect --resubmit submits
// them once again.
func TestWorkerKilledAfterIgnoringSIGTERM(t *testing.T) {
	needCluster(t)
	dir := sharedDir(t)
	store := filepath.Join(dir, "store")
	execLog := filepath.Join(dir, "exec.log")
	stubborn := filepath.Join(dir, "stubborn")
	os.WriteFile(stubborn, nil, 0o644)
	env := []string{"EXEC_LOG=" + execLog, "STUBBORN=" + stubborn}
	mustRun(t, env, bins.goexp, "submit", "--store", store, "go_stubborn")
	waitUntil(t, "both tasks to start a run", time.Minute, func() bool { _, n := executions(t, execLog); return n >= 2 })
	first, _ := executions(t, execLog)

	start := time.Now()
	if out := mustRun(t, nil, bins.goexp, "cancel", "--store", store); !strings.Contains(out, "cancelled job ") {
		t.Fatalf("cancel:\n%s", out)
	}
	waitJobs(t, store, time.Minute, nil)
	killed := time.Since(start)
	// SLURM's SIGKILL comes KillWait (5 s) after its SIGTERM, which it
	// sends a moment after scancel returns.
	if killed < 4*time.Second {
		t.Errorf("the tasks ended %v after cancel; SLURM's SIGKILL comes KillWait (5 s) after SIGTERM", killed)
	}

	st := status(t, bins.goexp, store)
	if st.Running != 0 || st.Interrupted != 2 || st.Pending != 4 {
		t.Errorf("status after SLURM killed the workers: %+v, want 2 lost (interrupted), none running, 4 pending", st)
	}
	text := mustRun(t, nil, bins.goexp, "status", "--store", store)
	if !regexp.MustCompile(`(?m)^lost: 2 runs left running by job [0-9]+_[01], job [0-9]+_[01], which ended without recording them`).MatchString(text) {
		t.Errorf("status does not report the lost runs:\n%s", text)
	}

	os.Remove(stubborn)
	r := run(t, env, bins.goexp, "collect", "--store", store, "--resubmit")
	if r.code != 0 || !strings.Contains(r.stdout, "lost: 2 runs left running by job") || !strings.Contains(r.stdout, "resubmitting 4 runs") {
		t.Fatalf("collect --resubmit: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	waitJobs(t, store, 2*time.Minute, nil)
	if out := mustRun(t, nil, bins.goexp, "collect", "--store", store); !strings.Contains(out, "4 runs (4 completed") {
		t.Fatalf("collect after the resubmission:\n%s", out)
	}
	counts, total := executions(t, execLog)
	for id, n := range counts {
		want := 1
		if first[id] > 0 {
			want = 2 // killed once, then resubmitted once
		}
		if n != want {
			t.Errorf("run %s executed %d times, want %d", id, n, want)
		}
	}
	figures(t, "runs=4 lost=%d seconds_from_cancel_to_gone=%.1f resubmitted=4 executions=%d (the 2 lost twice, the others once)",
		st.Interrupted, killed.Seconds(), total)
}

// TestCancelledWithinKillWait: an experiment file's program that ignores
// SIGTERM is killed by its worker half of KillWait after SIGTERM, and
// recorded as cancelled, before SLURM's SIGKILL: nothing is lost.
func TestCancelledWithinKillWait(t *testing.T) {
	needCluster(t)
	dir := sharedDir(t)
	exp := writeSweep(t, dir, "e2e_stubborn", 2, 1, "runs_per_task = 1")
	op := "#!/bin/sh\nset -eu\necho \"$METALAB_RUN_ID\" >> \"$EXEC_LOG\"\nif [ -e \"$STUBBORN\" ]; then trap '' TERM; sleep 60; fi\n" +
		"echo '{\"metric\": \"y\", \"value\": 1}' >> \"$METALAB_CAPTURE\"\n"
	if err := os.WriteFile(filepath.Join(dir, "op.sh"), []byte(op), 0o755); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(dir, "store")
	execLog := filepath.Join(dir, "exec.log")
	stubborn := filepath.Join(dir, "stubborn")
	os.WriteFile(stubborn, nil, 0o644)
	env := []string{"EXEC_LOG=" + execLog, "STUBBORN=" + stubborn}
	mustRun(t, env, bins.metalab, "submit", exp, "--store", store)
	waitUntil(t, "both tasks to start their run", time.Minute, func() bool { _, n := executions(t, execLog); return n >= 2 })
	start := time.Now()
	mustRun(t, nil, bins.metalab, "cancel", "--store", store)
	waitJobs(t, store, time.Minute, nil)
	gone := time.Since(start)
	st := status(t, bins.metalab, store)
	if st.Cancelled != 2 || st.Running != 0 || st.Interrupted != 0 {
		t.Errorf("status after cancel: %+v, want 2 cancelled, none running or lost", st)
	}
	var signal string
	for _, r := range segmentRecords(t, store) {
		if r.Status != "cancelled" {
			t.Errorf("run %s recorded %s, want cancelled", r.RunID, r.Status)
		}
	}
	b, _ := exec.Command("sh", "-c", "cat "+filepath.Join(store, "segments", "*.jsonl")).Output()
	if m := regexp.MustCompile(`"signal":"(SIG[A-Z]+)"`).FindSubmatch(b); m != nil {
		signal = string(m[1])
	}
	figures(t, "runs=2 cancelled=%d lost=%d seconds_from_cancel_to_gone=%.1f killwait=5 grace=2.5 run_killed_by=%s",
		st.Cancelled, st.Interrupted, gone.Seconds(), signal)
}

// TestShortTimeLimit: with time = "00:01:00" and 4 tasks at a time, a
// sweep of 60 runs of 5 s (300 s of work, 75 s a task) finishes in at most
// 3 rounds of submit and collect --resubmit: the warning signal is derived
// from the limit (USR1@6, not @120, which came 17 s in and cancelled runs),
// and the resubmission sizes its tasks from the durations of the first
// round to fit the limit.
func TestShortTimeLimit(t *testing.T) {
	needCluster(t)
	dir := sharedDir(t)
	const runs = 60
	exp := writeSweep(t, dir, "e2e_shortlimit", runs, 1, "time = \"00:01:00\"\nmax_concurrent = 4")
	store := filepath.Join(dir, "store")
	execLog := filepath.Join(dir, "exec.log")
	env := []string{"EXEC_LOG=" + execLog, "SLEEP=5"}
	if out := mustRun(t, env, bins.metalab, "submit", exp, "--store", store, "--dry-run"); !strings.Contains(out, "#SBATCH --signal=B:USR1@6\n") {
		t.Fatalf("dry run: want the signal derived from the limit\n%s", out)
	}
	start := time.Now()
	var rounds []string
	out := mustRun(t, env, bins.metalab, "submit", exp, "--store", store)
	for round := 1; ; round++ {
		tasks := regexp.MustCompile(`in (\d+) tasks of at most (\d+) runs`).FindStringSubmatch(out)
		waitJobs(t, store, 5*time.Minute, nil)
		collected := collectAny(t, bins.metalab, store)
		done := regexp.MustCompile(`(\d+) runs \((\d+) completed`).FindStringSubmatch(collected)
		if tasks == nil || done == nil {
			t.Fatalf("round %d: submit said\n%s\ncollect said\n%s", round, out, collected)
		}
		rounds = append(rounds, fmt.Sprintf("round%d: %s tasks x %s runs -> %s completed", round, tasks[1], tasks[2], done[2]))
		if done[2] == strconv.Itoa(runs) {
			break
		}
		if round == 5 {
			t.Fatalf("not finished after 5 rounds: %v", rounds)
		}
		out = mustRun(t, env, bins.metalab, "collect", "--store", store, "--resubmit")
	}
	counts, total := executions(t, execLog)
	again := 0
	cancelled := 0
	for _, r := range segmentRecords(t, store) {
		if r.Status == "cancelled" {
			cancelled++
		}
	}
	for _, n := range counts {
		again += n - 1
	}
	figures(t, "runs=%d x 5s time=00:01:00 max_concurrent=4 rounds=%d [%s] wall=%.0fs executions=%d cancelled=%d",
		runs, len(rounds), strings.Join(rounds, "; "), time.Since(start).Seconds(), total, cancelled)
	if len(rounds) > 3 {
		t.Errorf("%d rounds, want at most 3: %v", len(rounds), rounds)
	}
	if again > cancelled {
		t.Errorf("%d runs executed again, but only %d were cancelled: a completed run ran twice", again, cancelled)
	}
}

// TestDefaultTaskSize: 2,000 runs of about no time, with no runs_per_task,
// become at most 40 tasks (32: one per default slot), not 1,000 of 2; the
// store ends with a few files a task, none of them empty.
func TestDefaultTaskSize(t *testing.T) {
	needCluster(t)
	dir := sharedDir(t)
	const runs = 2000
	exp := writeSweep(t, dir, "e2e_manyshort", 1000, 2, "")
	store := filepath.Join(dir, "store")
	env := []string{"EXEC_LOG=" + filepath.Join(dir, "exec.log")}
	start := time.Now()
	out := mustRun(t, env, bins.metalab, "submit", exp, "--store", store)
	m := regexp.MustCompile(`in (\d+) tasks of at most (\d+) runs`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("submit:\n%s", out)
	}
	tasks, _ := strconv.Atoi(m[1])
	if tasks > 40 {
		t.Errorf("%d tasks for %d runs, want at most 40", tasks, runs)
	}
	if !strings.Contains(out, "task size: no run durations known yet") {
		t.Errorf("submit does not say how it sized the tasks:\n%s", out)
	}
	waitJobs(t, store, 10*time.Minute, nil)
	wall := time.Since(start)
	if out := mustRun(t, nil, bins.metalab, "collect", "--store", store); !strings.Contains(out, fmt.Sprintf("%d runs (%d completed", runs, runs)) {
		t.Fatalf("collect:\n%s", out)
	}
	byDir := map[string]int{}
	files, empty := 0, 0
	var empties []string
	filepath.WalkDir(store, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(store, path)
		files++
		byDir[filepath.Dir(rel)]++
		if info, err := d.Info(); err == nil && info.Size() == 0 {
			empty++
			empties = append(empties, rel)
		}
		return nil
	})
	var dirs []string
	for d, n := range byDir {
		dirs = append(dirs, fmt.Sprintf("%s=%d", d, n))
	}
	sort.Strings(dirs)
	figures(t, "runs=%d tasks=%d runs_per_task=%s wall=%.0fs files=%d empty=%d by_dir=[%s]",
		runs, tasks, m[2], wall.Seconds(), files, empty, strings.Join(dirs, " "))
	if files > 3*tasks+20 {
		t.Errorf("%d files in the store for %d tasks, want at most 3 a task and 20 more", files, tasks)
	}
	if empty > 0 {
		t.Errorf("%d empty files in the store: %v", empty, empties)
	}
}
