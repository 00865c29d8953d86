package e2e

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// bins holds the binaries built once for all tests.
var bins struct {
	once    sync.Once
	dir     string
	metalab string
	goexp   string
	err     error
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// build compiles metalab and the Go experiment once.
func build(t *testing.T) {
	t.Helper()
	bins.once.Do(func() {
		bins.dir, bins.err = os.MkdirTemp("", "metalab-e2e-bin-")
		if bins.err != nil {
			return
		}
		bins.metalab = filepath.Join(bins.dir, "metalab")
		bins.goexp = filepath.Join(bins.dir, "goexp")
		for _, b := range [][2]string{{bins.metalab, "."}, {bins.goexp, "./e2e/testdata/goexp"}} {
			cmd := exec.Command("go", "build", "-o", b[0], b[1])
			cmd.Dir = repoRoot()
			if out, err := cmd.CombinedOutput(); err != nil {
				bins.err = fmt.Errorf("go build %s: %v\n%s", b[1], err, out)
				return
			}
		}
	})
	if bins.err != nil {
		t.Fatal(bins.err)
	}
}

// needCluster skips the test without a SLURM cluster, or fails it when
// METALAB_TEST_SLURM=1 says there must be one.
func needCluster(t *testing.T) {
	t.Helper()
	out, err := exec.Command("scontrol", "ping").CombinedOutput()
	if err == nil && bytes.Contains(out, []byte("UP")) {
		build(t)
		return
	}
	msg := fmt.Sprintf("no SLURM cluster (scontrol ping: %v %s); start one with hack/slurm-docker/up.sh", err, bytes.TrimSpace(out))
	if os.Getenv("METALAB_TEST_SLURM") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// sharedDir is a directory that the compute nodes see (on this one-machine
// cluster: any local directory). Jobs run as the submitting user.
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "metalab-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			os.RemoveAll(dir)
		} else {
			t.Logf("kept %s for inspection", dir)
		}
	})
	return dir
}

type result struct {
	stdout, stderr string
	code           int
}

// run runs a binary and returns its output and exit code.
func run(t *testing.T, env []string, bin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	err := cmd.Run()
	r := result{stdout: so.String(), stderr: se.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("%s %v: %v", bin, args, err)
	}
	return r
}

// mustRun runs a binary and fails the test unless it exits 0.
func mustRun(t *testing.T, env []string, bin string, args ...string) string {
	t.Helper()
	r := run(t, env, bin, args...)
	if r.code != 0 {
		t.Fatalf("%s %s: exit %d\nstdout:\n%s\nstderr:\n%s", filepath.Base(bin), strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// submission is the part of STORE/submissions/ID/submission.json the tests
// read.
type submission struct {
	ID     string `json:"id"`
	Arrays []struct {
		JobID    string `json:"job_id"`
		Tasks    int    `json:"tasks"`
		Throttle int    `json:"throttle"`
		After    []int  `json:"after"`
	} `json:"arrays"`
}

func submissions(t *testing.T, store string) []submission {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(store, "submissions", "*", "submission.json"))
	var subs []submission
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var s submission
		if err := json.Unmarshal(b, &s); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		subs = append(subs, s)
	}
	return subs
}

func jobIDs(t *testing.T, store string) []string {
	var ids []string
	for _, s := range submissions(t, store) {
		for _, a := range s.Arrays {
			ids = append(ids, a.JobID)
		}
	}
	return ids
}

// squeueTasks lists the array tasks of the given jobs in the given states,
// one line each ("JOBID_TASK STATE NODE"), from one squeue call.
func squeueTasks(t *testing.T, ids []string, states string) []string {
	t.Helper()
	if len(ids) == 0 {
		return nil
	}
	var out []byte
	for attempt := 1; ; attempt++ {
		cmd := exec.Command("squeue", "-h", "-r", "-t", states, "-j", strings.Join(ids, ","), "-o", "%i %T %N")
		var stderr strings.Builder
		cmd.Stderr = &stderr
		var err error
		if out, err = cmd.Output(); err == nil {
			break
		}
		// squeue exits 1 when every job ID has left its memory; any other
		// failure (a busy slurmctld) is not an empty queue.
		if strings.Contains(stderr.String(), "Invalid job id") {
			return nil
		}
		if attempt == 5 {
			t.Fatalf("squeue: %v: %s", err, stderr.String())
		}
		t.Logf("squeue (attempt %d): %v: %s", attempt, err, strings.TrimSpace(stderr.String()))
		time.Sleep(time.Second)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// waitJobs waits until no job of the store's submissions is pending or
// running, calling each (if set) about every 300 ms meanwhile.
func waitJobs(t *testing.T, store string, timeout time.Duration, each func()) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if each != nil {
			each()
		}
		active := squeueTasks(t, jobIDs(t, store), "PD,R,CG,CF,S,RQ")
		if len(active) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs still active after %v: %v", timeout, active)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// segmentRecord is the part of a store record the tests check.
type segmentRecord struct {
	RunID      string             `json:"run_id"`
	Experiment string             `json:"experiment"`
	Status     string             `json:"status"`
	Replicate  int                `json:"replicate"`
	Params     map[string]any     `json:"params"`
	Metrics    map[string]float64 `json:"metrics"`
	Host       string             `json:"host"`
	TaskID     string             `json:"slurm_array_task_id"`
}

// segmentRecords reads every end record of every segment: all attempts,
// not only the winners.
func segmentRecords(t *testing.T, store string) []segmentRecord {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(store, "segments", "*.jsonl"))
	var recs []segmentRecord
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<26)
		for sc.Scan() {
			var r segmentRecord
			if json.Unmarshal(sc.Bytes(), &r) == nil && r.Status != "running" {
				recs = append(recs, r)
			}
		}
		fh.Close()
	}
	return recs
}

// resultsByID reads `metalab results --format jsonl` into run ID -> record.
func resultsByID(t *testing.T, bin, store string) map[string]segmentRecord {
	t.Helper()
	out := mustRun(t, nil, bin, "results", "--store", store, "--format", "jsonl")
	m := map[string]segmentRecord{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var r segmentRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("results line %q: %v", line, err)
		}
		if _, dup := m[r.RunID]; dup {
			t.Fatalf("results list run %s twice", r.RunID)
		}
		m[r.RunID] = r
	}
	return m
}

// countLines counts the lines of a file by content.
func countLines(t *testing.T, path string) map[string]int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	m := map[string]int{}
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" {
			m[l]++
		}
	}
	return m
}

// collectAny runs collect, which exits 1 while runs of the plan are
// missing or failed, and returns its output; any other exit fails the test.
func collectAny(t *testing.T, bin, store string) string {
	t.Helper()
	r := run(t, nil, bin, "collect", "--store", store)
	if r.code != 0 && r.code != 1 {
		t.Fatalf("collect: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	return r.stdout
}
