package launcher

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/seeds"
	"github.com/metalab-hpc/metalab/store"
)

// codedOp is an operation whose code the test sets, and which counts its
// executions by run ID.
type codedOp struct {
	mu    sync.Mutex
	parts map[string]string
	err   error
	runs  map[string]int
}

func (o *codedOp) Code() (map[string]string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.parts, o.err
}

func (o *codedOp) Execute(ctx context.Context, rt *Runtime) error {
	o.mu.Lock()
	o.runs[rt.RunID] = o.runs[rt.RunID] + 1
	v := o.parts[store.CodePart("file", "train.py")]
	o.mu.Unlock()
	rt.Capture.Metric("v", float64(len(v)))
	return nil
}

func (o *codedOp) set(parts map[string]string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.parts, o.runs = parts, map[string]int{}
}

func codedExperiment(op *codedOp, grid params.Grid) Experiment {
	return Experiment{Name: "coded", Version: "1", Operation: op, Params: grid, Seeds: seeds.New(1, 2)}
}

var (
	trainV1 = map[string]string{store.CodePart("file", "train.py"): "aa", store.CodePart("program", "python3"): "/usr/bin/python3.11"}
	trainV2 = map[string]string{store.CodePart("file", "train.py"): "bbb", store.CodePart("program", "python3"): "/usr/bin/python3.11"}
)

