package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSweepGrowsOnCluster: a grid sweep grown by values and then by
// replicates, and a random search grown by trials, into one store, step by
// step through submit on the cluster and through a local run. Each step
// executes exactly the runs the store lacks; a step that removes values
// submits nothing and loses nothing. At the end every run of each last plan
// has one completed record and executed once, with the values of its
// params, and the earlier runs are all still reported.
func TestSweepGrowsOnCluster(t *testing.T) {
	needCluster(t)
	dir := sharedDir(t)
	if err := os.WriteFile(filepath.Join(dir, "op.sh"), []byte(opScript), 0o755); err != nil {
		t.Fatal(err)
	}
	grid := func(points, replicates int) string {
		xs := make([]string, points)
		for i := range xs {
			xs[i] = fmt.Sprint(i)
		}
		return fmt.Sprintf("name = \"grow\"\nversion = \"1\"\ncommand = [\"sh\", \"op.sh\"]\n\n[params.grid]\nx = [%s]\n\n"+
			"[seeds]\nbase = 7\nreplicates = %d\n\n[slurm]\nruns_per_task = 4\ntime = \"5\"\n", strings.Join(xs, ", "), replicates)
	}
	random := func(trials int) string {
		return fmt.Sprintf("name = \"grow_random\"\nversion = \"1\"\ncommand = [\"sh\", \"op.sh\"]\n\n[params.random]\nn_trials = %d\nseed = 3\n\n"+
			"[params.random.space]\nx = {dist = \"randint\", low = 100, high = 100000}\n\n[seeds]\nbase = 7\nreplicates = 1\n\n"+
			"[slurm]\nruns_per_task = 2\ntime = \"5\"\n", trials)
	}
	store := filepath.Join(dir, "store")
	execLog := filepath.Join(dir, "exec.log")
	env := []string{"EXEC_LOG=" + execLog}
	steps := []struct {
		name  string
		how   string // submit or run
		exp   string
		plan  string // the plan line
		execs int    // executions of the step
	}{
		{"first sweep", "submit", grid(6, 2), "experiment grow (version 1): 12 runs, 0 already completed, 12 to submit", 12},
		{"values added", "run", grid(9, 2), "experiment grow (version 1): 18 runs, 12 already completed, 6 to run", 6},
		{"replicates raised", "submit", grid(9, 3), "experiment grow (version 1): 27 runs, 18 already completed, 9 to submit", 9},
		{"a random search beside it", "submit", random(4), "experiment grow_random (version 1): 4 runs, 0 already completed, 4 to submit", 4},
		{"trials raised", "submit", random(9), "experiment grow_random (version 1): 9 runs, 4 already completed, 5 to submit", 5},
		{"trials raised, locally", "run", random(11), "experiment grow_random (version 1): 11 runs, 9 already completed, 2 to run", 2},
		{"values removed", "submit", grid(4, 3), "nothing to submit: all 12 runs are already completed", 0},
	}
	total := 0
	for _, step := range steps {
		path := filepath.Join(dir, "step.toml")
		if err := os.WriteFile(path, []byte(step.exp), 0o644); err != nil {
			t.Fatal(err)
		}
		before := len(countLines(t, execLog))
		r := run(t, env, bins.metalab, step.how, path, "--store", store)
		if r.code != 0 {
			t.Fatalf("%s: metalab %s: exit %d\n%s%s", step.name, step.how, r.code, r.stdout, r.stderr)
		}
		if out := r.stdout + r.stderr; !strings.Contains(out, step.plan) {
			t.Fatalf("%s: metalab %s does not say %q:\n%s", step.name, step.how, step.plan, out)
		}
		if step.how == "submit" {
			waitJobs(t, store, 3*time.Minute, nil)
		}
		execs := countLines(t, execLog)
		if got := len(execs) - before; got != step.execs {
			t.Errorf("%s: %d runs executed, want %d", step.name, got, step.execs)
		}
		total += step.execs
	}

	out := collectAny(t, bins.metalab, store)
	t.Logf("collect:\n%s", out)
	execs := countLines(t, execLog)
	if len(execs) != total || total != 38 {
		t.Errorf("%d distinct runs executed, want 38", len(execs))
	}
	for id, n := range execs {
		if n != 1 {
			t.Errorf("run %s executed %d times", id, n)
		}
	}
	// Every run executed is in the results once, completed, with y = 3x +
	// replicate: grid runs of x in 0..8 and three replicates, and the 11
	// random trials.
	res := resultsByID(t, bins.metalab, store)
	if len(res) != total {
		t.Errorf("results hold %d runs, want %d", len(res), total)
	}
	perExp := map[string]int{}
	for id := range execs {
		r, ok := res[id]
		x, isNumber := r.Params["x"].(float64)
		switch {
		case !ok:
			t.Errorf("run %s executed but is not in the results", id)
			continue
		case r.Status != "completed":
			t.Errorf("run %s is %s", id, r.Status)
		case !isNumber || r.Metrics["y"] != 3*x+float64(r.Replicate):
			t.Errorf("run %s: y = %v for x = %v, replicate %d", id, r.Metrics["y"], r.Params["x"], r.Replicate)
		}
		perExp[r.Experiment]++
	}
	if perExp["grow"] != 27 || perExp["grow_random"] != 11 {
		t.Errorf("runs by experiment %v, want grow 27 and grow_random 11", perExp)
	}
	status := mustRun(t, nil, bins.metalab, "status", "--store", store)
	if !strings.Contains(status, "38 runs: 38 completed") || !strings.Contains(status, "2 experiments in") {
		t.Errorf("status:\n%s", status)
	}
	csv := mustRun(t, nil, bins.metalab, "results", "--store", store, "--format", "csv", "--experiment", "grow_random")
	if n := strings.Count(csv, "\n"); n != 12 || strings.HasPrefix(csv, "experiment,") {
		t.Errorf("results --experiment grow_random: %d lines, want a header and 11 runs without experiment columns:\n%s", n, csv)
	}
}
