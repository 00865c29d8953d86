// Package testexp builds the experiment files that metalab's end-to-end and
// fault tests share: a grid over x = 0..Points-1 whose operation is a shell
// script.
package testexp

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Spec describes a test sweep.
type Spec struct {
	Name       string
	Op         string // the operation, written to op.sh and run as `sh op.sh`
	Points     int    // x = 0, 1, ..., Points-1
	Replicates int
	SeedBase   int64
	Top        string // extra top-level keys (timeout, retries, env)
	Tail       string // extra tables after [seeds], such as "[slurm]\n..."
}

// Write writes op.sh and NAME.toml into dir and returns the experiment
// file's path.
func Write(t testing.TB, dir string, s Spec) string {
	t.Helper()
	xs := make([]string, s.Points)
	for i := range xs {
		xs[i] = fmt.Sprint(i)
	}
	toml := fmt.Sprintf(`name = %q
version = "1"
command = ["sh", "op.sh"]
%s

[params.grid]
x = [%s]

[seeds]
base = %d
replicates = %d

%s
`, s.Name, s.Top, strings.Join(xs, ", "), s.SeedBase, s.Replicates, s.Tail)
	if err := os.WriteFile(filepath.Join(dir, "op.sh"), []byte(s.Op), 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, s.Name+".toml")
	if err := os.WriteFile(path, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