// TestRerunChanged: an edit of the operation's code is warned of and
// skipped; RerunChanged executes exactly the changed completed runs, once
// each, and their new records win; runs of a grown plan run either way.
func TestRerunChanged(t *testing.T) {
	dir := t.TempDir()
	op := &codedOp{}
	op.set(trainV1)
	exp := codedExperiment(op, params.Grid{"x": {1, 2}})
	if _, _, err := runSweep(t, exp, WithStore(dir)); err != nil {
		t.Fatal(err)
	}
	if got, want := len(op.runs), 4; got != want {
		t.Fatalf("first sweep executed %d runs, want %d", got, want)
	}
	code1 := store.NewCode(trainV1).Fingerprint

	op.set(trainV2)
	code2 := store.NewCode(trainV2).Fingerprint
	grown := codedExperiment(op, params.Grid{"x": {1, 2, 3}})
	tests := []struct {
		name     string
		exp      Experiment
		opts     []Option
		executed int
		changed  int // completed runs from other code, as the sweep saw them
		codes    map[string]int
	}{
		{"edited: skipped", exp, nil, 0, 4, map[string]int{code1: 4}},
		{"grown: the new runs only", grown, nil, 2, 4, map[string]int{code1: 4, code2: 2}},
		{"rerun changed", grown, []Option{WithRerunChanged()}, 4, 4, map[string]int{code2: 6}},
		{"rerun again: nothing", grown, []Option{WithRerunChanged()}, 0, 0, map[string]int{code2: 6}},
	}
	for _, tt := range tests {
		op.set(trainV2)
		st, err := store.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := NewPlan(&tt.exp)
		if err != nil {
			t.Fatal(err)
		}
		ps, err := readPlanState(context.Background(), st, plan, nil, false)
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		changed := 0
		if ps.code != nil {
			changed = ps.code.runs
			if got, want := ps.code.what(), "a different train.py"; got != want {
				t.Errorf("%s: what()=%q, want %q", tt.name, got, want)
			}
		}
		if changed != tt.changed {
			t.Errorf("%s: %d changed runs before the sweep, want %d", tt.name, changed, tt.changed)
		}
		_, res, err := runSweep(t, tt.exp, append([]Option{WithStore(dir)}, tt.opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(op.runs); got != tt.executed {
			t.Errorf("%s: executed %d runs, want %d", tt.name, got, tt.executed)
		}
		for id, n := range op.runs {
			if n != 1 {
				t.Errorf("%s: run %s executed %d times, want once", tt.name, id, n)
			}
		}
		codes := map[string]int{}
		for r := range res.All() {
			codes[r.Code]++
		}
		if !reflect.DeepEqual(codes, tt.codes) {
			t.Errorf("%s: records by code %v, want %v", tt.name, codes, tt.codes)
		}
	}
}

// TestTrackCode: with TrackCode the code fingerprint enters every run ID
// (and the plan's identity); without, run IDs do not depend on the code.
func TestTrackCode(t *testing.T) {
	grid := params.Grid{"x": {1, 2}}
	ids := func(parts map[string]string, track bool) ([]string, string) {
		op := &codedOp{}
		op.set(parts)
		exp := codedExperiment(op, grid)
		exp.TrackCode = track
		plan, err := NewPlan(&exp)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		var buf []byte
		for i := range plan.Len() {
			id := plan.At(i).ID
			var k runKey
			k, buf = plan.key(i, buf)
			if want, _ := keyOf(id); k != want {
				t.Errorf("key(%d)=%x, want At's %s", i, k, id)
			}
			out = append(out, id)
		}
		return out, plan.Manifest().Identity
	}
	plain1, plainPlan1 := ids(trainV1, false)
	plain2, plainPlan2 := ids(trainV2, false)
	tracked1, trackedPlan1 := ids(trainV1, true)
	tracked2, trackedPlan2 := ids(trainV2, true)
	if !reflect.DeepEqual(plain1, plain2) || plainPlan1 != plainPlan2 {
		t.Errorf("without TrackCode, run IDs changed with the code: %v, %v", plain1, plain2)
	}
	if got, want := plain1[0], RunID("coded", "1", mustContextFP(t), params.Point{"x": 1}, 1, 0); got != want {
		t.Errorf("run ID without TrackCode %s, want RunID's %s", got, want)
	}
	for i := range tracked1 {
		if tracked1[i] == tracked2[i] || tracked1[i] == plain1[i] {
			t.Errorf("run %d: TrackCode IDs %s (v1), %s (v2), %s (untracked); want all different", i, tracked1[i], tracked2[i], plain1[i])
		}
	}
	if trackedPlan1 == trackedPlan2 || trackedPlan1 == plainPlan1 {
		t.Errorf("TrackCode plan identities do not follow the code")
	}
}

func mustContextFP(t *testing.T) string {
	fp, err := contextFingerprint(nil)
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

// TestCodeErrors: a code that cannot be read stops the plan with the
// experiment named.
func TestCodeErrors(t *testing.T) {
	op := &codedOp{}
	op.set(nil)
	op.err = errors.New("train.py: permission denied")
	exp := codedExperiment(op, nil)
	_, err := NewPlan(&exp)
	if err == nil || !errors.Is(err, ErrInvalidExperiment) {
		t.Fatalf("NewPlan()=%v, want an invalid experiment", err)
	}
	if got, want := err.Error(), `invalid experiment "coded": train.py: permission denied`; got != want {
		t.Errorf("NewPlan()=%q, want %q", got, want)
	}
}

// TestGoOperationCode: a Go function's code is the program's build,
// fingerprinted once per process, in every record.
func TestGoOperationCode(t *testing.T) {
	parts, err := goBuildCode()
	if err != nil {
		t.Fatal(err)
	}
	if parts[store.CodePart("go", "executable")] == "" {
		t.Errorf("goBuildCode()=%v, want the executable's hash", parts)
	}
	exp := Experiment{Name: "go", Operation: Op(func(c capture.Capture) { c.Metric("m", 1) }), Seeds: seeds.New(0, 2)}
	_, res, err := runSweep(t, exp, WithStore(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	want := store.NewCode(parts).Fingerprint
	for r := range res.All() {
		if r.Code != want {
			t.Errorf("record code %q, want %q", r.Code, want)
		}
	}
}

func TestCodeChangeMessage(t *testing.T) {
	tests := []struct {
		c    codeChange
		verb string
		want string
	}{
		{codeChange{runs: 30, parts: []string{"linreg.py"}}, "run",
			"30 completed runs came from a different linreg.py; 'metalab run --rerun-changed' runs them again"},
		{codeChange{runs: 1, parts: []string{"a.py", "b.py", "python3"}}, "submit",
			"1 completed run came from a different a.py, b.py and python3; 'metalab submit --rerun-changed' runs it again"},
		{codeChange{runs: 2, rerun: true}, "run",
			"2 completed runs came from other code; --rerun-changed runs them again"},
	}
	for _, tt := range tests {
		if got := tt.c.message("metalab", tt.verb); got != tt.want {
			t.Errorf("message()=%q, want %q", got, tt.want)
		}
	}
}
