package command

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/metalab-hpc/metalab/store"
)

// rawServer is a persistent program in Python that speaks the protocol
// itself, without the helper: it reads stdin raw, so that it can tell
// whether the next request was already there when a run ended ("ahead").
// $ANNOUNCE=1 makes it announce that it pipelines. $MODE makes its third
// request crash (SIGKILL) or hang, after waiting (up to 3 s) until a
// later request is there, and writing to $MARK the run IDs it had been
// sent and not run (the first process only).
const rawServer = `import json, os, select, signal, sys, time
ch = os.fdopen(3, "w")
if os.environ.get("ANNOUNCE") == "1":
    ch.write('{"capabilities": ["pipeline"]}\n')
    ch.flush()
buf = b""
def more(timeout):
    global buf
    if select.select([0], [], [], timeout)[0]:
        chunk = os.read(0, 65536)
        buf += chunk
        return len(chunk) > 0
    return False
n = 0
while True:
    while b"\n" not in buf:
        if not more(None):
            sys.exit(0)
    line, buf = buf.split(b"\n", 1)
    req = json.loads(line)
    rid = req["run_id"]
    n += 1
    if n == 3 and os.environ.get("MODE") and not os.path.exists(os.environ["MARK"]):
        deadline = time.time() + 3
        while b"\n" not in buf and time.time() < deadline:
            more(0.05)
        more(0)
        with open(os.environ["MARK"], "w") as f:
            for l in buf.split(b"\n"):
                if l.strip():
                    f.write(json.loads(l)["run_id"] + "\n")
        if os.environ["MODE"] == "crash":
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(60)
    if n == 3:
        time.sleep(0.3)
    ahead = 1 if (b"\n" in buf or select.select([0], [], [], 0)[0]) else 0
    for obj in ({"metric": "ahead", "value": ahead}, {"metric": "i", "value": req["params"]["i"]},
                {"metric": "pid", "value": os.getpid()}, {"data": "scratch", "value": req["scratch"]}):
        obj["run"] = rid
        ch.write(json.dumps(obj) + "\n")
    ch.write(json.dumps({"done": rid}) + "\n")
    ch.flush()
`

// shellServer is a persistent program in sh: it announces pipelining if
// $ANNOUNCE is 1, and reports each run's i, pid and scratch, and what
// metalab offered it.
const shellServer = `#!/bin/sh
[ "$ANNOUNCE" = 1 ] && printf '{"capabilities": ["pipeline"]}\n' >&3
while read -r req; do
  id=$(printf '%s' "$req" | sed 's/.*"run_id":"\([0-9a-f]*\)".*/\1/')
  i=$(printf '%s' "$req" | sed 's/.*"i":\([0-9]*\).*/\1/')
  scr=$(printf '%s' "$req" | sed 's/.*"scratch":"\([^"]*\)".*/\1/')
  printf '{"metric": "i", "value": %s, "run": "%s"}\n{"metric": "pid", "value": %s}\n{"data": "scratch", "value": "%s"}\n' \
    "$i" "$id" "$$" "$scr" >&3
  printf '{"data": "offered", "value": "%s"}\n{"done": "%s"}\n' "$METALAB_CAPABILITIES" "$id" >&3
done
`

// python is the real python3 binary, not a shim that starts it: a shim
// may take seconds to start on a loaded machine, which the timeouts below
// would count.
func python(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is needed for persistent-mode tests")
	}
	out, err := exec.Command("python3", "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// serverOp writes a program and returns its persistent operation, with
// env, started in its scratch directory if scratchCwd.
func serverOp(t *testing.T, argv0, name, src string, env map[string]string, scratchCwd bool) *Persistent {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o755); err != nil {
		t.Fatal(err)
	}
	op, err := NewPersistent(Spec{Argv: []string{argv0, name}, Dir: dir, Env: env, Grace: 2 * time.Second, ScratchCwd: scratchCwd})
	if err != nil {
		t.Fatal(err)
	}
	// On a loaded machine a short run may take longer than the default:
	// every run counts as short, so that requests are sent ahead.
	op.shortRun = time.Hour
	return op
}

