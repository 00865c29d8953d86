package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// restartCluster re-runs hack/slurm-docker/up.sh with extra settings; the
// script restarts slurmctld and slurmd when the generated config changes.
func restartCluster(t *testing.T, env ...string) {
	t.Helper()
	cmd := exec.Command("bash", filepath.Join(repoRoot(), "hack", "slurm-docker", "up.sh"), "--no-install")
	cmd.Env = os.Environ()
	if os.Getenv("METALAB_TEST_ACCOUNTING") == "1" {
		// The cluster the accounting tests need keeps its slurmdbd.
		cmd.Env = append(cmd.Env, "SLURM_LOCAL_ACCOUNTING=1")
	}
	cmd.Env = append(cmd.Env, env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("up.sh %v: %v\n%s", env, err, out)
	}
}

// TestSmallMaxArraySize: with MaxArraySize=11 one submission of 100 tasks
// becomes several arrays of at most 11 tasks, and max_concurrent=4 holds
// across all of them.
func TestSmallMaxArraySize(t *testing.T) {
	needCluster(t)
	if os.Geteuid() != 0 {
		t.Skip("restarting the cluster with another MaxArraySize needs root")
	}
	restartCluster(t, "SLURM_LOCAL_MAX_ARRAY_SIZE=11")
	t.Cleanup(func() { restartCluster(t) })

	dir := sharedDir(t)
	exp := writeSweep(t, dir, "e2e_arrays", 100, 2, "runs_per_task = 2\nmax_concurrent = 4")
	store := filepath.Join(dir, "store")
	env := []string{"EXEC_LOG=" + filepath.Join(dir, "exec.log")}
	out := mustRun(t, env, bins.metalab, "submit", exp, "--store", store)
	subs := submissions(t, store)
	if len(subs) != 1 {
		t.Fatalf("%d submissions, want 1\n%s", len(subs), out)
	}
	arrays := subs[0].Arrays
	if len(arrays) < 10 {
		t.Fatalf("%d arrays for 100 tasks with MaxArraySize=11, want at least 10\n%s", len(arrays), out)
	}
	sum := 0
	for i, a := range arrays {
		if a.Tasks > 11 {
			t.Errorf("array %d has %d tasks, more than MaxArraySize allows", i, a.Tasks)
		}
		sum += a.Tasks
	}
	if sum != 100 {
		t.Errorf("arrays hold %d tasks, want 100", sum)
	}

	maxRunning := 0
	waitJobs(t, store, 5*time.Minute, func() {
		maxRunning = max(maxRunning, len(squeueTasks(t, jobIDs(t, store), "R")))
	})
	if maxRunning > 4 {
		t.Errorf("%d tasks ran at once across the arrays, max_concurrent is 4", maxRunning)
	}
	if maxRunning == 0 {
		t.Errorf("never saw a running task")
	}
	out = mustRun(t, nil, bins.metalab, "collect", "--store", store)
	if !strings.Contains(out, "200 runs (200 completed") {
		t.Fatalf("collect:\n%s", out)
	}
	t.Logf("%d arrays, at most %d tasks running at once", len(arrays), maxRunning)
}
