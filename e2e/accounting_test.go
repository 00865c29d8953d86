package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// needAccounting skips a test unless the cluster keeps accounting in a
// slurmdbd (hack/slurm-docker/up.sh --accounting), and fails it when
// METALAB_TEST_ACCOUNTING=1 asks for one.
func needAccounting(t *testing.T) {
	t.Helper()
	needCluster(t)
	out, err := exec.Command("scontrol", "show", "config").Output()
	if err == nil && strings.Contains(string(out), "accounting_storage/slurmdbd") {
		return
	}
	msg := "the cluster keeps no accounting; start it with hack/slurm-docker/up.sh --accounting"
	if os.Getenv("METALAB_TEST_ACCOUNTING") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// accountingOp ends its run as x says: 2 fails, 4 waits until the test
// cancels its task (its job ID goes to $CANCEL_ME), 5 outlives the task's
// time limit, 6 touches 400 MB, over the task's --mem; the others complete.
const accountingOp = `#!/bin/sh
set -eu
echo "$METALAB_RUN_ID" >> "$EXEC_LOG"
case "$METALAB_PARAM_X" in
2) echo "x=2 fails" >&2; exit 3 ;;
4) echo "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}" > "$CANCEL_ME"; sleep 300 ;;
5) sleep 300 ;;
6) python3 -c 'a = bytearray(400 << 20)
for i in range(0, len(a), 4096): a[i] = 1' ;;
esac
echo "{\"metric\": \"y\", \"value\": $METALAB_PARAM_X}" >> "$METALAB_CAPTURE"
`

// TestAccountingSaysHowTasksEnded: tasks driven into COMPLETED, FAILED,
// CANCELLED, TIMEOUT (a task over its one-minute limit) and OUT_OF_MEMORY
// (one over its --mem, killed by the cgroup memory controller that up.sh
// --accounting configures) on a cluster with a real slurmdbd; NODE_FAIL is
// TestAccountingNodeFail. Once the jobs have left the queue, status reports
// each state from the real sacct, with one sacct call per refresh; collect
// --resubmit submits exactly the runs of the tasks that did not complete,
// and they complete.
func TestAccountingSaysHowTasksEnded(t *testing.T) {
	needAccounting(t)
	needMemoryCgroup(t)
	dir := sharedDir(t)
	exp := writeSweep(t, dir, "e2e_accounting", 7, 1, "runs_per_task = 1\ntime = \"1\"\nmem = \"200M\"")
	if err := os.WriteFile(filepath.Join(dir, "op.sh"), []byte(accountingOp), 0o755); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(dir, "store")
	cancelMe := filepath.Join(dir, "cancel-me")
	env := []string{"EXEC_LOG=" + filepath.Join(dir, "exec.log"), "CANCEL_ME=" + cancelMe}
	mustRun(t, env, bins.metalab, "submit", exp, "--store", store)

	cancelled := false
	waitJobs(t, store, 4*time.Minute, func() {
		if b, err := os.ReadFile(cancelMe); err == nil && !cancelled && len(strings.TrimSpace(string(b))) > 0 {
			if out, err := exec.Command("scancel", strings.TrimSpace(string(b))).CombinedOutput(); err != nil {
				t.Fatalf("scancel %s: %v %s", b, err, out)
			}
			cancelled = true
		}
	})
	if !cancelled {
		t.Fatal("the task of x=4 never started")
	}

	// sacct through a wrapper that counts its calls.
	real, err := exec.LookPath("sacct")
	if err != nil {
		t.Fatal(err)
	}
	calls := filepath.Join(dir, "sacct.calls")
	wrapper := filepath.Join(dir, "sacct-counting")
	os.WriteFile(wrapper, []byte("#!/bin/sh\necho call >> '"+calls+"'\nexec '"+real+"' \"$@\"\n"), 0o755)
	// slurmctld hands a job's end to slurmdbd asynchronously: wait until
	// sacct has all seven tasks ended.
	var states map[string]int
	deadline := time.Now().Add(time.Minute)
	for {
		states = accountingStates(t, store, []string{"METALAB_SACCT=" + wrapper})
		n := 0
		for _, c := range states {
			n += c
		}
		if n == 7 && states["RUNNING"] == 0 && states["PENDING"] == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	want := map[string]int{"COMPLETED": 3, "FAILED": 1, "CANCELLED": 1, "TIMEOUT": 1, "OUT_OF_MEMORY": 1}
	for state, n := range want {
		if states[state] != n {
			t.Errorf("status: %d tasks %s, want %d (all: %v)", states[state], state, n, states)
		}
	}
	before := strings.Count(mustReadFile(t, calls), "call")
	text := mustRun(t, []string{"METALAB_SACCT=" + wrapper}, bins.metalab, "status", "--store", store)
	if !strings.Contains(text, "accounting: tasks ") || !strings.Contains(text, "1 failed") {
		t.Errorf("status does not say how the tasks ended:\n%s", text)
	}
	if after := strings.Count(mustReadFile(t, calls), "call"); after != before+1 {
		t.Errorf("one status made %d sacct calls, want 1", after-before)
	}
	// The runs of the tasks that did not complete are resubmitted, and no
	// other; x=2, 4, 5 and 6 now complete.
	os.WriteFile(filepath.Join(dir, "op.sh"), []byte(opScript), 0o755)
	out := mustRun(t, env, bins.metalab, "collect", "--store", store, "--resubmit")
	if !strings.Contains(out, "resubmitting 4 runs") {
		t.Fatalf("collect --resubmit:\n%s", out)
	}
	waitJobs(t, store, 2*time.Minute, nil)
	if out := collectAny(t, bins.metalab, store); !strings.Contains(out, "7 runs (7 completed") {
		t.Errorf("collect after the resubmission:\n%s", out)
	}
}

// needMemoryCgroup fails a test that needs tasks confined by the cgroup
// memory controller (TaskPlugin=task/cgroup), which up.sh --accounting
// configures where the machine mounts one.
func needMemoryCgroup(t *testing.T) {
	t.Helper()
	out, err := exec.Command("scontrol", "show", "config").Output()
	if err != nil {
		t.Fatalf("scontrol show config: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "TaskPlugin" {
			if strings.Contains(f[2], "task/cgroup") {
				return
			}
			t.Fatalf("TaskPlugin is %s: a task over its --mem cannot end OUT_OF_MEMORY; up.sh --accounting configures task/cgroup where /sys/fs/cgroup/memory is mounted", f[2])
		}
	}
	t.Fatalf("scontrol show config names no TaskPlugin:\n%s", out)
}

func mustReadFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// nodeFailOp records where its task runs (node, job ID, its own and the
// worker's PID) in $WHERE, then waits for the test to fail that node.
const nodeFailOp = `#!/bin/sh
set -eu
echo "$METALAB_RUN_ID" >> "$EXEC_LOG"
echo "$SLURMD_NODENAME $SLURM_JOB_ID $$ $PPID" > "$WHERE.tmp"
mv "$WHERE.tmp" "$WHERE"
exec sleep 300
`

// TestAccountingNodeFail fails the node of a running task, as a crashed
// machine does: its slurmd, the task's slurmstepd, the worker and the run
// are killed at once, so that nothing reports the task's end. With
// requeue = false (--no-requeue) slurmctld ends the task NODE_FAIL once the
// node has not answered for SlurmdTimeout; status reports that state from
// the real sacct, and collect --resubmit submits the task's run again, which
// completes once the node is back.
func TestAccountingNodeFail(t *testing.T) {
	needAccounting(t)
	if os.Geteuid() != 0 {
		t.Skip("killing a node's slurmd needs root")
	}
	dir := sharedDir(t)
	exp := writeSweep(t, dir, "e2e_nodefail", 1, 1, "runs_per_task = 1\nrequeue = false")
	if err := os.WriteFile(filepath.Join(dir, "op.sh"), []byte(nodeFailOp), 0o755); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(dir, "store")
	where := filepath.Join(dir, "where")
	env := []string{"EXEC_LOG=" + filepath.Join(dir, "exec.log"), "WHERE=" + where}
	mustRun(t, env, bins.metalab, "submit", exp, "--store", store)

	var fields []string
	deadline := time.Now().Add(time.Minute)
	for len(fields) != 4 {
		if time.Now().After(deadline) {
			t.Fatal("the task never started")
		}
		time.Sleep(300 * time.Millisecond)
		if b, err := os.ReadFile(where); err == nil {
			fields = strings.Fields(string(b))
		}
	}
	node, jobID := fields[0], fields[1]
	// However the test ends, the node comes back: up.sh starts the slurmd
	// that is missing and waits until every node is usable again.
	t.Cleanup(func() { restartCluster(t) })

	slurmd := mustReadFile(t, "/run/slurm-local/slurmd-"+node+".pid")
	pids := []string{strings.TrimSpace(slurmd)}
	pids = append(pids, processesMatching(t, "slurmstepd: ["+jobID+".")...)
	pids = append(pids, fields[2], fields[3])
	if out, err := exec.Command("kill", append([]string{"-KILL"}, pids...)...).CombinedOutput(); err != nil {
		t.Fatalf("kill -KILL %v: %v %s", pids, err, out)
	}
	t.Logf("node %s failed: killed slurmd, slurmstepd, worker and run (pids %v) of job %s", node, pids, jobID)

	// slurmctld declares the node down after SlurmdTimeout (60 s) without
	// an answer, and ends its job NODE_FAIL.
	waitJobs(t, store, 4*time.Minute, nil)
	var states map[string]int
	deadline = time.Now().Add(time.Minute)
	for {
		states = accountingStates(t, store, nil)
		if states["NODE_FAIL"] == 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if states["NODE_FAIL"] != 1 || len(states) != 1 {
		t.Fatalf("status: task states %v, want one NODE_FAIL", states)
	}
	if text := mustRun(t, nil, bins.metalab, "status", "--store", store); !strings.Contains(text, "node_fail") && !strings.Contains(text, "NODE_FAIL") {
		t.Errorf("status does not say the task's node failed:\n%s", text)
	}

	restartCluster(t)
	os.WriteFile(filepath.Join(dir, "op.sh"), []byte(opScript), 0o755)
	out := mustRun(t, env, bins.metalab, "collect", "--store", store, "--resubmit")
	if !strings.Contains(out, "resubmitting 1 runs") {
		t.Fatalf("collect --resubmit after the node failure:\n%s", out)
	}
	waitJobs(t, store, 2*time.Minute, nil)
	if out := collectAny(t, bins.metalab, store); !strings.Contains(out, "1 runs (1 completed") {
		t.Errorf("collect after the resubmission:\n%s", out)
	}
}

// accountingStates is status --json's count of the submission's tasks by
// the state sacct gives them.
func accountingStates(t *testing.T, store string, env []string) map[string]int {
	t.Helper()
	out := mustRun(t, env, bins.metalab, "status", "--store", store, "--json")
	var s struct {
		Scheduler *struct {
			Accounting *struct {
				Enabled bool           `json:"enabled"`
				States  map[string]int `json:"task_states"`
			} `json:"accounting"`
		} `json:"scheduler"`
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	if s.Scheduler == nil || s.Scheduler.Accounting == nil || !s.Scheduler.Accounting.Enabled {
		t.Fatalf("status --json reports no accounting from sacct:\n%s", out)
	}
	return s.Scheduler.Accounting.States
}

// processesMatching lists the PIDs whose command line starts with prefix.
func processesMatching(t *testing.T, prefix string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.HasPrefix(string(b), prefix) {
			pids = append(pids, e.Name())
		}
	}
	return pids
}
