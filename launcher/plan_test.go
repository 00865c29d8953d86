package launcher

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// binaryGrid is a grid of axes axes of 2 values each: 2^axes points from
// 2*axes values.
func binaryGrid(axes int) params.Grid {
	g := params.Grid{}
	for i := range axes {
		g[fmt.Sprintf("a%02d", i)] = []any{0, 1}
	}
	return g
}

// decimalGrid has 10^axes points.
func decimalGrid(axes int) params.Grid {
	g := params.Grid{}
	for i := range axes {
		g[fmt.Sprintf("a%02d", i)] = seqAny(10)
	}
	return g
}

// TestPlanSizeOverflow: a plan whose number of runs does not fit an int is
// an invalid experiment, whether the grid or the replicates make it so.
func TestPlanSizeOverflow(t *testing.T) {
	tests := []struct {
		name       string
		params     params.Source
		replicates int
		runs       int    // when valid
		err        string // when not
	}{
		{name: "2^62 points", params: binaryGrid(62), replicates: 1, runs: 1 << 62},
		{name: "2^62 points, 2 replicates", params: binaryGrid(62), replicates: 2, err: "more runs than metalab can count"},
		{name: "2^64 points", params: binaryGrid(64), replicates: 1, err: "grid has more than"},
		{name: "MaxInt random trials, 3 replicates", params: params.Random{Trials: math.MaxInt, Space: map[string]params.Dist{"u": params.Uniform(0, 1)}},
			replicates: 3, err: "more runs than metalab can count"},
		{name: "10^16 points", params: decimalGrid(16), replicates: 1, runs: 1e16},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exp := Experiment{Name: "big", Operation: Op(func() {}), Params: tt.params, Seeds: seeds.New(1, tt.replicates)}
			p, err := NewPlan(&exp)
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("NewPlan()=%v, want a plan", err)
			case tt.err == "":
				if got, want := p.Len(), tt.runs; got != want {
					t.Errorf("Len()=%d, want %d", got, want)
				}
			case err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrInvalidExperiment):
				t.Errorf("NewPlan()=%v, want an invalid experiment: %s", err, tt.err)
			}
		})
	}
}

// TestCheckPlanTime refuses plans that metalab alone could not get through
// in the limit, and says how many runs and how long.
func TestCheckPlanTime(t *testing.T) {
	tests := []struct {
		name     string
		grid     params.Grid
		measured time.Duration
		limit    time.Duration
		want     []string // in the error; nil: accepted
	}{
		{name: "a million runs", grid: decimalGrid(6), measured: time.Microsecond, limit: DefaultMaxPlanTime},
		{name: "10^16 runs at the least cost", grid: decimalGrid(16), measured: time.Microsecond, limit: DefaultMaxPlanTime,
			want: []string{"10,000,000,000,000,000 runs", "1,584 years", "5µs a run", "least cost", "docs/performance.md", "1µs", "limit of 24h0m0s"}},
		{name: "10^10 runs at a measured 50 µs", grid: decimalGrid(10), measured: 50 * time.Microsecond, limit: DefaultMaxPlanTime,
			want: []string{"10,000,000,000 runs", "5.8 days", "50µs a run", "the time this machine takes to plan a run"}},
		{name: "2^62 runs", grid: binaryGrid(62), measured: 0, limit: DefaultMaxPlanTime,
			want: []string{"4,611,686,018,427,387,904 runs", "730,", "years"}},
		{name: "10^16 runs, no limit", grid: decimalGrid(16), measured: time.Microsecond, limit: -1},
		{name: "just under the limit", grid: decimalGrid(9), measured: 0, limit: 5000 * time.Second},
		{name: "just over the limit", grid: decimalGrid(9), measured: 0, limit: 4999 * time.Second,
			want: []string{"1,000,000,000 runs", "1h23m20s", "limit of 1h23m19s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			exp := Experiment{Name: "big", Operation: Op(func() {}), Params: tt.grid, Seeds: seeds.New(1, 1)}
			p, err := NewPlan(&exp)
			if err != nil {
				t.Fatal(err)
			}
			err = checkPlanTime(p, tt.limit, tt.measured)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("checkPlanTime()=%v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("checkPlanTime()=nil, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != ExitUsage || !strings.Contains(ee.Hint(), "--max-plan-time") || !errors.Is(err, ErrInvalidExperiment) {
				t.Errorf("error %#v: want exit code %d, an invalid experiment and a hint naming --max-plan-time", err, ExitUsage)
			}
		})
	}
}

// TestRunRefusesHugePlanBeforeTheStore: nothing is created for a plan that
// is refused.
func TestRunRefusesHugePlanBeforeTheStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	exp := Experiment{Name: "huge", Operation: Op(func() {}), Params: decimalGrid(16), Seeds: seeds.New(1, 1)}
	_, err := Run(context.Background(), exp, append(quiet(), WithStore(dir))...)
	if err == nil || !strings.Contains(err.Error(), "10,000,000,000,000,000 runs") {
		t.Fatalf("Run()=%v, want the plan refused", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("store directory: %v, want none", err)
	}
}

func TestGroupDigits(t *testing.T) {
	tests := []struct {
		n    int
		want string
	}{
		{0, "0"}, {999, "999"}, {1000, "1,000"}, {-1234567, "-1,234,567"}, {math.MaxInt, "9,223,372,036,854,775,807"},
	}
	for _, tt := range tests {
		if got := groupDigits(tt.n); got != tt.want {
			t.Errorf("groupDigits(%d)=%q, want %q", tt.n, got, tt.want)
		}
	}
}
