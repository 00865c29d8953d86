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
// cancels its task (its job ID goes to $CANCEL_ME), the others complete.
const accountingOp = `#!/bin/sh
set -eu
echo "$METALAB_RUN_ID" >> "$EXEC_LOG"
case "$METALAB_PARAM_X" in
2) echo "x=2 fails" >&2; exit 3 ;;
4) echo "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}" > "$CANCEL_ME"; sleep 300 ;;
esac
echo "{\"metric\": \"y\", \"value\": $METALAB_PARAM_X}" >> "$METALAB_CAPTURE"
`

// TestAccountingSaysHowTasksEnded: tasks driven into COMPLETED, FAILED and
// CANCELLED on a cluster with a real slurmdbd. (OUT_OF_MEMORY needs memory
// as a consumable resource, CR_CPU_Memory, which the local cluster does not
// configure; TIMEOUT and NODE_FAIL take minutes: not yet here.) Once the
// jobs have left the queue, status reports each state from the real sacct,
// with one sacct call per refresh; collect --resubmit submits exactly the
// runs of the tasks that did not complete, and they complete.
func TestAccountingSaysHowTasksEnded(t *testing.T) {
	needAccounting(t)
	dir := sharedDir(t)
	exp := writeSweep(t, dir, "e2e_accounting", 6, 1, "runs_per_task = 1")
	if err := os.WriteFile(filepath.Join(dir, "op.sh"), []byte(accountingOp), 0o755); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(dir, "store")
	cancelMe := filepath.Join(dir, "cancel-me")
	env := []string{"EXEC_LOG=" + filepath.Join(dir, "exec.log"), "CANCEL_ME=" + cancelMe}
	mustRun(t, env, bins.metalab, "submit", exp, "--store", store)

	cancelled := false
	waitJobs(t, store, 3*time.Minute, func() {
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
	// sacct has all six tasks ended.
	var states map[string]int
	deadline := time.Now().Add(time.Minute)
	for {
		out := mustRun(t, []string{"METALAB_SACCT=" + wrapper}, bins.metalab, "status", "--store", store, "--json")
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
		states = s.Scheduler.Accounting.States
		n := 0
		for _, c := range states {
			n += c
		}
		if n == 6 && states["RUNNING"] == 0 && states["PENDING"] == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	want := map[string]int{"COMPLETED": 4, "FAILED": 1, "CANCELLED": 1}
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
	// The runs of the failed and the cancelled task are resubmitted, and
	// no other; x=2 and 4 now complete.
	os.WriteFile(filepath.Join(dir, "op.sh"), []byte(opScript), 0o755)
	out := mustRun(t, env, bins.metalab, "collect", "--store", store, "--resubmit")
	if !strings.Contains(out, "resubmitting 2 runs") {
		t.Fatalf("collect --resubmit:\n%s", out)
	}
	waitJobs(t, store, 2*time.Minute, nil)
	if out := collectAny(t, bins.metalab, store); !strings.Contains(out, "6 runs (6 completed") {
		t.Errorf("collect after the resubmission:\n%s", out)
	}
}

func mustReadFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
