package launcher

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/seeds"
)

// emptyContextFP is SHA-256 of "{}", the fingerprint of an empty context.
const emptyContextFP = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

// The golden IDs were computed outside Go (Python's hashlib over the
// canonical text in the RunID doc comment). They must never change: stores
// written by earlier versions depend on them.
func TestRunIDGolden(t *testing.T) {
	tests := []struct {
		name, version string
		point         params.Point
		base          int64
		replicate     int
		want          string
	}{
		{"pi_mc", "0.1", params.Point{"n_samples": int64(1000)}, 42, 0, "854ff91945c9cd5d"},
		{"pi_mc", "0.1", params.Point{"n_samples": int64(1000)}, 42, 1, "13776ad6d3575e71"},
		{"pi_mc", "0.1", params.Point{"n_samples": int64(100000)}, 42, 2, "4db38114a63de772"},
		{"sweep ü", "v2", params.Point{"a": 1.5, "b": `x"y`, "c": []any{int64(1), 2.0, true, nil}}, -7, 3, "e7438ec93f35ea19"},
	}
	for _, tt := range tests {
		if got := RunID(tt.name, tt.version, emptyContextFP, tt.point, tt.base, tt.replicate); got != tt.want {
			t.Errorf("RunID(%q, %v, r=%d)=%s, want %s", tt.name, tt.point, tt.replicate, got, tt.want)
		}
	}
}

func TestPlanQuickstart(t *testing.T) {
	exp := Experiment{
		Name: "pi_mc", Version: "0.1", Operation: Op(func() {}),
		Params: params.Grid{"n_samples": {1000, 10000, 100000}},
		Seeds:  seeds.New(42, 3),
	}
	plan, err := NewPlan(&exp)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := plan.Len(), 9; got != want {
		t.Fatalf("Len()=%d, want %d", got, want)
	}
	if got, want := plan.ContextFingerprint(), emptyContextFP; got != want {
		t.Fatalf("ContextFingerprint()=%s, want %s", got, want)
	}
	// Point-major order: the first three runs are n_samples=1000, replicates 0..2.
	wantIDs := map[int]string{0: "854ff91945c9cd5d", 1: "13776ad6d3575e71", 8: "4db38114a63de772"}
	for i, want := range wantIDs {
		if got := plan.At(i).ID; got != want {
			t.Errorf("At(%d).ID=%s, want %s", i, got, want)
		}
	}
	r := plan.At(4)
	if got, want := r.Params.Int("n_samples"), int64(10000); got != want {
		t.Errorf("At(4) n_samples=%d, want %d", got, want)
	}
	if got, want := r.Replicate, 1; got != want {
		t.Errorf("At(4).Replicate=%d, want %d", got, want)
	}
	if got, want := r.Seeds.Seed(), uint64(17311043386426800777); got != want {
		t.Errorf("At(4) seed=%d, want %d (replicate 1 of base 42)", got, want)
	}
}

func TestContextFileEntersByContent(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.csv"), filepath.Join(dir, "copy.csv")
	os.WriteFile(a, []byte("x,y\n1,2\n"), 0o644)
	os.WriteFile(b, []byte("x,y\n1,2\n"), 0o644)
	fp := func(path string) string {
		t.Helper()
		got, err := contextFingerprint(map[string]any{"data": File(path)})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if fp(a) != fp(b) {
		t.Fatal("a copied data file changed the context fingerprint")
	}
	os.WriteFile(b, []byte("x,y\n1,3\n"), 0o644)
	if fp(a) == fp(b) {
		t.Fatal("changed file content kept the same context fingerprint")
	}
	if _, err := contextFingerprint(map[string]any{"data": File(filepath.Join(dir, "missing"))}); err == nil {
		t.Fatal("a missing context file gave no error")
	}
}

func TestIdentityDependsOnDefinition(t *testing.T) {
	base := Experiment{Name: "e", Version: "1", Operation: Op(func() {}), Params: params.Grid{"x": {1, 2}}, Seeds: seeds.New(1, 2)}
	id := func(e Experiment) string {
		p, err := NewPlan(&e)
		if err != nil {
			t.Fatal(err)
		}
		return p.Manifest().Identity
	}
	same := base
	if id(base) != id(same) {
		t.Fatal("identity is not deterministic")
	}
	for name, change := range map[string]func(*Experiment){
		"version":  func(e *Experiment) { e.Version = "2" },
		"params":   func(e *Experiment) { e.Params = params.Grid{"x": {1, 3}} },
		"seeds":    func(e *Experiment) { e.Seeds = seeds.New(2, 2) },
		"context":  func(e *Experiment) { e.Context = map[string]any{"k": 1} },
		"replicas": func(e *Experiment) { e.Seeds = seeds.New(1, 3) },
	} {
		e := base
		change(&e)
		if id(e) == id(base) {
			t.Errorf("changing %s kept the identity", name)
		}
	}
}

func TestOpSignatures(t *testing.T) {
	good := []any{
		func() {},
		func(params.Point) error { return nil },
		func(p params.Point, s seeds.Bundle, rt *Runtime, c Context) {},
	}
	for _, fn := range good {
		if _, err := newReflectOp(fn); err != nil {
			t.Errorf("newReflectOp(%T)=%v, want nil", fn, err)
		}
	}
	bad := []any{42, func(int) {}, func() int { return 0 }, func(params.Point, params.Point) {}, func(...params.Point) {}}
	for _, fn := range bad {
		if _, err := newReflectOp(fn); err == nil {
			t.Errorf("newReflectOp(%T) accepted a bad signature", fn)
		}
	}
}

// TestPlanKeyMatchesRunID checks the run IDs a grid plan computes without
// points against those of At.
func TestPlanKeyMatchesRunID(t *testing.T) {
	grids := []params.Grid{
		{"x": {1, 2, 3}, "lr": {0.001, 1.0, -0.0}, "model": {"a", "ü\"<", nil}},
		{"nested": {[]any{1, "a"}, map[string]any{"k": []any{true, false}}}, "b": {int64(7)}},
		{},
		{"only": {"one"}},
	}
	for n, g := range grids {
		exp := Experiment{Name: "e", Version: "v", Operation: Op(func(params.Point, capture.Capture) {}),
			Params: g, Seeds: seeds.New(-5, 3), Context: map[string]any{"c": 1}}
		p, err := NewPlan(&exp)
		if err != nil {
			t.Fatal(err)
		}
		var buf []byte
		for i := range p.Len() {
			var k runKey
			k, buf = p.key(i, buf)
			if got, want := hex.EncodeToString(k[:]), p.At(i).ID; got != want {
				t.Fatalf("grid %d: key(%d)=%s, want At(%d).ID=%s", n, i, got, i, want)
			}
		}
	}
}
