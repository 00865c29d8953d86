package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStaticBinaryOnCluster builds the static binary with the documented
// command, checks that ldd calls it not dynamic (so the compute nodes' C
// library does not matter), and runs a sweep on the cluster with it.
func TestStaticBinaryOnCluster(t *testing.T) {
	needCluster(t)
	dir := sharedDir(t)
	static := filepath.Join(dir, "metalab-static")
	cmd := exec.Command("bash", filepath.Join(repoRoot(), "hack", "build-static.sh"), static)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hack/build-static.sh: %v\n%s", err, out)
	}
	out, _ := exec.Command("ldd", static).CombinedOutput()
	if !strings.Contains(string(out), "not a dynamic executable") {
		t.Fatalf("ldd %s: %s; want \"not a dynamic executable\"", static, out)
	}
	exp := writeSweep(t, dir, "e2e_static", 6, 2, "runs_per_task = 3")
	store := filepath.Join(dir, "store")
	mustRun(t, []string{"EXEC_LOG=" + filepath.Join(dir, "exec.log")}, static, "submit", exp, "--store", store)
	waitJobs(t, store, 2*time.Minute, nil)
	if out := mustRun(t, nil, static, "collect", "--store", store); !strings.Contains(out, "12 runs (12 completed") {
		t.Fatalf("collect:\n%s", out)
	}
}
