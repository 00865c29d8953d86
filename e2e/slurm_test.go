package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/metalab-hpc/metalab/internal/testexp"
)

// opScript is the operation of the test sweeps: it notes each execution in
// $EXEC_LOG (to prove that no completed run executes twice), sleeps
// $SLEEP seconds, and reports y = 3x + replicate.
const opScript = `#!/bin/sh
set -eu
echo "$METALAB_RUN_ID" >> "$EXEC_LOG"
sleep "${SLEEP:-0}"
echo "{\"metric\": \"y\", \"value\": $((METALAB_PARAM_X * 3 + METALAB_REPLICATE))}" >> "$METALAB_CAPTURE"
`

// writeSweep writes an experiment of points x values times replicates runs
// of opScript, with the given [slurm] table, and returns its path.
func writeSweep(t *testing.T, dir, name string, points, replicates int, slurmTable string) string {
	return testexp.Write(t, dir, testexp.Spec{Name: name, Op: opScript, Points: points, Replicates: replicates,
		SeedBase: 7, Tail: "[slurm]\n" + slurmTable})
}

// TestSweepOnTwoNodes: 1,000 runs in 25 array tasks over both nodes; collect
// gives exactly one completed record per run ID, with the run IDs and metric
// values of the same sweep run locally; the throttle holds; status agrees
// with the store and calls squeue once per refresh.
func TestSweepOnTwoNodes(t *testing.T) {
	needCluster(t)
	dir := sharedDir(t)
	exp := writeSweep(t, dir, "e2e_sweep", 500, 2, "runs_per_task = 40\nmax_concurrent = 8\ntime = \"10\"")
	store := filepath.Join(dir, "store")
	execLog := filepath.Join(dir, "exec.log")
	env := []string{"EXEC_LOG=" + execLog}

	out := mustRun(t, env, bins.metalab, "submit", exp, "--store", store)
	if !strings.Contains(out, "1000 to submit") || !strings.Contains(out, "25 tasks") {
		t.Fatalf("submit output:\n%s", out)
	}

	// status through a squeue wrapper that counts its calls.
	calls := filepath.Join(dir, "squeue.calls")
	wrapper := filepath.Join(dir, "squeue-counting")
	real, err := exec.LookPath("squeue")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(wrapper, []byte("#!/bin/sh\necho call >> '"+calls+"'\nexec '"+real+"' \"$@\"\n"), 0o755)
	statusEnv := []string{"METALAB_SQUEUE=" + wrapper}
	refreshes, lastCompleted := 0, 0
	maxRunning := 0
	nodes := map[string]bool{}
	waitJobs(t, store, 5*time.Minute, func() {
		running := squeueTasks(t, jobIDs(t, store), "R")
		maxRunning = max(maxRunning, len(running))
		for _, l := range running {
			if f := strings.Fields(l); len(f) == 3 {
				nodes[f[2]] = true
			}
		}
		if refreshes < 3 {
			var st struct {
				Total, Completed, Failed, Cancelled, Running, Pending int
				Scheduler                                             *struct{ Jobs int }
			}
			out := mustRun(t, statusEnv, bins.metalab, "status", "--store", store, "--json")
			if err := json.Unmarshal([]byte(out), &st); err != nil {
				t.Fatalf("status --json: %v\n%s", err, out)
			}
			// The store's view: every planned run counted once, completed
			// never going back, and never more than the store holds.
			sum := st.Completed + st.Failed + st.Cancelled + st.Running + st.Pending
			if st.Total != 1000 || sum != 1000 || st.Completed < lastCompleted || st.Completed > len(completedCounts(t, store)) {
				t.Errorf("status during the sweep: %+v (sum %d, completed before %d)", st, sum, lastCompleted)
			}
			if st.Scheduler == nil {
				t.Errorf("status during the sweep says nothing of the scheduler: %s", out)
			}
			lastCompleted = st.Completed
			refreshes++
		}
	})
	if got := countLines(t, calls)["call"]; got != refreshes {
		t.Errorf("status called squeue %d times in %d refreshes, want one per refresh", got, refreshes)
	}
	if maxRunning > 8 {
		t.Errorf("%d tasks ran at once, max_concurrent is 8", maxRunning)
	}
	t.Logf("tasks seen running at once: at most %d, on nodes %v", maxRunning, nodes)

	out = mustRun(t, nil, bins.metalab, "collect", "--store", store)
	if !strings.Contains(out, "1000 runs (1000 completed") || !strings.Contains(out, "0 missing, 0 failed") {
		t.Fatalf("collect output:\n%s", out)
	}
	again := mustRun(t, nil, bins.metalab, "collect", "--store", store)
	if !strings.Contains(again, "0 new records: 1000 runs (1000 completed") {
		t.Errorf("a second collect changed something:\n%s", again)
	}

	completed := map[string]int{}
	hosts := map[string]bool{}
	for _, r := range segmentRecords(t, store) {
		if r.Status == "completed" {
			completed[r.RunID]++
			hosts[r.Host] = true
		}
	}
	if len(completed) != 1000 {
		t.Fatalf("%d run IDs completed, want 1000", len(completed))
	}
	for id, n := range completed {
		if n != 1 {
			t.Errorf("run %s has %d completed records", id, n)
		}
	}
	if !hosts["n1"] || !hosts["n2"] {
		t.Errorf("runs ran on %v, want both n1 and n2", hosts)
	}
	segs, _ := filepath.Glob(filepath.Join(store, "segments", "*"))
	if len(segs) < 20 {
		t.Errorf("%d segments, want one per array task (25)", len(segs))
	}

	status := mustRun(t, nil, bins.metalab, "status", "--store", store)
	if !strings.Contains(status, "1000 runs: 1000 completed, 0 failed, 0 cancelled, 0 running, 0 pending") {
		t.Errorf("status after the sweep:\n%s", status)
	}

	// The same sweep run locally gives the same run IDs and metric values.
	local := filepath.Join(dir, "local")
	mustRun(t, []string{"EXEC_LOG=" + filepath.Join(dir, "local.log")}, bins.metalab,
		"run", exp, "--store", local, "--progress", "quiet", "--no-table")
	onCluster, here := resultsByID(t, bins.metalab, store), resultsByID(t, bins.metalab, local)
	if len(here) != 1000 || len(onCluster) != 1000 {
		t.Fatalf("%d local and %d cluster results, want 1000 each", len(here), len(onCluster))
	}
	for id, l := range here {
		c, ok := onCluster[id]
		if !ok {
			t.Fatalf("run %s ran locally but not on the cluster", id)
		}
		if c.Metrics["y"] != l.Metrics["y"] {
			t.Errorf("run %s: y=%v on the cluster, %v locally", id, c.Metrics["y"], l.Metrics["y"])
		}
	}
}

