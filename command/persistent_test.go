package command

import (
	"context"
	"encoding/json"
	"io"
	"os"
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
	py := python(t)
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
	op, err := NewPersistent(Spec{Argv: []string{py, "op.py"}, Dir: dir, Grace: 2 * time.Second})
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

// failedOne returns the one failed run of recs, and checks that the
// others completed.
func failedOne(t *testing.T, recs map[int]*store.Record) *store.Record {
	t.Helper()
	var failed *store.Record
	for i, r := range recs {
		switch {
		case r.Status == store.StatusFailed && failed == nil:
			failed = r
		case r.Status != store.StatusCompleted:
			t.Errorf("run %d: status %s (%s), want completed", i, r.Status, r.Error)
		}
	}
	if failed == nil {
		t.Fatal("no run failed")
	}
	return failed
}

// ranAfterIn checks that the runs that began after the run that ended
// their process did not run in that process. Which runs came after is
// told by time: the runs of a worker slot may reach its process in any
// order, and a run the process held but had not begun begins only after.
func ranAfterIn(t *testing.T, recs map[int]*store.Record, ender *store.Record) {
	t.Helper()
	before, after := map[float64]bool{}, 0
	for _, r := range recs {
		if r != ender && r.Started.Before(ender.Started) {
			before[r.Metrics["pid"]] = true
		}
	}
	for i, r := range recs {
		if r != ender && r.Started.After(ender.Started) {
			after++
			if before[r.Metrics["pid"]] {
				t.Errorf("run %d began after the run that ended the process, in that process (pid %v)", i, r.Metrics["pid"])
			}
		}
	}
	if after == 0 {
		t.Errorf("no run began after the run that ended the process, at %v", ender.Started)
	}
}

// The first process's second run ends it (the runs of a slot reach it in
// no set order, so not a run chosen by its params).
const secondRunOfFirstProcess = `    op.n = getattr(op, "n", 0) + 1
    if op.n == 2 and not os.path.exists("ended.mark"):
        open("ended.mark", "w").close()
`

func TestPersistentCrashFailsRunAndRestarts(t *testing.T) {
	op := persistentOp(t, secondRunOfFirstProcess+`        print("dying", file=sys.stderr)
        sys.stderr.flush()
        os._exit(3)
    capture.metric("pid", os.getpid())`)
	recs := persistentSweep(t, op, cases(4), 0)
	r := failedOne(t, recs)
	if !strings.Contains(r.Error, "exit status 3: dying") {
		t.Fatalf("error %q, want exit status 3 and the stderr line", r.Error)
	}
	if r.ExitCode == nil || *r.ExitCode != 3 || !strings.Contains(r.StderrTail, "dying") {
		t.Errorf("exit code %v, stderr tail %q", r.ExitCode, r.StderrTail)
	}
	ranAfterIn(t, recs, r)
}

func TestPersistentTimeoutKillsAndRestarts(t *testing.T) {
	op := persistentOp(t, secondRunOfFirstProcess+`        time.sleep(60)
    capture.metric("pid", os.getpid())`)
	// The timeout covers starting the next process too: on a loaded
	// machine a Python start took more than a second.
	recs := persistentSweep(t, op, cases(4), 3*time.Second)
	r := failedOne(t, recs)
	if !strings.Contains(r.Error, "timed out") {
		t.Fatalf("error %q, want failed by timeout", r.Error)
	}
	ranAfterIn(t, recs, r)
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
