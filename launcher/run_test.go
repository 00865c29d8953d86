package launcher

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/seeds"
	"github.com/metalab-hpc/metalab/store"
)

func quiet() []Option {
	return []Option{WithLogger(zerolog.Nop()), WithProgress("quiet", io.Discard)}
}

func runSweep(t *testing.T, exp Experiment, opts ...Option) (*Handle, *Results, error) {
	t.Helper()
	h, err := Run(context.Background(), exp, append(quiet(), opts...)...)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	res, err := h.Result()
	return h, res, err
}

func piExperiment() Experiment {
	return Experiment{
		Name: "pi_mc", Version: "0.1",
		Operation: Op(func(p params.Point, s seeds.Bundle, c capture.Capture) {
			n := p.Int("n_samples")
			rng := s.Rand("")
			inside := 0
			for range n {
				x, y := rng.Float64(), rng.Float64()
				if x*x+y*y <= 1 {
					inside++
				}
			}
			c.Metric("pi_estimate", 4*float64(inside)/float64(n))
		}),
		Params: params.Grid{"n_samples": {1000, 10000, 100000}},
		Seeds:  seeds.New(42, 3),
	}
}

func TestQuickstartRunsNineThenNothing(t *testing.T) {
	dir := t.TempDir()
	h, res, err := runSweep(t, piExperiment(), WithStore(dir))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.Len(), 9; got != want {
		t.Fatalf("Len()=%d, want %d", got, want)
	}
	if got, want := h.Status().Completed, 9; got != want {
		t.Fatalf("Completed=%d, want %d", got, want)
	}
	for run := range res.All() {
		if run.Status != store.StatusCompleted {
			t.Errorf("run %s status %s, want completed (error %q)", run.RunID, run.Status, run.Error)
		}
		if v := run.Metrics["pi_estimate"]; math.Abs(v-math.Pi) > 0.3 {
			t.Errorf("run %s pi_estimate=%v, not near pi", run.RunID, v)
		}
	}
	table := res.Table()
	for _, want := range []string{"run_id", "n_samples", "pi_estimate", "854ff91945c9cd5d"} {
		if !strings.Contains(table, want) {
			t.Errorf("Table() lacks %q:\n%s", want, table)
		}
	}
	if got, want := strings.Count(table, "\n"), 10; got != want {
		t.Errorf("Table() has %d lines, want %d (header + 9 rows):\n%s", got, want, table)
	}

	h2, res2, err := runSweep(t, piExperiment(), WithStore(dir))
	if err != nil {
		t.Fatal(err)
	}
	s := h2.Status()
	if s.Done() != 0 || s.Skipped != 9 {
		t.Fatalf("second run: %v, want 0 executed and 9 skipped", s)
	}
	if got, want := res2.Len(), 9; got != want {
		t.Fatalf("second run Len()=%d, want %d", got, want)
	}
	// Same seeds, same results: the metric of each run is reproducible.
	for i, r := range res.Runs() {
		if r2 := res2.Runs()[i]; r2.RunID != r.RunID || r2.Metrics["pi_estimate"] != r.Metrics["pi_estimate"] {
			t.Errorf("run %d differs after reload: %s %v vs %s %v", i, r.RunID, r.Metrics, r2.RunID, r2.Metrics)
		}
	}
	loaded, err := LoadResults(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := loaded.Len(), 9; got != want {
		t.Fatalf("LoadResults Len()=%d, want %d", got, want)
	}
}

func TestCaptureKinds(t *testing.T) {
	dir := t.TempDir()
	exp := Experiment{
		Name: "kinds", Version: "1", Seeds: seeds.New(1, 1),
		Operation: Op(func(c capture.Capture) {
			c.Metric("loss", 0.5)
			c.Metric("curve", 1, capture.Step(0))
			c.Metric("curve", 0.5, capture.Step(1))
			c.Metric("bad", math.NaN())
			c.Data("hist", map[string]any{"bins": []int{1, 2, 3}})
			c.Artifact("model", []byte("weights"), "bin")
			c.Log("hello %d", 7)
		}),
	}
	_, res, err := runSweep(t, exp, WithStore(dir))
	if err != nil {
		t.Fatal(err)
	}
	r := res.Runs()[0]
	if got, want := r.Metrics["loss"], 0.5; got != want {
		t.Errorf("loss=%v, want %v", got, want)
	}
	if _, ok := r.Metrics["curve"]; ok {
		t.Error("a stepped metric became a table column")
	}
	if got, want := len(r.Series["curve"]), 2; got != want {
		t.Errorf("series curve has %d points, want %d", got, want)
	}
	if v, ok := r.Metrics["bad"]; !ok || !math.IsNaN(v) {
		t.Errorf("NaN metric: got %v, %v; want NaN kept as null", v, ok)
	}
	if len(r.Warnings) == 0 {
		t.Error("NaN metric gave no warning")
	}
	if got, want := string(r.Data["hist"]), `{"bins":[1,2,3]}`; got != want {
		t.Errorf("data hist=%s, want %s", got, want)
	}
	if got, want := r.Logs, []string{"hello 7"}; len(got) != 1 || got[0] != want[0] {
		t.Errorf("logs=%q, want %q", got, want)
	}
	if len(r.Artifacts) != 1 {
		t.Fatalf("artifacts=%v, want one", r.Artifacts)
	}
	a := r.Artifacts[0]
	b, err := os.ReadFile(filepath.Join(dir, a.Path))
	if err != nil || string(b) != "weights" {
		t.Fatalf("artifact file %s: %q, %v", a.Path, b, err)
	}
	if got, want := a.SHA256, "9a129038d9a00aed0cf6a7ea059ca50a813449061ab87848cf1a13eafdf33b2c"; got != want { // sha256sum of "weights"
		t.Errorf("artifact sha256=%s, want %s", got, want)
	}
}

func TestFailingAndPanickingRunsFailAlone(t *testing.T) {
	exp := Experiment{
		Name: "faults", Version: "1", Seeds: seeds.New(1, 1),
		Params: params.Grid{"mode": {"ok", "error", "panic", "badname"}},
		Operation: Op(func(p params.Point, c capture.Capture) error {
			c.Metric("before", 1)
			switch p.String("mode") {
			case "error":
				return errors.New("boom")
			case "panic":
				var m map[string]int
				m["x"] = 1 // a real runtime panic
			case "badname":
				c.Metric("../escape", 1)
			}
			return nil
		}),
	}
	h, res, err := runSweep(t, exp, WithStore(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if s := h.Status(); s.Completed != 1 || s.Failed != 3 {
		t.Fatalf("status %v, want 1 completed and 3 failed", s)
	}
	byMode := map[string]*Record{}
	for r := range res.All() {
		byMode[r.Params.String("mode")] = r
	}
	tests := []struct {
		mode, status, errPart string
	}{
		{"ok", "completed", ""},
		{"error", "failed", "boom"},
		{"panic", "failed", "panic: assignment to entry in nil map"},
		{"badname", "failed", "path separator"},
	}
	for _, tt := range tests {
		r := byMode[tt.mode]
		if r == nil {
			t.Fatalf("no run for mode %s", tt.mode)
		}
		if string(r.Status) != tt.status || !strings.Contains(r.Error, tt.errPart) {
			t.Errorf("mode %s: status %s error %q, want %s with %q", tt.mode, r.Status, r.Error, tt.status, tt.errPart)
		}
		if r.Metrics["before"] != 1 {
			t.Errorf("mode %s lost the metric captured before the failure", tt.mode)
		}
	}
	if st := byMode["panic"].Stack; !strings.Contains(st, "run_test.go") {
		t.Errorf("panic stack does not point at the operation:\n%s", st)
	}
}

func TestRetriesAndTimeout(t *testing.T) {
	var calls atomic.Int64
	exp := Experiment{
		Name: "flaky", Version: "1", Seeds: seeds.New(1, 1), Retries: 2,
		Params:  params.Grid{"mode": {"flaky", "hang"}},
		Timeout: 200 * time.Millisecond,
		Operation: Op(func(ctx context.Context, p params.Point) error {
			if p.String("mode") == "hang" {
				<-ctx.Done()
				return ctx.Err()
			}
			if calls.Add(1) < 3 {
				return errors.New("transient")
			}
			return nil
		}),
	}
	_, res, err := runSweep(t, exp, WithStore(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	for r := range res.All() {
		switch r.Params.String("mode") {
		case "flaky":
			if r.Status != store.StatusCompleted || calls.Load() != 3 {
				t.Errorf("flaky: status %s after %d calls, want completed after 3", r.Status, calls.Load())
			}
		case "hang":
			if r.Status != store.StatusFailed || !strings.Contains(r.Error, "timed out after 200ms") {
				t.Errorf("hang: status %s error %q, want failed with a timeout", r.Status, r.Error)
			}
		}
	}
}

// TestCancelThenResume cancels a sweep in the middle and resumes it: every
// run ends completed exactly once, and no completed run executes again.
func TestCancelThenResume(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	executed := map[string]int{}
	completedFirst := map[string]bool{}
	started := make(chan struct{}, 100)
	op := func(block bool) Operation {
		return Op(func(ctx context.Context, rt *Runtime) error {
			mu.Lock()
			executed[rt.RunID]++
			mu.Unlock()
			started <- struct{}{}
			if block {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(20 * time.Millisecond):
				}
			}
			return nil
		})
	}
	exp := Experiment{Name: "resume", Version: "1", Params: params.Grid{"i": seqAny(30)}, Seeds: seeds.New(1, 2), Operation: op(true)}
	h, err := Run(context.Background(), exp, append(quiet(), WithStore(dir), WithWorkers(3))...)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		<-started
	}
	h.Cancel()
	res, err := h.Result()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Result() error %v, want context.Canceled", err)
	}
	s := h.Status()
	if s.Completed == 0 || s.Completed >= 60 {
		t.Fatalf("after cancel: %v; want some but not all completed", s)
	}
	for r := range res.All() {
		if r.Status == store.StatusCompleted {
			completedFirst[r.RunID] = true
		}
	}
	if got, want := len(completedFirst), s.Completed; got != want {
		t.Fatalf("store has %d completed runs, handle counted %d", got, want)
	}
	mu.Lock()
	firstExec := map[string]int{}
	for k, v := range executed {
		firstExec[k] = v
	}
	executed = map[string]int{}
	mu.Unlock()

	exp.Operation = op(false)
	go func() {
		for range started {
		}
	}()
	h2, res2, err := runSweep(t, exp, WithStore(dir))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := h2.Status().Skipped, len(completedFirst); got != want {
		t.Errorf("resume skipped %d, want %d", got, want)
	}
	if got, want := res2.Completed().Len(), 60; got != want {
		t.Fatalf("after resume %d completed runs, want %d", got, want)
	}
	for id := range executed {
		if completedFirst[id] {
			t.Errorf("run %s completed in the first sweep and executed again", id)
		}
	}
	for id, n := range firstExec {
		if n != 1 {
			t.Errorf("run %s executed %d times in the first sweep", id, n)
		}
	}
	close(started)
}

// describedOp is an operation that says what it runs, as command
// operations do, so that the store sees when it changes.
type describedOp struct {
	Operation
	what string
}

func (d describedOp) Describe() map[string]any {
	return map[string]any{"command": d.what, "mode": "test"}
}

// TestSweepGrows grows one store step by step, as a researcher does: each
// step runs exactly the runs the store lacks, and every record of the
// earlier steps stays in the results.
func TestSweepGrows(t *testing.T) {
	dir := t.TempDir()
	var executed atomic.Int64
	op := Op(func(p params.Point, c capture.Capture) {
		executed.Add(1)
		c.Metric("y", float64(p.Int("x")))
	})
	grid := func(xs ...any) params.Source { return params.Grid{"x": xs} }
	steps := []struct {
		name    string
		edit    func(e *Experiment)
		plan    int // runs of the experiment version after it (Handle.Result)
		run     int // runs executed by the step
		records int // runs in the store after it
		exps    int // experiment versions in the store after it
	}{
		{"first sweep", func(e *Experiment) {}, 4, 4, 4, 1},
		{"a grid value added", func(e *Experiment) { e.Params = grid(1, 2, 3) }, 6, 2, 6, 1},
		{"replicates raised", func(e *Experiment) { e.Seeds = seeds.New(7, 3) }, 9, 3, 9, 1},
		{"the same again", func(e *Experiment) {}, 9, 0, 9, 1},
		{"a value removed", func(e *Experiment) { e.Params = grid(1, 3) }, 9, 0, 9, 1},
		{"the context changed", func(e *Experiment) { e.Context = map[string]any{"data": "v2"} }, 15, 6, 15, 1},
		{"cases", func(e *Experiment) { e.Params = params.Cases{{"x": 1}, {"x": 2}} }, 18, 3, 18, 1},
		{"a case added", func(e *Experiment) { e.Params = params.Cases{{"x": 1}, {"x": 2}, {"x": 5}} }, 21, 3, 21, 1},
		{"random trials", func(e *Experiment) {
			e.Params = params.Random{Trials: 2, Seed: 1, Space: map[string]params.Dist{"x": params.RandInt(100, 1000)}}
		}, 27, 6, 27, 1},
		{"random trials raised", func(e *Experiment) {
			e.Params = params.Random{Trials: 5, Seed: 1, Space: map[string]params.Dist{"x": params.RandInt(100, 1000)}}
		}, 36, 9, 36, 1},
		{"a bumped version", func(e *Experiment) { e.Version = "2" }, 15, 15, 51, 2},
		{"another experiment", func(e *Experiment) { e.Name = "other" }, 15, 15, 66, 3},
	}
	exp := Experiment{Name: "grow", Version: "1", Seeds: seeds.New(7, 2), Params: grid(1, 2),
		Operation: describedOp{op, "v1"}}
	for _, step := range steps {
		step.edit(&exp)
		executed.Store(0)
		_, res, err := runSweep(t, exp, WithStore(dir))
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if got := int(executed.Load()); got != step.run {
			t.Errorf("%s: %d runs executed, want %d", step.name, got, step.run)
		}
		if got := res.Len(); got != step.plan {
			t.Errorf("%s: Handle.Result holds %d runs, want the experiment version's %d", step.name, got, step.plan)
		}
		all, err := LoadResults(dir)
		if err != nil {
			t.Fatalf("%s: LoadResults: %v", step.name, err)
		}
		if got := all.Len(); got != step.records {
			t.Errorf("%s: the store holds %d runs, want %d", step.name, got, step.records)
		}
		if got := len(all.Experiments()); got != step.exps {
			t.Errorf("%s: the store holds experiments %v, want %d", step.name, all.Experiments(), step.exps)
		}
		if got := all.WithStatus(store.StatusCompleted).Len(); got != step.records {
			t.Errorf("%s: %d runs completed, want all %d", step.name, got, step.records)
		}
	}
	all, err := LoadResults(dir)
	if err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]int{"grow": 51, "grow@1": 36, "grow@2": 15, "other": 15, "other@2": 15, "nope": 0} {
		if got := all.OfExperiment(ref).Len(); got != want {
			t.Errorf("OfExperiment(%q).Len() = %d, want %d", ref, got, want)
		}
	}
	var csv strings.Builder
	if err := all.WriteCSV(&csv); err != nil {
		t.Fatal(err)
	}
	if head, _, _ := strings.Cut(csv.String(), "\n"); !strings.HasPrefix(head, "experiment,version,run_id,") {
		t.Errorf("CSV of several experiments starts %q, want experiment and version first", head)
	}
	csv.Reset()
	if err := all.OfExperiment("other").WriteCSV(&csv); err != nil {
		t.Fatal(err)
	}
	if head, _, _ := strings.Cut(csv.String(), "\n"); !strings.HasPrefix(head, "run_id,") {
		t.Errorf("CSV of one experiment starts %q, want no experiment column", head)
	}
}

// TestChangedOperationIsReported: the same name and version with another
// operation, which metalab sees, runs only what the store lacks, as
// always, and warns once, saying what differs and what to do; a new
// version runs everything with the new operation, beside the old runs.
func TestChangedOperationIsReported(t *testing.T) {
	dir := t.TempDir()
	var executed atomic.Int64
	exp := sweepExp("op", 3)
	inner := exp.Operation
	counting := OperationFunc(func(ctx context.Context, rt *Runtime) error {
		executed.Add(1)
		return inner.Execute(ctx, rt)
	})
	exp.Operation = describedOp{counting, "python3 a.py"}
	if _, _, err := runSweep(t, exp, WithStore(dir)); err != nil {
		t.Fatal(err)
	}
	warnings := func(exp Experiment) string {
		t.Helper()
		var log bytes.Buffer
		h, err := Run(context.Background(), exp, WithStore(dir), WithLogger(zerolog.New(&log).Level(zerolog.WarnLevel)),
			WithProgress("quiet", io.Discard))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.Result(); err != nil {
			t.Fatal(err)
		}
		return log.String()
	}
	executed.Store(0)
	exp.Operation = describedOp{counting, "python3 b.py"}
	log := warnings(exp)
	for _, want := range []string{`the operation of experiment \"op\" version \"1\" changed since store`,
		`command was \"python3 a.py\", is \"python3 b.py\" now`, `new version`} {
		if !strings.Contains(log, want) {
			t.Errorf("log %q lacks %q", log, want)
		}
	}
	if n := executed.Load(); n != 0 {
		t.Errorf("%d runs executed again; the store had them all", n)
	}
	if log := warnings(exp); log != "" {
		t.Errorf("the same operation again logged %q; want the change reported once", log)
	}
	exp.Version = "2"
	if _, _, err := runSweep(t, exp, WithStore(dir)); err != nil {
		t.Fatalf("the new operation as version 2: %v", err)
	}
	if n := executed.Load(); n != 6 {
		t.Errorf("version 2 executed %d runs, want 6", n)
	}
	all, err := LoadResults(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := all.Len(); got != 12 {
		t.Errorf("store holds %d runs, want 12 (6 of each version)", got)
	}
}

func TestInvalidExperiment(t *testing.T) {
	tests := map[string]Experiment{
		"no name":      {Operation: Op(func() {}), Seeds: seeds.New(1, 1)},
		"no operation": {Name: "x", Seeds: seeds.New(1, 1)},
		"no replicate": {Name: "x", Operation: Op(func() {})},
		"empty axis":   {Name: "x", Operation: Op(func() {}), Seeds: seeds.New(1, 1), Params: params.Grid{"a": {}}},
	}
	for name, exp := range tests {
		_, err := Run(context.Background(), exp, append(quiet(), WithStore(t.TempDir()))...)
		if !errors.Is(err, ErrInvalidExperiment) {
			t.Errorf("%s: Run()=%v, want ErrInvalidExperiment", name, err)
		}
	}
}

func seqAny(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = i
	}
	return out
}