// TestCancelThenSubmitAgain cancels a sweep half-way; a second submit
// submits only the runs not completed, and no completed run executes twice.
func TestCancelThenSubmitAgain(t *testing.T) {
	needCluster(t)
	dir := sharedDir(t)
	exp := writeSweep(t, dir, "e2e_cancel", 20, 2, "runs_per_task = 2\nmax_concurrent = 4")
	store := filepath.Join(dir, "store")
	execLog := filepath.Join(dir, "exec.log")
	env := []string{"EXEC_LOG=" + execLog, "SLEEP=0.5"}
	mustRun(t, env, bins.metalab, "submit", exp, "--store", store)

	deadline := time.Now().Add(2 * time.Minute)
	for len(countLines(t, execLog)) < 10 {
		if time.Now().After(deadline) {
			t.Fatal("the sweep did not start")
		}
		time.Sleep(200 * time.Millisecond)
	}
	mustRun(t, nil, bins.metalab, "cancel", "--store", store)
	waitJobs(t, store, time.Minute, nil)

	out := collectAny(t, bins.metalab, store)
	before := resultsByID(t, bins.metalab, store)
	done := map[string]bool{}
	for id, r := range before {
		if r.Status == "completed" {
			done[id] = true
		}
	}
	if len(done) == 0 || len(done) == 40 {
		t.Fatalf("after cancel %d of 40 runs completed; want part of the sweep\n%s", len(done), out)
	}

	out = mustRun(t, env, bins.metalab, "submit", exp, "--store", store)
	if want := fmt.Sprintf("%d already completed, %d to submit", len(done), 40-len(done)); !strings.Contains(out, want) {
		t.Fatalf("second submit: want %q in\n%s", want, out)
	}
	waitJobs(t, store, 3*time.Minute, nil)
	out = mustRun(t, nil, bins.metalab, "collect", "--store", store)
	if !strings.Contains(out, "40 runs (40 completed") {
		t.Fatalf("after the second submit:\n%s", out)
	}
	execs := countLines(t, execLog)
	for id := range done {
		if execs[id] != 1 {
			t.Errorf("run %s completed before the cancel and executed %d times", id, execs[id])
		}
	}
	for id, n := range completedCounts(t, store) {
		if n != 1 {
			t.Errorf("run %s has %d completed records", id, n)
		}
	}
}

