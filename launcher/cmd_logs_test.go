package launcher

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/seeds"
	"github.com/metalab-hpc/metalab/store"
)

// logStore is a store of three completed runs, IDs aaaa0000000000a0,
// aaaa0000000000a1 and bbbb0000000000a2, whose output is in the shared logs logs/w.out and logs/w.err, as
// a command operation leaves it: "out N\n" and "err N\n". Damaged, the
// end record of run a2 is overwritten with zeros after the store was
// collected, its modification time put back, so that only a reader finds
// out.
func logStore(t *testing.T, damaged bool) string {
	t.Helper()
	dir := t.TempDir()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Init(store.Manifest{Experiment: "logs", Version: "1", Identity: "x"}); err != nil {
		t.Fatal(err)
	}
	w, err := st.NewWriter(store.WriterOptions{Name: "w"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, id := range []string{"aaaa0000000000a0", "aaaa0000000000a1", "bbbb0000000000a2"} {
		if err := w.Append(&Record{RunID: id, Status: store.StatusRunning, Started: start}); err != nil {
			t.Fatal(err)
		}
		out := &store.LogRef{File: "logs/w.out", Offset: int64(stdout.Len())}
		fmt.Fprintf(&stdout, "out %d\n", i)
		out.Length = int64(stdout.Len()) - out.Offset
		errRef := &store.LogRef{File: "logs/w.err", Offset: int64(stderr.Len())}
		fmt.Fprintf(&stderr, "err %d\n", i)
		errRef.Length = int64(stderr.Len()) - errRef.Offset
		end := &Record{RunID: id, Status: store.StatusCompleted, Started: start, Ended: start.Add(time.Second), Stdout: out, Stderr: errRef}
		if err := w.Append(end); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"w.out": stdout.Bytes(), "w.err": stderr.Bytes()} {
		if err := os.WriteFile(filepath.Join(dir, "logs", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Collect(context.Background()); err != nil {
		t.Fatal(err)
	}
	if damaged {
		path := filepath.Join(dir, "segments", "w.jsonl")
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		lines := bytes.SplitAfter(b, []byte("\n"))
		off := len(bytes.Join(lines[:5], nil))
		copy(b[off:], make([]byte, len(lines[5])))
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, info.ModTime(), info.ModTime()); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestRunLogs(t *testing.T) {
	tests := []struct {
		name    string
		damaged bool
		opts    logsOptions
		code    int
		out     string
		stderr  string // a part of what App.exit prints
	}{
		{name: "stdout then stderr", opts: logsOptions{RunID: "aaaa0000000000a1"}, out: "out 1\nerr 1\n"},
		{name: "stderr only", opts: logsOptions{RunID: "aaaa0000000000a1", Stderr: true}, out: "err 1\n"},
		{name: "stdout only", opts: logsOptions{RunID: "bbbb0000000000a2", Stdout: true}, out: "out 2\n"},
		{name: "both flags", opts: logsOptions{RunID: "aaaa0000000000a0", Stdout: true, Stderr: true}, out: "out 0\nerr 0\n"},
		{name: "a unique prefix", opts: logsOptions{RunID: "bbbb"}, out: "out 2\nerr 2\n"},
		{name: "an ambiguous prefix", opts: logsOptions{RunID: "aaaa"}, code: ExitUsage,
			stderr: "matches 2 runs: aaaa0000000000a0, aaaa0000000000a1\nhint: give more characters of the run ID\n"},
		{name: "an unknown run", opts: logsOptions{RunID: "ffffffffffffffff"}, code: ExitUsage,
			stderr: "metalab: no run \"ffffffffffffffff\" in "},
		{name: "a short prefix", opts: logsOptions{RunID: "000"}, code: ExitUsage,
			stderr: "hint: a run ID prefix needs at least 4 characters; list the run IDs with 'metalab results --store "},
		{name: "a run of a damaged store by prefix", damaged: true, opts: logsOptions{RunID: "aaaa0"}, code: ExitUsage,
			stderr: "matches 2 runs"},
		{name: "a run of a damaged store", damaged: true, opts: logsOptions{RunID: "aaaa0000000000a1"}, code: ExitDamaged, out: "out 1\nerr 1\n",
			stderr: "1 record could not be read and was skipped (run bbbb0000000000a2)\nhint: 'metalab collect --store "},
		{name: "the lost run of a damaged store", damaged: true, opts: logsOptions{RunID: "bbbb0000000000a2"}, code: ExitDamaged,
			stderr: "1 record could not be read and was skipped (run bbbb0000000000a2)\nhint: 'metalab collect --store "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := logStore(t, tt.damaged)
			app, warnings := testApp(sweepExp("logs", 1), nil)
			opts := tt.opts
			opts.Store = dir
			var out bytes.Buffer
			err := app.runLogs(context.Background(), opts, &out)
			code, stderr := exitOutput(err)
			if got, want := code, tt.code; got != want {
				t.Fatalf("runLogs()=%v (exit %d), want exit %d", err, got, want)
			}
			if got, want := out.String(), tt.out; got != want {
				t.Errorf("output %q, want %q", got, want)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q, want it to contain %q", stderr, tt.stderr)
			}
			if warnings.Len() > 0 {
				t.Errorf("warnings: %s", warnings)
			}
		})
	}
}

// TestRunLogsNoOutput: a run of a Go operation that logged nothing keeps
// no output; asking for it is bad input.
func TestRunLogsNoOutput(t *testing.T) {
	exp := sweepExp("nolog", 1)
	dir := localSweep(t, exp, 1)
	plan, err := NewPlan(&exp)
	if err != nil {
		t.Fatal(err)
	}
	id := plan.At(0).ID
	app, _ := testApp(exp, nil)
	err = app.runLogs(context.Background(), logsOptions{Store: dir, RunID: id}, &bytes.Buffer{})
	code, stderr := exitOutput(err)
	if code != ExitUsage || !strings.Contains(stderr, "kept no output and logged no line\nhint: a command's stdout and stderr are kept, and the lines any run logs (capture.log in Python, c.Log in Go)\n") {
		t.Errorf("runLogs()=%v (exit %d), want exit %d and a hint", err, code, ExitUsage)
	}
}

// TestRunLogsLogged: the lines a Go operation logged are its logs; a
// command run's follow its output under a line that tells them apart.
func TestRunLogsLogged(t *testing.T) {
	exp := Experiment{Name: "logged", Version: "1", Seeds: seeds.New(1, 1),
		Operation: Op(func(c capture.Capture) {
			c.Log("epoch %d", 1)
			c.Log("converged")
		})}
	dir := localSweep(t, exp, 1)
	plan, err := NewPlan(&exp)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts logsOptions
		out  string
	}{
		{"all", logsOptions{}, "epoch 1\nconverged\n"},
		{"--log", logsOptions{Log: true}, "epoch 1\nconverged\n"},
		{"--stdout", logsOptions{Stdout: true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, _ := testApp(exp, nil)
			opts := tt.opts
			opts.Store, opts.RunID = dir, plan.At(0).ID
			var out bytes.Buffer
			if err := app.runLogs(context.Background(), opts, &out); err != nil {
				t.Fatal(err)
			}
			if got, want := out.String(), tt.out; got != want {
				t.Errorf("runLogs() wrote %q, want %q", got, want)
			}
		})
	}
	var out bytes.Buffer
	if err := writeLogLines(&out, []string{"a", "b"}, true); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "--- capture log ---\na\nb\n"; got != want {
		t.Errorf("writeLogLines() after output wrote %q, want %q", got, want)
	}
}