// TestPersistentPipelineNegotiated: metalab sends requests ahead only to
// a process that announced that it pipelines; every run's results are its
// own either way, and pipelined runs get scratch directories in turn.
func TestPersistentPipelineNegotiated(t *testing.T) {
	py := python(t)
	helperDir, err := filepath.Abs("../python")
	if err != nil {
		t.Fatal(err)
	}
	helperSrc := func(pipeline bool) string {
		src := "import os, sys\nsys.path.insert(0, " + pyString(helperDir) + ")\nimport metalab_persistent\n"
		if !pipeline {
			src += "metalab_persistent._PIPELINE = False\n"
		}
		return src + `
def op(params, seeds, capture):
    capture.metric("i", params["i"])
    capture.metric("pid", os.getpid())
    capture.data("scratch", capture.scratch)
    print("out", params["i"])

metalab_persistent.serve(op)
`
	}
	for _, tc := range []struct {
		name, argv0, file, src string
		announce               bool
		scratchCwd             bool
		checkAhead             bool // the program reports "ahead"
	}{
		{name: "python announces", argv0: py, file: "raw.py", src: rawServer, announce: true, checkAhead: true},
		{name: "python does not announce", argv0: py, file: "raw.py", src: rawServer, checkAhead: true},
		{name: "helper", argv0: py, file: "op.py", src: helperSrc(true), announce: true},
		{name: "helper one at a time", argv0: py, file: "op.py", src: helperSrc(false)},
		{name: "shell announces", argv0: "sh", file: "op.sh", src: shellServer, announce: true},
		{name: "shell does not announce", argv0: "sh", file: "op.sh", src: shellServer},
		// Its working directory is emptied after each run: no pipelining,
		// and no offer of it.
		{name: "shell announces in cwd scratch", argv0: "sh", file: "op.sh", src: shellServer, announce: true, scratchCwd: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"ANNOUNCE": "0"}
			if tc.announce {
				env["ANNOUNCE"] = "1"
			}
			op := serverOp(t, tc.argv0, tc.file, tc.src, env, tc.scratchCwd)
			pipelined := tc.announce && !tc.scratchCwd
			const n = 10
			recs := persistentSweep(t, op, cases(n), 0)
			scratches, pids, ahead := map[string]bool{}, map[float64]bool{}, 0
			for i, r := range recs {
				if r.Status != store.StatusCompleted {
					t.Fatalf("run %d: %s %s", i, r.Status, r.Error)
				}
				if got, want := r.Metrics["i"], float64(i); got != want {
					t.Errorf("run %d: metric i=%v, want %v: another run's result", i, got, want)
				}
				scratches[string(r.Data["scratch"])] = true
				pids[r.Metrics["pid"]] = true
				if r.Metrics["ahead"] == 1 {
					ahead++
				}
				if offered, ok := r.Data["offered"]; ok && string(offered) != map[bool]string{true: `""`, false: `"pipeline"`}[tc.scratchCwd] {
					t.Errorf("run %d: $METALAB_CAPABILITIES=%s", i, offered)
				}
				if tc.file == "op.py" && (r.Stdout == nil || r.Stdout.Length != int64(len(fmt.Sprintf("out %d\n", i)))) {
					t.Errorf("run %d: stdout ref %+v, want its own line", i, r.Stdout)
				}
			}
			if got, want := len(pids), 1; got != want {
				t.Errorf("runs ran in %d processes, want %d", got, want)
			}
			switch {
			case pipelined && len(scratches) < 2:
				t.Errorf("a pipelining process's runs all had scratch %v, want directories in turn", scratches)
			case !pipelined && len(scratches) != 1:
				t.Errorf("a process that does not pipeline had scratch directories %v, want one", scratches)
			}
			if tc.checkAhead {
				if tc.announce && ahead == 0 {
					t.Errorf("no run of a pipelining process found the next request waiting")
				}
				if !tc.announce && ahead > 0 {
					t.Errorf("%d runs of a process that did not announce pipelining were sent the next request early", ahead)
				}
			}
			figures(t, "runs=%d processes=%d scratch_dirs=%d runs_with_next_request_waiting=%d", n, len(pids), len(scratches), ahead)
		})
	}
}