func completedCounts(t *testing.T, store string) map[string]int {
	m := map[string]int{}
	for _, r := range segmentRecords(t, store) {
		if r.Status == "completed" {
			m[r.RunID]++
		}
	}
	return m
}

// TestRequeueLeavesNoDuplicate requeues a running task: its second attempt
// skips the runs the first completed, and the results hold one per run.
func TestRequeueLeavesNoDuplicate(t *testing.T) {
	needCluster(t)
	dir := sharedDir(t)
	exp := writeSweep(t, dir, "e2e_requeue", 4, 2, "runs_per_task = 4\nrequeue = true")
	store := filepath.Join(dir, "store")
	execLog := filepath.Join(dir, "exec.log")
	env := []string{"EXEC_LOG=" + execLog, "SLEEP=1"}
	mustRun(t, env, bins.metalab, "submit", exp, "--store", store)
	ids := jobIDs(t, store)

	// Wait until task 0 has finished a run and is in its next one.
	deadline := time.Now().Add(time.Minute)
	for {
		recs := completedCounts(t, store)
		if len(recs) >= 1 && len(squeueTasks(t, ids, "R")) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no task got to a second run")
		}
		time.Sleep(200 * time.Millisecond)
	}
	task := ids[0] + "_0"
	if out, err := exec.Command("scontrol", "requeue", task).CombinedOutput(); err != nil {
		t.Fatalf("scontrol requeue %s: %v %s", task, err, out)
	}
	// SLURM holds a requeued job back for a while (BeginTime); let it go now.
	time.Sleep(time.Second)
	exec.Command("scontrol", "update", "JobId="+task, "StartTime=now").Run()
	waitJobs(t, store, 5*time.Minute, nil)

	out := mustRun(t, nil, bins.metalab, "collect", "--store", store)
	if !strings.Contains(out, "8 runs (8 completed") || strings.Contains(out, "duplicate") {
		t.Fatalf("collect after requeue:\n%s", out)
	}
	for id, n := range completedCounts(t, store) {
		if n != 1 {
			t.Errorf("run %s has %d completed records after the requeue", id, n)
		}
	}
	restarted, _ := filepath.Glob(filepath.Join(store, "segments", "*-r1.jsonl"))
	if len(restarted) == 0 {
		t.Errorf("no segment of the requeued attempt (SLURM_RESTART_COUNT=1)")
	}
}

