package command

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/launcher"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/seeds"
	"github.com/metalab-hpc/metalab/store"
)

// script writes an executable shell script into dir and returns its name.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return "./" + name
}

// testRun executes op once with a fresh recorder and scratch directory.
type testRun struct {
	out   outcome
	err   error
	rec   *capture.Recorder
	store string
}

func execute(t *testing.T, ctx context.Context, op *Op, storeDir string, p params.Point, slot string) testRun {
	t.Helper()
	st, err := store.Open(storeDir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sl, err := newSlot(st, "w-"+slot)
	if err != nil {
		t.Fatal(err)
	}
	defer sl.close()
	rec := capture.TestRecorder(t, storeDir, "artifacts/r1")
	out, err := op.run(ctx, sl, runInput{
		runID:    "r1",
		params:   p,
		seeds:    seeds.New(42, 3).Bundle(1),
		context:  launcher.Context{"data": "/abs/data.csv", "k": int64(3)},
		rec:      rec,
		storeDir: storeDir,
	})
	return testRun{out: out, err: err, rec: rec, store: storeDir}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "noexec.sh"), []byte("#!/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "here.sh"), []byte("#!/bin/sh\n"), 0o755)
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	tests := []struct {
		name string
		spec Spec
		msg  string
		hint string
	}{
		{"empty", Spec{Dir: dir}, "command is empty", "command = ["},
		{"not in PATH", Spec{Argv: []string{"no-such-program-xyz"}, Dir: dir}, `"no-such-program-xyz" not found in $PATH`, "spelling"},
		{"in dir but bare", Spec{Argv: []string{"here.sh"}, Dir: dir}, `"here.sh" not found in $PATH`, `write "./here.sh"`},
		{"missing path", Spec{Argv: []string{"./missing.sh"}, Dir: dir}, "does not exist", "relative to the working directory"},
		{"not executable", Spec{Argv: []string{"./noexec.sh"}, Dir: dir}, "is not executable", "chmod +x"},
		{"directory", Spec{Argv: []string{"./sub"}, Dir: dir}, "is a directory", ""},
		{"missing dir", Spec{Argv: []string{"sh"}, Dir: filepath.Join(dir, "nope")}, "does not exist", ""},
		{"reserved env", Spec{Argv: []string{"sh"}, Dir: dir, Env: map[string]string{"METALAB_SEED": "1"}}, "reserved", ""},
		{"bad env name", Spec{Argv: []string{"sh"}, Dir: dir, Env: map[string]string{"A=B": "1"}}, "not a valid variable name", ""},
		{"env PATH used", Spec{Argv: []string{"sh"}, Dir: dir, Env: map[string]string{"PATH": dir}}, "not found in $PATH", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.spec)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("New()=%v, want a *command.Error", err)
			}
			if !strings.Contains(e.Error(), tt.msg) {
				t.Errorf("New()=%q, want it to contain %q", e, tt.msg)
			}
			if !strings.Contains(e.Hint(), tt.hint) {
				t.Errorf("Hint()=%q, want it to contain %q", e.Hint(), tt.hint)
			}
		})
	}
}

