package slurm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// These tests submit small jobs to the SLURM cluster the tools in PATH talk
// to; hack/slurm-docker/up.sh starts one. Without one, or with -short, they
// skip, unless METALAB_TEST_SLURM=1 (set by hack/test.sh after starting the
// cluster) says a cluster must be there.

// liveClient returns a Client for the real cluster, or skips the test.
func liveClient(t *testing.T) *Client {
	t.Helper()
	required := os.Getenv("METALAB_TEST_SLURM") == "1"
	unavailable := t.Skipf
	if required {
		unavailable = t.Fatalf
	}
	if testing.Short() && !required {
		t.Skip("talks to a real SLURM cluster; skipped with -short")
	}
	if _, err := exec.LookPath("sbatch"); err != nil {
		unavailable("no SLURM here (sbatch not in PATH); start a cluster with hack/slurm-docker/up.sh")
	}
	c := &Client{Timeout: 30 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Ping(ctx); err != nil {
		unavailable("no SLURM controller answering (%v); start one with hack/slurm-docker/up.sh", err)
	}
	return c
}

// submit submits a --wrap job and cancels it when the test ends.
func submit(t *testing.T, c *Client, args ...string) string {
	t.Helper()
	ctx := context.Background()
	id, err := c.Submit(ctx, "", append([]string{"--job-name=metalab-slurm-test"}, args...)...)
	if err != nil {
		t.Fatalf("Submit()=%v", err)
	}
	t.Cleanup(func() {
		if err := c.Cancel(ctx, id); err != nil {
			t.Errorf("Cancel(%s)=%v", id, err)
		}
	})
	return id
}

// waitFor polls fn until it returns true or a minute has passed.
func waitFor(t *testing.T, what string, fn func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		ok, err := fn()
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func TestIntegrationArrayLifecycle(t *testing.T) {
	c := liveClient(t)
	ctx := context.Background()
	cfg, err := c.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxArraySize < 7 {
		t.Skipf("MaxArraySize=%d is too small for this test", cfg.MaxArraySize)
	}
	id := submit(t, c, "--array=0-5%2", "--output=/dev/null", "--wrap=sleep 60")

	// One squeue call sees the running tasks and the pending range.
	var jobs []JobState
	waitFor(t, "two running tasks", func() (bool, error) {
		before := c.Calls()
		jobs, err = c.Queue(ctx, []string{id})
		if got := c.Calls() - before; got != 1 {
			t.Fatalf("Queue() ran %d commands, want 1", got)
		}
		running := 0
		for _, j := range jobs {
			if j.State == StateRunning {
				running++
			}
		}
		return running == 2, err
	})
	var tasks []int
	for _, j := range jobs {
		if j.ArrayJobID != id {
			t.Errorf("Queue() returned a line of another job: %+v", j)
		}
		switch j.State {
		case StateRunning:
			if len(j.ArrayTasks) != 1 || j.NodeList == "" || j.RawJobID == "" {
				t.Errorf("running task %+v: want one task, a node and its own job ID", j)
			}
		case StatePending:
			if j.Throttle != 2 || j.Reason != "JobArrayTaskLimit" || !strings.HasPrefix(j.JobID, id+"_[") {
				t.Errorf("pending range %+v: want %s_[...%%2], Reason JobArrayTaskLimit", j, id)
			}
		}
		tasks = append(tasks, j.ArrayTasks...)
	}
	sort.Ints(tasks)
	if got, want := fmt.Sprint(tasks), "[0 1 2 3 4 5]"; got != want {
		t.Errorf("tasks over all lines=%s, want %s (lines %+v)", got, want, jobs)
	}

	if err := c.Cancel(ctx, id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "all tasks cancelled", func() (bool, error) {
		all, err := c.QueueAll(ctx, []string{id})
		n := 0
		for _, j := range all {
			if j.State != StateCancelled {
				return false, err
			}
			n += len(j.ArrayTasks)
		}
		return n == 6, err
	})
	if jobs, err := c.Queue(ctx, []string{id}); err != nil || len(jobs) != 0 {
		t.Errorf("Queue() of a cancelled array=%+v, %v, want nothing", jobs, err)
	}

	recs, ok, err := c.Accounting(ctx, []string{id})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ok, cfg.AccountingEnabled(); got != want {
		t.Errorf("Accounting() ok=%v, want %v (AccountingStorageType %s)", got, want, cfg.AccountingStorageType)
	}
	if ok && len(recs) == 0 {
		t.Errorf("Accounting() has no records of %s", id)
	}
}

func TestIntegrationArrayTaskEnv(t *testing.T) {
	c := liveClient(t)
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil { // the job may run as another user's ID
		t.Fatal(err)
	}
	id := submit(t, c, "--array=3-4", "--output="+filepath.Join(dir, "%a.out"), "--wrap=env")
	waitFor(t, "both tasks to finish", func() (bool, error) {
		jobs, err := c.QueueAll(ctx, []string{id})
		done := 0
		for _, j := range jobs {
			if j.State.Finished() {
				done += len(j.ArrayTasks)
			}
		}
		return done == 2, err
	})
	for _, task := range []string{"3", "4"} {
		out, err := os.ReadFile(filepath.Join(dir, task+".out"))
		if err != nil {
			t.Fatal(err)
		}
		env := map[string]string{}
		for _, line := range strings.Split(string(out), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				env[k] = v
			}
		}
		for key, want := range map[string]string{
			"SLURM_ARRAY_JOB_ID":  id,
			"SLURM_ARRAY_TASK_ID": task,
		} {
			if got := env[key]; got != want {
				t.Errorf("task %s: %s=%q, want %q", task, key, got, want)
			}
		}
		for _, key := range []string{"SLURM_JOB_ID", "SLURMD_NODENAME"} {
			if env[key] == "" {
				t.Errorf("task %s: %s not set", task, key)
			}
		}
		if v, ok := env["SLURM_RESTART_COUNT"]; ok {
			t.Errorf("task %s: SLURM_RESTART_COUNT=%q on a first run, want it unset", task, v)
		}
	}
}

func TestIntegrationLimitsAndUnknownJobs(t *testing.T) {
	c := liveClient(t)
	ctx := context.Background()
	cfg, err := c.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Index MaxArraySize-1 is the largest sbatch takes.
	_, err = c.Submit(ctx, "", "--hold", "--output=/dev/null", fmt.Sprintf("--array=%d", cfg.MaxArraySize), "--wrap=true")
	var ce *CommandError
	if !errors.As(err, &ce) || !strings.Contains(ce.Hint(), "MaxArraySize") {
		t.Errorf("Submit(--array=MaxArraySize)=%v, want a CommandError with a MaxArraySize hint", err)
	}
	id := submit(t, c, "--hold", "--output=/dev/null", fmt.Sprintf("--array=%d", cfg.MaxArraySize-1), "--wrap=true")

	// An ID squeue never heard of: no jobs, no error; with a known one too,
	// just the known one.
	if jobs, err := c.Queue(ctx, []string{"4294967"}); err != nil || len(jobs) != 0 {
		t.Errorf("Queue(unknown)=%+v, %v, want nothing", jobs, err)
	}
	jobs, err := c.Queue(ctx, []string{"4294967", id})
	if err != nil || len(jobs) != 1 || jobs[0].Reason != "JobHeldUser" {
		t.Errorf("Queue(unknown, held)=%+v, %v, want the held job", jobs, err)
	}
	// scancel of an unknown job succeeds.
	if err := c.Cancel(ctx, "4294967"); err != nil {
		t.Errorf("Cancel(unknown)=%v, want nil", err)
	}
}

// TestIntegrationNamed: squeue --me --name finds a job by its name and
// gives back the comment it was submitted with, and no job of another name.
func TestIntegrationNamed(t *testing.T) {
	c := liveClient(t)
	ctx := context.Background()
	name := fmt.Sprintf("metalab-named-%d", time.Now().UnixNano())
	id := submit(t, c, "--job-name="+name, "--comment=metalab test | comment", "--hold", "--array=0-2", "--wrap", "true")
	submit(t, c, "--job-name="+name+"-other", "--hold", "--wrap", "true")
	before := time.Now().Add(-time.Minute)
	jobs, err := c.Named(ctx, []string{name})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 {
		t.Fatalf("Named(%s)=%+v, want the held array's one line", name, jobs)
	}
	j := jobs[0]
	if j.ArrayJobID != id || j.Name != name || j.Comment != "metalab test | comment" || len(j.ArrayTasks) != 3 ||
		j.Submitted.Before(before) || j.Submitted.After(time.Now().Add(time.Minute)) {
		t.Errorf("Named(%s)=%+v, want array %s with its comment, 3 tasks, submitted just now", name, j, id)
	}
}
