package expfile

import (
	"testing"

	"github.com/metalab-hpc/metalab/launcher"
)

// TestContextFileByContent checks that a copied data set keeps its run IDs:
// a context file enters the fingerprint by content, not by path.
func TestContextFileByContent(t *testing.T) {
	exp := func(dir, data string) *launcher.Experiment {
		writeFile(t, dir, "data/train.csv", data, 0o644)
		f := writeFile(t, dir, "e.toml", "name = \"e\"\ncommand = [\"sh\"]\n[params.grid]\nn = [1]\n[context.files]\ntrain = \"data/train.csv\"\n", 0o644)
		e, err := Load(f)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	id := func(e *launcher.Experiment) string {
		p, err := launcher.NewPlan(e)
		if err != nil {
			t.Fatal(err)
		}
		return p.At(0).ID
	}
	a := id(exp(t.TempDir(), "1,2\n"))
	b := id(exp(t.TempDir(), "1,2\n"))
	c := id(exp(t.TempDir(), "1,3\n"))
	if a != b {
		t.Errorf("same content in another directory: run ID %s, want %s", b, a)
	}
	if a == c {
		t.Errorf("different content: run ID %s unchanged", c)
	}
}