func TestNewResolves(t *testing.T) {
	dir := t.TempDir()
	name := script(t, dir, "run.sh", "exit 0\n")
	op, err := New(Spec{Argv: []string{name}, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := op.Path(), filepath.Join(dir, "run.sh"); got != want {
		t.Errorf("Path()=%q, want %q", got, want)
	}
	op, err = New(Spec{Argv: []string{"sh", "-c", "true"}, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(op.Path()) {
		t.Errorf("Path()=%q, want an absolute path from $PATH", op.Path())
	}
}

func TestRunEnvironment(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("METALAB_LEAK", "from a parent run")
	name := script(t, dir, "env.sh", `env | grep -E '^(METALAB_|EXTRA=)' | LC_ALL=C sort > "$OUTFILE"`+"\n")
	out := filepath.Join(dir, "env.txt")
	op, err := New(Spec{Argv: []string{name}, Dir: dir, Env: map[string]string{"OUTFILE": out, "EXTRA": "x y"}})
	if err != nil {
		t.Fatal(err)
	}
	p := params.Point{"n_samples": int64(1000), "lr": 0.001, "w": 1.0, "method": "a b", "on": true, "l": []any{int64(1), "x"}}
	r := execute(t, context.Background(), op, t.TempDir(), p, "s0")
	if r.err != nil {
		t.Fatal(r.err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, _ := strings.Cut(line, "=")
		got[k] = v
	}
	bundle := seeds.New(42, 3).Bundle(1)
	want := map[string]string{
		"EXTRA":                   "x y",
		"METALAB_RUN_ID":          "r1",
		"METALAB_PARAMS":          `{"l":[1,"x"],"lr":0.001,"method":"a b","n_samples":1000,"on":true,"w":1.0}`,
		"METALAB_PARAM_N_SAMPLES": "1000",
		"METALAB_PARAM_LR":        "0.001",
		"METALAB_PARAM_W":         "1.0",
		"METALAB_PARAM_METHOD":    "a b",
		"METALAB_PARAM_ON":        "true",
		"METALAB_PARAM_L":         `[1,"x"]`,
		"METALAB_SEED":            strconv.FormatUint(bundle.Seed(), 10),
		"METALAB_NUMPY_SEED":      strconv.FormatUint(bundle.Seed()%(1<<32), 10),
		"METALAB_REPLICATE":       "1",
		"METALAB_SEED_BASE":       "42",
		"METALAB_CONTEXT":         `{"data":"/abs/data.csv","k":3}`,
		"METALAB_CONTEXT_DATA":    "/abs/data.csv",
		"METALAB_CONTEXT_K":       "3",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("$%s=%q, want %q", k, got[k], v)
		}
	}
	for _, k := range []string{"METALAB_CAPTURE", "METALAB_ARTIFACT_DIR", "METALAB_SCRATCH", "METALAB_STORE"} {
		if !filepath.IsAbs(got[k]) {
			t.Errorf("$%s=%q, want an absolute path", k, got[k])
		}
	}
	if _, ok := got["METALAB_LEAK"]; ok {
		t.Errorf("a METALAB_ variable of metalab's own environment reached the program")
	}
}

func TestRunHostileParams(t *testing.T) {
	dir := t.TempDir()
	name := script(t, dir, "echo.sh", `printf '%s' "$METALAB_PARAM_S" > got.txt`+"\n")
	op, err := New(Spec{Argv: []string{name}, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	hostile := "it's \"quoted\" $(touch pwned) `touch pwned2` ; rm -rf / \n second line \\ ünïcødé 日本 $HOME"
	r := execute(t, context.Background(), op, t.TempDir(), params.Point{"s": hostile}, "s0")
	if r.err != nil {
		t.Fatal(r.err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "got.txt"))
	if got := string(b); got != hostile {
		t.Errorf("param arrived as %q, want %q", got, hostile)
	}
	for _, f := range []string{"pwned", "pwned2"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("a param value ran a command (%s exists)", f)
		}
	}
	r = execute(t, context.Background(), op, t.TempDir(), params.Point{"s": "a\x00b"}, "s0")
	if r.err == nil || !strings.Contains(r.err.Error(), "NUL") {
		t.Errorf("NUL in a param: err=%v, want a clear error", r.err)
	}
}

func TestRunCapture(t *testing.T) {
	dir := t.TempDir()
	name := script(t, dir, "cap.sh", `
echo '{"metric": "pi_estimate", "value": 3.14}' >> "$METALAB_CAPTURE"
echo '{"metric": "loss", "value": 0.5, "step": 1}' >> "$METALAB_CAPTURE"
echo '{"metric": "bad", "value": NaN}' >> "$METALAB_CAPTURE"
echo '{"data": "cfg", "value": {"a": [1, 2]}}' >> "$METALAB_CAPTURE"
echo hello > out.txt
echo '{"artifact": "out", "path": "out.txt"}' >> "$METALAB_CAPTURE"
echo plot > "$METALAB_ARTIFACT_DIR/plot.png"
echo '{"log": "done"}' >> "$METALAB_CAPTURE"
`)
	op, err := New(Spec{Argv: []string{name}, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	r := execute(t, context.Background(), op, t.TempDir(), nil, "s0")
	if r.err != nil || r.rec.Err() != nil {
		t.Fatalf("run: %v, capture: %v", r.err, r.rec.Err())
	}
	res := r.rec.Result()
	if got, want := res.Metrics["pi_estimate"], 3.14; got != want {
		t.Errorf("pi_estimate=%v, want %v", got, want)
	}
	if !math.IsNaN(res.Metrics["bad"]) || len(res.Warnings) == 0 {
		t.Errorf("NaN metric: %v, warnings %q; want NaN with a warning", res.Metrics["bad"], res.Warnings)
	}
	if got, want := string(res.Data["cfg"]), `{"a":[1,2]}`; got != want {
		t.Errorf("data cfg=%s, want %s", got, want)
	}
	if len(res.Series["loss"]) != 1 {
		t.Errorf("series loss=%v, want one point", res.Series["loss"])
	}
	var names []string
	for _, a := range res.Artifacts {
		names = append(names, a.Name)
	}
	if got, want := strings.Join(names, ","), "out,plot.png"; got != want {
		t.Errorf("artifacts %s, want %s", got, want)
	}
	if got, want := strings.Join(res.Logs, ","), "done"; got != want {
		t.Errorf("logs %q, want %q", got, want)
	}
	if r.out.exitCode == nil || *r.out.exitCode != 0 {
		t.Errorf("exit code %v, want 0", r.out.exitCode)
	}
	if r.out.peakRSSKB <= 0 {
		t.Errorf("peak RSS %d, want > 0", r.out.peakRSSKB)
	}
}

func TestRunBadCaptureLineFailsRun(t *testing.T) {
	dir := t.TempDir()
	name := script(t, dir, "cap.sh", `
echo '{"metric": "kept", "value": 1}' >> "$METALAB_CAPTURE"
echo 'pi=3.14' >> "$METALAB_CAPTURE"
echo '{"metric": "x", "value": "3.14"}' >> "$METALAB_CAPTURE"
`)
	op, err := New(Spec{Argv: []string{name}, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	r := execute(t, context.Background(), op, t.TempDir(), nil, "s0")
	if r.err != nil {
		t.Fatalf("the program itself succeeded, got %v", r.err)
	}
	err = r.rec.Err()
	if err == nil || !strings.Contains(err.Error(), "capture line 2: not valid JSON") || !strings.Contains(err.Error(), "pi=3.14") {
		t.Fatalf("capture error %v, want line 2 named with its text", err)
	}
	if got := r.rec.Result().Metrics["kept"]; got != 1 {
		t.Errorf("metric captured before the bad line: %v, want 1", got)
	}
}

func TestRunNonNumericMetric(t *testing.T) {
	dir := t.TempDir()
	name := script(t, dir, "cap.sh", `echo '{"metric": "acc", "value": "high"}' >> "$METALAB_CAPTURE"`+"\n")
	op, _ := New(Spec{Argv: []string{name}, Dir: dir})
	r := execute(t, context.Background(), op, t.TempDir(), nil, "s0")
	if err := r.rec.Err(); err == nil || !strings.Contains(err.Error(), `metric "acc" value must be a number`) {
		t.Fatalf("capture error %v, want the metric named", err)
	}
}

func TestRunFailures(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, body, err string
		code            *int
		signal          string
		tail            string
	}{
		{"exit 3", "echo starting >&2\necho 'ValueError: bad n' >&2\nexit 3\n", "exit status 3: ValueError: bad n", intp(3), "", "starting\nValueError: bad n\n"},
		{"signal", "kill -SEGV $$\n", "killed by signal SIGSEGV", nil, "SIGSEGV", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := script(t, dir, strings.ReplaceAll(tt.name, " ", "_")+".sh", tt.body)
			op, _ := New(Spec{Argv: []string{name}, Dir: dir})
			r := execute(t, context.Background(), op, t.TempDir(), nil, "s0")
			if r.err == nil || r.err.Error() != tt.err {
				t.Errorf("err=%v, want %q", r.err, tt.err)
			}
			if (r.out.exitCode == nil) != (tt.code == nil) || (tt.code != nil && *r.out.exitCode != *tt.code) {
				t.Errorf("exit code %v, want %v", r.out.exitCode, tt.code)
			}
			if got, want := r.out.signal, tt.signal; got != want {
				t.Errorf("signal %q, want %q", got, want)
			}
			if got, want := r.out.stderrTail, tt.tail; got != want {
				t.Errorf("stderr tail %q, want %q", got, want)
			}
		})
	}
}

func intp(n int) *int { return &n }

func TestRunStderrTailIsBounded(t *testing.T) {
	dir := t.TempDir()
	name := script(t, dir, "loud.sh", `i=0; while [ $i -lt 500 ]; do echo "line $i ééé" >&2; i=$((i+1)); done; exit 1`+"\n")
	op, _ := New(Spec{Argv: []string{name}, Dir: dir})
	r := execute(t, context.Background(), op, t.TempDir(), nil, "s0")
	if n := len(r.out.stderrTail); n > stderrTailSize || n < stderrTailSize-4 {
		t.Errorf("stderr tail of %d bytes, want about %d", n, stderrTailSize)
	}
	if !strings.HasSuffix(r.out.stderrTail, "line 499 ééé\n") {
		t.Errorf("stderr tail does not end with the last line: %q", r.out.stderrTail[len(r.out.stderrTail)-40:])
	}
	if got, want := r.err.Error(), "exit status 1: line 499 ééé"; got != want {
		t.Errorf("err=%q, want %q", got, want)
	}
}

// TestRunTimeoutKillsGroup checks that a cancelled run takes its whole
// process tree with it, even a child that ignores SIGTERM, and a program that
// ignores it itself.
func TestRunTimeoutKillsGroup(t *testing.T) {
	tests := []struct{ name, leaderTrap, signal string }{
		{"child ignores TERM", "", "SIGTERM"},
		{"program ignores TERM", `trap "" TERM`, "SIGKILL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			name := script(t, dir, "hang.sh", tt.leaderTrap+`
sh -c 'trap "" TERM; echo $$ > child.pid; while :; do sleep 1; done' &
while [ ! -s child.pid ]; do sleep 0.05; done
echo '{"metric": "before", "value": 1}' >> "$METALAB_CAPTURE"
while :; do wait; done
`)
			op, err := New(Spec{Argv: []string{name}, Dir: dir, Grace: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 1*time.Second)
			defer cancel()
			start := time.Now()
			r := execute(t, ctx, op, t.TempDir(), nil, "s0")
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("run took %v after a 1s timeout", el)
			}
			if r.err == nil || r.err.Error() != "killed by signal "+tt.signal {
				t.Errorf("err=%v, want killed by signal %s", r.err, tt.signal)
			}
			if got := r.rec.Result().Metrics["before"]; got != 1 {
				t.Errorf("metric captured before the timeout: %v, want 1", got)
			}
			b, err := os.ReadFile(filepath.Join(dir, "child.pid"))
			if err != nil {
				t.Fatal(err)
			}
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			deadline := time.Now().Add(3 * time.Second)
			for alive(pid) {
				if time.Now().After(deadline) {
					syscall.Kill(pid, syscall.SIGKILL)
					t.Fatalf("child %d that ignores SIGTERM outlived its run", pid)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

// alive reports whether pid runs; a zombie waiting for a reaper is dead.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func TestRunLogsShareOneFilePerSlot(t *testing.T) {
	dir := t.TempDir()
	name := script(t, dir, "say.sh", `echo "out of $METALAB_PARAM_N"; echo "err of $METALAB_PARAM_N" >&2`+"\n")
	op, _ := New(Spec{Argv: []string{name}, Dir: dir})
	storeDir := t.TempDir()
	var refs []*store.LogRef
	for _, n := range []int64{1, 22, 333} {
		r := execute(t, context.Background(), op, storeDir, params.Point{"n": n}, "s0")
		if r.err != nil {
			t.Fatal(r.err)
		}
		refs = append(refs, r.out.stdout)
		if r.out.stderr == nil || r.out.stderr.File != "logs/w-s0.err" {
			t.Errorf("stderr ref %+v, want logs/w-s0.err", r.out.stderr)
		}
	}
	b, err := os.ReadFile(filepath.Join(storeDir, "logs", "w-s0.out"))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"out of 1\n", "out of 22\n", "out of 333\n"} {
		ref := refs[i]
		if ref.File != "logs/w-s0.out" {
			t.Errorf("run %d: file %q", i, ref.File)
		}
		if got := string(b[ref.Offset : ref.Offset+ref.Length]); got != want {
			t.Errorf("run %d: bytes %q, want %q", i, got, want)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(storeDir, "logs"))
	if len(entries) != 2 {
		t.Errorf("%d log files for 3 runs on one slot, want 2", len(entries))
	}
}

func TestExecuteAnnotates(t *testing.T) {
	// The outcome lands in the record through Runtime.Annotate.
	code := 0
	out := outcome{exitCode: &code, signal: "", stderrTail: "x", peakRSSKB: 7,
		stdout: &store.LogRef{File: "logs/a.out", Length: 3}}
	var rec store.Record
	out.annotate(&rec)
	b, _ := json.Marshal(&rec)
	for _, want := range []string{`"exit_code":0`, `"stderr_tail":"x"`, `"peak_rss_kb":7`, `"stdout":{"file":"logs/a.out","offset":0,"length":3}`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("record %s lacks %s", b, want)
		}
	}
}

func TestParamEnv(t *testing.T) {
	tests := []struct{ in, want string }{
		{"n_samples", "METALAB_PARAM_N_SAMPLES"},
		{"learning-rate", "METALAB_PARAM_LEARNING_RATE"},
		{"lr.0", "METALAB_PARAM_LR_0"},
		{"λ", "METALAB_PARAM__"},
		{"Mixed", "METALAB_PARAM_MIXED"},
	}
	for _, tt := range tests {
		if got := ParamEnv(tt.in); got != tt.want {
			t.Errorf("ParamEnv(%q)=%q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRunLeavesNoBackgroundJobs(t *testing.T) {
	dir := t.TempDir()
	name := script(t, dir, "bg.sh", "sleep 300 &\necho $! > bg.pid\nexit 0\n")
	op, _ := New(Spec{Argv: []string{name}, Dir: dir})
	r := execute(t, context.Background(), op, t.TempDir(), nil, "s0")
	if r.err != nil {
		t.Fatal(r.err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "bg.pid"))
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	deadline := time.Now().Add(3 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("background job %d outlived its run", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestEmptyLogsRemoved: a slot's log that no run wrote to is removed when
// the slot closes, so that the runs of a task that print nothing leave no
// file; one with output stays.
func TestEmptyLogsRemoved(t *testing.T) {
	dir := t.TempDir()
	name := script(t, dir, "quiet.sh", "echo only stdout\n")
	op, _ := New(Spec{Argv: []string{name}, Dir: dir})
	storeDir := t.TempDir()
	r := execute(t, context.Background(), op, storeDir, params.Point{}, "s0")
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.out.stderr == nil || r.out.stderr.Length != 0 {
		t.Errorf("stderr ref %+v, want an empty range", r.out.stderr)
	}
	if _, err := os.Stat(filepath.Join(storeDir, "logs", "w-s0.out")); err != nil {
		t.Errorf("the log with output: %v", err)
	}
	if _, err := os.Stat(filepath.Join(storeDir, "logs", "w-s0.err")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the empty log is left: %v", err)
	}
}

// TestLimitGrace: a worker can shorten the grace of a run it cancels, not
// lengthen it.
func TestLimitGrace(t *testing.T) {
	op, err := New(Spec{Argv: []string{"true"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ limit, want time.Duration }{
		{0, DefaultGrace}, {time.Minute, DefaultGrace}, {2500 * time.Millisecond, 2500 * time.Millisecond}, {time.Hour, 2500 * time.Millisecond},
	} {
		op.LimitGrace(tt.limit)
		if got := op.spec.Grace; got != tt.want {
			t.Errorf("LimitGrace(%v): grace %v, want %v", tt.limit, got, tt.want)
		}
	}
	var _ interface{ LimitGrace(time.Duration) } = (*Persistent)(nil)
}

func TestDescribe(t *testing.T) {
	dir := t.TempDir()
	a, err := New(Spec{Argv: []string{"sh", "-c", "true"}, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Spec{Argv: []string{"sh", "-c", "true"}, Dir: t.TempDir(), Env: map[string]string{"X": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Spec{Argv: []string{"sh", "-c", "false"}, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPersistent(Spec{Argv: []string{"sh", "-c", "true"}, Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var _ launcher.Describer = a
	var _ launcher.Describer = p
	if !reflect.DeepEqual(a.Describe(), b.Describe()) {
		t.Errorf("same command line in another directory: %v and %v differ", a.Describe(), b.Describe())
	}
	for name, other := range map[string]map[string]any{"another argument": c.Describe(), "persistent": p.Describe()} {
		if reflect.DeepEqual(a.Describe(), other) {
			t.Errorf("%s: description %v equals %v", name, other, a.Describe())
		}
	}
	if got := a.Describe()["command"]; !reflect.DeepEqual(got, []any{"sh", "-c", "true"}) {
		t.Errorf("command = %v, want the argv as written", got)
	}
}
