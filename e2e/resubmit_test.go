package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCollectResubmitsFailed: runs that fail on the cluster are listed by
// collect, and --resubmit submits exactly those; once the cause is gone the
// sweep completes with one completed record per run.
func TestCollectResubmitsFailed(t *testing.T) {
	needCluster(t)
	dir := sharedDir(t)
	exp := writeSweep(t, dir, "e2e_resubmit", 8, 1, "runs_per_task = 2")
	// Runs with x divisible by 4 fail until $FIXED exists.
	fixed := filepath.Join(dir, "fixed")
	op := "#!/bin/sh\nset -eu\nif [ $((METALAB_PARAM_X % 4)) -eq 0 ] && [ ! -e \"$FIXED\" ]; then echo broken >&2; exit 3; fi\n" + opScript[len("#!/bin/sh\nset -eu\n"):]
	if err := os.WriteFile(filepath.Join(dir, "op.sh"), []byte(op), 0o755); err != nil {
		t.Fatal(err)
	}
	store := filepath.Join(dir, "store")
	execLog := filepath.Join(dir, "exec.log")
	env := []string{"EXEC_LOG=" + execLog, "FIXED=" + fixed}
	mustRun(t, env, bins.metalab, "submit", exp, "--store", store)
	waitJobs(t, store, 2*time.Minute, nil)

	r := run(t, nil, bins.metalab, "collect", "--store", store)
	out := r.stdout
	if !strings.Contains(out, "8 runs (6 completed, 2 failed") || !strings.Contains(out, "0 missing, 2 failed") ||
		r.code != 1 || !strings.Contains(r.stderr, "2 of 8 runs are not completed: 2 failed") {
		t.Fatalf("collect after the first submission: exit %d, want 1\n%s%s", r.code, out, r.stderr)
	}
	before := countLines(t, execLog)

	os.WriteFile(fixed, nil, 0o644)
	out = mustRun(t, env, bins.metalab, "collect", "--store", store, "--resubmit")
	if !strings.Contains(out, "resubmitting 2 runs") || !strings.Contains(out, "2 to submit") {
		t.Fatalf("collect --resubmit:\n%s", out)
	}
	waitJobs(t, store, 2*time.Minute, nil)
	out = mustRun(t, nil, bins.metalab, "collect", "--store", store)
	if !strings.Contains(out, "8 runs (8 completed") {
		t.Fatalf("collect after the resubmission:\n%s", out)
	}
	after := countLines(t, execLog)
	reran := 0
	for id, n := range after {
		if n > before[id] {
			reran++
		}
	}
	if reran != 2 {
		t.Errorf("%d runs executed again, want the 2 failed ones", reran)
	}
	if len(submissions(t, store)) != 2 {
		t.Errorf("want 2 submissions recorded")
	}
}
