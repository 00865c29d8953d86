package launcher

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/seeds"
	"github.com/metalab-hpc/metalab/store"
)

func TestRunRun(t *testing.T) {
	tests := []struct {
		name   string
		exp    Experiment
		opts   runOptions
		again  bool // run a second time into the same store
		code   int
		out    []string
		stderr string // a part of what App.exit prints
	}{
		{name: "a sweep", exp: sweepExp("r", 3), opts: runOptions{NoTable: true},
			out: []string{"6 runs: 6 executed (6 completed, 0 failed, 0 cancelled), 0 skipped (already completed); store "}},
		{name: "with the table", exp: sweepExp("r", 1),
			out: []string{"run_id", "completed", "2 runs: 2 executed"}},
		{name: "again", exp: sweepExp("r", 3), opts: runOptions{NoTable: true}, again: true,
			out: []string{"nothing to run: all 6 runs are already completed in "}},
		{name: "runs fail", exp: sweepExp("r", 3, 2), opts: runOptions{NoTable: true}, code: ExitRunsFailed,
			out:    []string{"6 runs: 6 executed (4 completed, 2 failed, 0 cancelled)"},
			stderr: "metalab: 2 of 6 runs failed\nhint: their errors: 'metalab results --store "},
		{name: "interrupted", exp: cancelling(), opts: runOptions{NoTable: true, Workers: 1}, code: ExitInterrupted,
			stderr: "\nhint: run the same command again to resume\n"},
		{name: "a bad progress mode", exp: sweepExp("r", 1), opts: runOptions{Progress: "fancy"}, code: ExitUsage,
			stderr: "metalab: unknown --progress \"fancy\"\nhint: use auto, bar, lines or quiet\n"},
		{name: "negative workers", exp: sweepExp("r", 1), opts: runOptions{Workers: -1}, code: ExitUsage,
			stderr: "metalab: --workers must be positive, got -1\n"},
		{name: "a dry run", exp: sweepExp("r", 3), opts: runOptions{DryRun: true},
			out: []string{"experiment r (version 1): 6 runs, 0 already completed, 6 to run\n", "first 5 to run:\n", "  ... and 1 more\ndry run: nothing run\n"}},
		{name: "a dry run of a store with runs", exp: sweepExp("r", 3, 1), opts: runOptions{DryRun: true}, again: true,
			out: []string{"6 runs, 4 already completed, 2 to run\n", "x=1\n"}},
		{name: "an unknown experiment", exp: sweepExp("r", 1), opts: runOptions{Target: "nope"}, code: ExitUsage,
			stderr: "metalab: no experiment named \"nope\"\nhint: name one of: r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, _ := testApp(tt.exp, nil)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			ctx = context.WithValue(ctx, cancelKey{}, cancel)
			opts := tt.opts
			opts.Store = t.TempDir()
			if opts.Progress == "" {
				opts.Progress = "quiet"
			}
			var out bytes.Buffer
			if tt.again {
				first := opts
				first.DryRun = false
				if err := app.runRun(ctx, zerolog.Nop(), first, &out); err != nil && !errors.Is(err, ErrRunsFailed) {
					t.Fatal(err)
				}
				out.Reset()
			}
			err := app.runRun(ctx, zerolog.Nop(), opts, &out)
			code, stderr := exitOutput(err)
			if got, want := code, tt.code; got != want {
				t.Fatalf("runRun()=%v (exit %d), want exit %d\n%s", err, got, want, out.String())
			}
			for _, s := range tt.out {
				if !strings.Contains(out.String(), s) {
					t.Errorf("output lacks %q:\n%s", s, out.String())
				}
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q, want it to contain %q", stderr, tt.stderr)
			}
		})
	}
}

// cancelKey carries the cancel function of a test's context to the
// operation of cancelling.
type cancelKey struct{}

// cancelling is an experiment whose first run cancels the sweep, as Ctrl-C
// does.
func cancelling() Experiment {
	return Experiment{
		Name: "r", Version: "1", Seeds: seeds.New(1, 1), Params: params.Grid{"x": seqAny(3)},
		Operation: Op(func(ctx context.Context) error {
			if cancel, ok := ctx.Value(cancelKey{}).(context.CancelFunc); ok {
				cancel()
			}
			<-ctx.Done()
			return ctx.Err()
		}),
	}
}

// TestCheckStoreDir: a --store with files of its own is refused, a store
// or one being made is not.
func TestCheckStoreDir(t *testing.T) {
	mk := func(files ...string) string {
		dir := t.TempDir()
		for _, f := range files {
			p := filepath.Join(dir, f)
			parent := filepath.Dir(p)
			if strings.HasSuffix(f, "/") {
				parent = p
			}
			if err := os.MkdirAll(parent, 0o755); err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(f, "/") {
				if err := os.WriteFile(p, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		return dir
	}
	// A store as a sweep leaves it before binding it: its layout and lock.
	making := t.TempDir()
	if err := os.RemoveAll(making); err != nil {
		t.Fatal(err)
	}
	for _, name := range store.LayoutNames() {
		if err := os.MkdirAll(filepath.Join(making, name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Another process that makes the same store is writing its manifest.
	if err := os.WriteFile(filepath.Join(making, ".metalab.json.tmp-123"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		dir   string
		force bool
		err   string
	}{
		{"missing", filepath.Join(t.TempDir(), "new"), false, ""},
		{"empty", mk(), false, ""},
		{"a store", mk("metalab.json", "notes.txt"), false, ""},
		{"a store being made", making, false, ""},
		{"a project", mk("a.py", "b.py", "data/", "out/x", "z"), false, "it holds a.py, b.py, data/ and 2 more"},
		{"a project, forced", mk("a.py"), true, ""},
		{"a directory of stores", mk("pi/metalab.json"), false, "it holds pi/"},
		{"a file", mk("f"), false, ""}, // not a directory: opening the store says so
	}
	for _, tt := range tests {
		dir := tt.dir
		if tt.name == "a file" {
			dir = filepath.Join(dir, "f")
		}
		err := checkStoreDir(dir, tt.force)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%s: checkStoreDir()=%v, want nil", tt.name, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s: checkStoreDir()=%v, want %q", tt.name, err, tt.err)
		}
	}
}
