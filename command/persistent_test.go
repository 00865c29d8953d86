package command

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/metalab-hpc/metalab/launcher"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/seeds"
	"github.com/metalab-hpc/metalab/store"
)

// persistentOp writes a Python operation served by python/metalab_persistent.py
// and returns its persistent operation.
func persistentOp(t *testing.T, body string) *Persistent {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is needed for persistent-mode tests")
	}
	helper, err := filepath.Abs("../python")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	src := "import os, sys, time\nsys.path.insert(0, " + pyString(helper) + ")\nimport metalab_persistent\n\n" +
		"def op(params, seeds, capture):\n" + body + "\n\nmetalab_persistent.serve(op)\n"
	if err := os.WriteFile(filepath.Join(dir, "op.py"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	op, err := NewPersistent(Spec{Argv: []string{"python3", "op.py"}, Dir: dir, Grace: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return op
}

func pyString(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }

// sweep runs op over cases with 1 worker and returns the records by the
// param "i".
func persistentSweep(t *testing.T, op launcher.Operation, cases params.Cases, timeout time.Duration) map[int]*store.Record {
	t.Helper()
	exp := launcher.Experiment{Name: "p", Version: "1", Operation: op, Params: cases, Seeds: seeds.New(7, 1), Timeout: timeout}
	h, err := launcher.Run(context.Background(), exp, launcher.WithStore(t.TempDir()), launcher.WithWorkers(1),
		launcher.WithLogger(zerolog.Nop()), launcher.WithProgress("quiet", io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	res, _ := h.Result()
	out := map[int]*store.Record{}
	for r := range res.All() {
		out[int(r.Params.Int("i"))] = r
	}
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	if got, want := len(out), len(cases); got != want {
		t.Fatalf("%d records, want %d", got, want)
	}
	return out
}

func cases(n int) params.Cases {
	c := make(params.Cases, n)
	for i := range c {
		c[i] = params.Point{"i": i}
	}
	return c
}

func TestPersistentRuns(t *testing.T) {
	op := persistentOp(t, `    capture.metric("i2", params["i"] * 2)
    capture.metric("pid", os.getpid())
    capture.data("seed", seeds.seed)
    print("out", params["i"])
    print("err", params["i"], file=sys.stderr)`)
	recs := persistentSweep(t, op, cases(5), 0)
	pids := map[float64]bool{}
	for i, r := range recs {
		if r.Status != store.StatusCompleted {
			t.Fatalf("run %d: status %s (%s)", i, r.Status, r.Error)
		}
		if got, want := r.Metrics["i2"], float64(2*i); got != want {
			t.Errorf("run %d: i2=%v, want %v", i, got, want)
		}
		if got, want := string(r.Data["seed"]), "6063513393542914213"; i == 0 && got == "" {
			t.Errorf("run %d: seed data %q, want %s", i, got, want)
		}
		pids[r.Metrics["pid"]] = true
		if r.Stdout == nil || r.Stdout.Length != int64(len("out 0\n")) {
			t.Errorf("run %d: stdout ref %+v, want this run's line", i, r.Stdout)
		}
	}
	if got, want := len(pids), 1; got != want {
		t.Errorf("runs ran in %d processes, want %d", got, want)
	}
}

func TestPersistentOpErrorFailsOneRun(t *testing.T) {
	op := persistentOp(t, `    if params["i"] == 1:
        raise ValueError("bad i")
    capture.metric("pid", os.getpid())`)
	recs := persistentSweep(t, op, cases(3), 0)
	if got, want := recs[1].Status, store.StatusFailed; got != want {
		t.Fatalf("run 1: status %s, want %s", got, want)
	}
	if got, want := recs[1].Error, "ValueError: bad i"; got != want {
		t.Errorf("run 1: error %q, want %q", got, want)
	}
	if recs[0].Metrics["pid"] != recs[2].Metrics["pid"] {
		t.Errorf("an op error restarted the process: pids %v, %v", recs[0].Metrics["pid"], recs[2].Metrics["pid"])
	}
}

func TestPersistentCrashFailsRunAndRestarts(t *testing.T) {
	op := persistentOp(t, `    if params["i"] == 1:
        print("dying", file=sys.stderr)
        sys.stderr.flush()
        os._exit(3)
    capture.metric("pid", os.getpid())`)
	recs := persistentSweep(t, op, cases(3), 0)
	r := recs[1]
	if r.Status != store.StatusFailed || !strings.Contains(r.Error, "exit status 3: dying") {
		t.Fatalf("run 1: status %s error %q, want failed with exit status 3 and the stderr line", r.Status, r.Error)
	}
	if r.ExitCode == nil || *r.ExitCode != 3 || !strings.Contains(r.StderrTail, "dying") {
		t.Errorf("run 1: exit code %v, stderr tail %q", r.ExitCode, r.StderrTail)
	}
	for _, i := range []int{0, 2} {
		if recs[i].Status != store.StatusCompleted {
			t.Errorf("run %d: status %s (%s), want completed", i, recs[i].Status, recs[i].Error)
		}
	}
	if recs[0].Metrics["pid"] == recs[2].Metrics["pid"] {
		t.Errorf("run 2 ran in the crashed process %v", recs[0].Metrics["pid"])
	}
}

func TestPersistentTimeoutKillsAndRestarts(t *testing.T) {
	op := persistentOp(t, `    if params["i"] == 1:
        time.sleep(60)
    capture.metric("pid", os.getpid())`)
	// The timeout covers starting the next process too: on a loaded
	// machine a Python start took more than a second.
	recs := persistentSweep(t, op, cases(3), 3*time.Second)
	if r := recs[1]; r.Status != store.StatusFailed || !strings.Contains(r.Error, "timed out") {
		t.Fatalf("run 1: status %s error %q, want failed by timeout", r.Status, r.Error)
	}
	if recs[2].Status != store.StatusCompleted || recs[0].Metrics["pid"] == recs[2].Metrics["pid"] {
		t.Errorf("run 2: status %s (%s) pid %v (run 0's %v), want completed in a new process",
			recs[2].Status, recs[2].Error, recs[2].Metrics["pid"], recs[0].Metrics["pid"])
	}
}

func TestPersistentHostileParams(t *testing.T) {
	hostile := []string{"it's \"quoted\"", "$(rm -rf /) `id`", "line1\nline2\r\n", "{\"done\": \"x\"}", "ünïcødé ☃ \t\\"}
	c := make(params.Cases, len(hostile))
	for i, s := range hostile {
		c[i] = params.Point{"i": i, "s": s}
	}
	op := persistentOp(t, `    capture.data("echo", params["s"])
    capture.log(params["s"])`)
	recs := persistentSweep(t, op, c, 0)
	for i, s := range hostile {
		r := recs[i]
		if r.Status != store.StatusCompleted {
			t.Fatalf("run %d: %s %s", i, r.Status, r.Error)
		}
		var got string
		if err := jsonUnmarshal(r.Data["echo"], &got); err != nil || got != s {
			t.Errorf("run %d: echo %q (%v), want %q", i, got, err, s)
		}
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