// TestGoExperimentOnCluster submits a Go experiment built with
// launcher.Main: the same binary submits and works.
func TestGoExperimentOnCluster(t *testing.T) {
	needCluster(t)
	dir := sharedDir(t)
	store := filepath.Join(dir, "store")
	out := mustRun(t, nil, bins.goexp, "submit", "--store", store, "--collect", "go_pi")
	if !strings.Contains(out, "20 to submit") || !strings.Contains(out, "submitted collect: job") {
		t.Fatalf("submit:\n%s", out)
	}
	waitJobs(t, store, 3*time.Minute, nil)
	// The collect job runs after the arrays (afterany) and writes its report
	// to the store's SLURM logs.
	deadline := time.Now().Add(time.Minute)
	for {
		logs, _ := filepath.Glob(filepath.Join(store, "logs", "slurm", "go_pi-collect-*.out"))
		if len(logs) == 1 {
			if b, _ := os.ReadFile(logs[0]); strings.Contains(string(b), "20 runs (20 completed") {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the collect job wrote no report: %v", logs)
		}
		time.Sleep(300 * time.Millisecond)
	}
	out = mustRun(t, nil, bins.goexp, "collect", "--store", store)
	if !strings.Contains(out, "20 runs (20 completed") {
		t.Fatalf("collect:\n%s", out)
	}
	local := filepath.Join(dir, "local")
	mustRun(t, nil, bins.goexp, "run", "--store", local, "--progress", "quiet", "--no-table", "go_pi")
	onCluster, here := resultsByID(t, bins.goexp, store), resultsByID(t, bins.goexp, local)
	if len(onCluster) != 20 || len(here) != 20 {
		t.Fatalf("%d cluster and %d local results, want 20", len(onCluster), len(here))
	}
	for id, l := range here {
		if c := onCluster[id]; c.Metrics["pi"] != l.Metrics["pi"] {
			t.Errorf("run %s: pi=%v on the cluster, %v locally", id, c.Metrics["pi"], l.Metrics["pi"])
		}
	}
	bin, _ := filepath.Glob(filepath.Join(store, "bin", "goexp-*"))
	if len(bin) != 1 {
		t.Errorf("pinned binaries in the store: %v, want one goexp-<hash>", bin)
	}
}

// TestHundredThousandRunsOnCluster: 100,000 in-process runs of a Go
// experiment (launcher.Main) in 20 array tasks over both nodes. Every run
// ends completed exactly once (one end record per run ID in all the
// segments, attempts included), with its own metric, and the store holds
// O(tasks) files.
func TestHundredThousandRunsOnCluster(t *testing.T) {
	needCluster(t)
	const n = 100_000
	dir := sharedDir(t)
	store := filepath.Join(dir, "store")
	start := time.Now()
	out := mustRun(t, nil, bins.goexp, "submit", "--store", store, "go_scale")
	if !strings.Contains(out, "100000 to submit") || !strings.Contains(out, "20 tasks") {
		t.Fatalf("submit:\n%s", out)
	}
	waitJobs(t, store, 15*time.Minute, nil)
	ran := time.Since(start)
	if out := mustRun(t, nil, bins.goexp, "collect", "--store", store); !strings.Contains(out, "100000 runs (100000 completed") {
		t.Fatalf("collect:\n%s", out)
	}
	ends := map[string]int{}
	for _, r := range segmentRecords(t, store) {
		ends[r.RunID]++
		if r.Status != "completed" {
			t.Errorf("run %s ended %s", r.RunID, r.Status)
			continue
		}
		i, ok := r.Params["i"].(float64)
		if !ok || r.Metrics["twice"] != 2*i {
			t.Errorf("run %s: params %v, metrics %v", r.RunID, r.Params, r.Metrics)
		}
	}
	if len(ends) != n {
		t.Errorf("%d run IDs in the segments, want %d", len(ends), n)
	}
	for id, c := range ends {
		if c != 1 {
			t.Errorf("run %s has %d end records, want 1", id, c)
		}
	}
	files := 0
	filepath.WalkDir(store, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files++
		}
		return nil
	})
	if files > 20*10 {
		t.Errorf("%d files in the store for 20 tasks: not O(tasks)", files)
	}
	t.Logf("%d runs in 20 tasks: submit to an empty queue in %v; %d files in the store", n, ran.Round(time.Second), files)
}