// TestPersistentPipelineKillAndTimeout: a pipelining process that is
// killed (or that a run's timeout kills) while it holds runs it has not
// begun: the run it was running fails, those it held are run again by
// the next process, each once, and no result is credited to another run.
func TestPersistentPipelineKillAndTimeout(t *testing.T) {
	py := python(t)
	for _, tc := range []struct {
		mode, wantErr string
		timeout       time.Duration
	}{
		{mode: "crash", wantErr: "killed by signal SIGKILL"},
		{mode: "hang", wantErr: "timed out", timeout: 5 * time.Second},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			mark := filepath.Join(t.TempDir(), "held")
			op := serverOp(t, py, "raw.py", rawServer, map[string]string{"ANNOUNCE": "1", "MODE": tc.mode, "MARK": mark}, false)
			const n = 8
			recs := persistentSweep(t, op, cases(n), tc.timeout)
			held, err := os.ReadFile(mark)
			if err != nil {
				t.Fatal(err)
			}
			heldIDs := strings.Fields(string(held))
			if len(heldIDs) == 0 {
				t.Fatalf("the process held no run it had not begun when it was %s", tc.mode)
			}
			var dead *store.Record
			for i, r := range recs {
				if r.Status == store.StatusFailed {
					if dead != nil {
						t.Fatalf("runs %v and %v failed, want one", dead.Params, r.Params)
					}
					dead = r
					if !strings.Contains(r.Error, tc.wantErr) {
						t.Errorf("run %d: error %q, want %q", i, r.Error, tc.wantErr)
					}
					continue
				}
				if r.Status != store.StatusCompleted {
					t.Fatalf("run %d: %s %s", i, r.Status, r.Error)
				}
				if got, want := r.Metrics["i"], float64(i); got != want {
					t.Errorf("run %d: metric i=%v, want %v: another run's result", i, got, want)
				}
			}
			if dead == nil {
				t.Fatal("no run failed")
			}
			// The runs the process held were begun again, elsewhere, after
			// the one it died in ended.
			byID := map[string]*store.Record{}
			for _, r := range recs {
				byID[r.RunID] = r
			}
			for _, id := range heldIDs {
				r := byID[id]
				if r == nil {
					t.Fatalf("held run %s has no record", id)
				}
				if r.Status != store.StatusCompleted || r.Started.Before(dead.Started) {
					t.Errorf("held run %s: %s, started %v (the dead run started %v), want completed after it", id, r.Status, r.Started, dead.Started)
				}
			}
			figures(t, "runs=%d failed=1 held_and_rerun=%d", n, len(heldIDs))
		})
	}
}

// figures logs what a test measured, for its reader.
func figures(t *testing.T, format string, args ...any) {
	t.Helper()
	t.Logf("figures: "+format, args...)
}

// TestParseDone: done lines as the helper writes them are recognised
// without decoding, the others through encoding/json; sizes a process
// reports are taken only as numbers.
func TestParseDone(t *testing.T) {
	const id = "0123abcd"
	start := []byte(`{"done": "` + id + `"`)
	n := func(v int64) *int64 { return &v }
	for _, tc := range []struct {
		line                 string
		wantDone             bool
		wantErr              string
		wantOut, wantErrSize *int64
	}{
		{line: `{"done": "0123abcd"}`, wantDone: true},
		{line: `{"done": "0123abcd", "stdout": 12, "stderr": 0}`, wantDone: true, wantOut: n(12), wantErrSize: n(0)},
		{line: `{"done": "0123abcd", "error": "ValueError: x", "stdout": 3, "stderr": 40}`, wantDone: true, wantErr: "ValueError: x", wantOut: n(3), wantErrSize: n(40)},
		{line: `{"stdout": 5, "done": "0123abcd"}`, wantDone: false}, // not a done line's start: a capture line
		{line: `  {"done":"other"}`, wantDone: true},
		{line: `{"done": "0123abcd", "stdout": 012, "stderr": 1}`, wantDone: false}, // not JSON
		{line: `{"done": "0123abcd", "stdout": -5, "stderr": 1}`, wantDone: true, wantOut: n(-5), wantErrSize: n(1)},
		{line: `{"done": "0123abcd", "stdout": 99999999999999999999, "stderr": 1}`, wantDone: false},
		{line: `{"done": null}`, wantDone: false},
		{line: `{"metric": "done", "value": 1}`, wantDone: false},
	} {
		d, ok := parseDone([]byte(tc.line), start, id)
		if ok != tc.wantDone {
			t.Errorf("parseDone(%s) done=%v, want %v", tc.line, ok, tc.wantDone)
			continue
		}
		if !ok {
			continue
		}
		if got, want := d.Error, tc.wantErr; got != want {
			t.Errorf("parseDone(%s) error=%q, want %q", tc.line, got, want)
		}
		for _, c := range []struct {
			name      string
			got, want *int64
		}{{"stdout", d.Stdout, tc.wantOut}, {"stderr", d.Stderr, tc.wantErrSize}} {
			if (c.got == nil) != (c.want == nil) || (c.got != nil && *c.got != *c.want) {
				t.Errorf("parseDone(%s) %s=%v, want %v", tc.line, c.name, c.got, c.want)
			}
		}
	}
}
