package expfile

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metalab-hpc/metalab/command"
)

func TestLoadPersistentMode(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		mode       string
		persistent bool
	}{{"", false}, {"mode = \"per-run\"\n", false}, {"mode = \"persistent\"\n", true}} {
		file := writeFile(t, dir, "m.toml", "name = \"m\"\ncommand = \"sh -c true\"\n"+tc.mode, 0o644)
		exp, err := Load(file)
		if err != nil {
			t.Fatalf("%q: %v", tc.mode, err)
		}
		if _, got := exp.Operation.(*command.Persistent); got != tc.persistent {
			t.Errorf("%q: operation %T, want persistent %v", tc.mode, exp.Operation, tc.persistent)
		}
	}
}

// TestLoadCwd: cwd = "scratch" makes the script argument absolute (runs
// start in their scratch directories); an unknown cwd is an error at its
// line, with the values it takes.
func TestLoadCwd(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "op.py", "", 0o644)
	tests := []struct {
		cwd  string
		arg  string
		err  string
		hint string
	}{
		{"", "op.py", "", ""},
		{"cwd = \"workdir\"\n", "op.py", "", ""},
		{"cwd = \"scratch\"\n", filepath.Join(dir, "op.py"), "", ""},
		{"cwd = \"tmp\"\n", "", "c.toml:3: unknown cwd \"tmp\"", `"scratch" (each run starts in its own $METALAB_SCRATCH)`},
	}
	for _, tt := range tests {
		file := writeFile(t, dir, "c.toml", "name = \"c\"\ncommand = [\"sh\", \"op.py\"]\n"+tt.cwd, 0o644)
		exp, err := Load(file)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(hintOf(err), tt.hint) {
				t.Errorf("%q: Load()=%v (hint %q), want %q with hint %q", tt.cwd, err, hintOf(err), tt.err, tt.hint)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tt.cwd, err)
		}
		if got := exp.Operation.(*command.Op).Argv()[1]; got != tt.arg {
			t.Errorf("%q: argument %q, want %q", tt.cwd, got, tt.arg)
		}
	}
}

func hintOf(err error) string {
	var h interface{ Hint() string }
	if errors.As(err, &h) {
		return h.Hint()
	}
	return ""
}
