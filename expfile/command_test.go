package expfile

import (
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
