package report

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/store"
)

// writeStore writes the records that mk makes for i = 0..n-1 into a new
// store, collected.
func writeStore(t *testing.T, n int, mk func(i int) *store.Record) *store.Store {
	t.Helper()
	st := store.TestStore(t)
	w, err := st.NewWriter(store.WriterOptions{Name: "w"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		r := mk(i)
		r.RunID = fmt.Sprintf("%016x", i)
		if err := w.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Collect(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// TestGatherScale: a store's worth of runs far beyond the table's rows
// keeps every failed run, samples the rest evenly, bins a param with many
// values on a log scale and sums the hosts beyond MaxHosts; every count
// is over all runs.
func TestGatherScale(t *testing.T) {
	n := MaxTableRows + 5000
	st := writeStore(t, n, func(i int) *store.Record {
		r := &store.Record{Experiment: "big", Version: "1", Status: store.StatusCompleted,
			Params:  params.Point{"lr": math.Pow(10, -4+3*float64(i)/float64(n)), "k": int64(i % 3)},
			Started: t0.Add(time.Duration(i) * time.Second), Ended: t0.Add(time.Duration(i+2) * time.Second), Host: fmt.Sprintf("h%02d", i%20)}
		r.Metrics = capture.Metrics{"m": float64(i % 7)}
		if i%100 == 0 {
			r.Status, r.Error, r.Metrics = store.StatusFailed, "boom", nil
		}
		return r
	})
	d, err := Gather(context.Background(), Input{Store: st, Name: "s", Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := d.Overview.Runs, n; got != want {
		t.Errorf("%d runs, want %d", got, want)
	}
	if got, want := d.Overview.Counts["failed"], n/100; got != want {
		t.Errorf("%d failed, want %d", got, want)
	}
	if got, want := len(d.Table.Rows), MaxTableRows; got != want {
		t.Errorf("%d rows, want %d", got, want)
	}
	failed := 0
	for _, row := range d.Table.Rows {
		for _, c := range row {
			if c == "failed" {
				failed++
			}
		}
	}
	if got, want := failed, n/100; got != want {
		t.Errorf("%d failed rows, want every failed run, %d", got, want)
	}
	e := d.Experiments[0]
	var lr Param
	for _, p := range e.Params {
		if p.Name == "lr" {
			lr = p
		}
	}
	if !lr.Binned || !lr.Log || lr.NValues != n {
		t.Errorf("lr: %+v, want %d values binned on a log scale", lr, n)
	}
	completed := n - n/100
	for _, c := range e.Curves {
		if c.X != "lr" {
			continue
		}
		total := 0
		for _, l := range c.Lines {
			if len(l.X) > MaxXValues {
				t.Errorf("lr curve by %q has %d points, want at most %d", c.Group, len(l.X), MaxXValues)
			}
			for _, k := range l.N {
				total += k
			}
		}
		if total != completed {
			t.Errorf("lr curve by %q counts %d runs, want every completed one, %d", c.Group, total, completed)
		}
	}
	if got, want := len(d.Timing.Hosts), MaxHosts+1; got != want {
		t.Errorf("%d hosts in the timings, want %d (the rest summed)", got, want)
	}
	if got, want := e.Parallel.Of, completed; got != want {
		t.Errorf("parallel coordinates of %d runs, want %d", got, want)
	}
	if got, want := len(e.Parallel.Metrics["m"]), MaxParallelRuns; got != want {
		t.Errorf("parallel coordinates draw %d runs, want %d", got, want)
	}
	var buf bytes.Buffer
	if err := Write(&buf, d); err != nil {
		t.Fatal(err)
	}
	if buf.Len() > 5<<20 {
		t.Errorf("report of %d runs is %d bytes", n, buf.Len())
	}
}

// TestGatherExact: on a grid, every point of every curve and series is
// the mean and interval of its runs' values, computed here directly, and
// runs of an experiment Pick leaves out are not counted.
func TestGatherExact(t *testing.T) {
	value := func(i int) float64 { return float64(i%5) + float64(i%7)/10 }
	st := writeStore(t, 300, func(i int) *store.Record {
		r := &store.Record{Experiment: "e", Version: "1", Status: store.StatusCompleted,
			Params:  params.Point{"a": int64(i % 5), "b": []string{"x", "y"}[i%2]},
			Started: t0, Ended: t0.Add(time.Second)}
		r.Metrics = capture.Metrics{"m": value(i)}
		v := value(i)
		r.Series = map[string][]capture.Point{"s": {{Step: 0, Value: &v}, {Step: int64(1 + i%3), Value: &v}}}
		if i%10 == 9 {
			r.Experiment = "other"
		}
		return r
	})
	d, err := Gather(context.Background(), Input{Store: st, Name: "s", Now: t0, Pick: func(name, _ string) bool { return name == "e" }})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := d.Overview.Runs, 270; got != want {
		t.Fatalf("%d runs, want %d", got, want)
	}
	want := map[string]*welford{} // "a=..,b=.." -> values
	wantStep := map[string]*welford{}
	for i := range 300 {
		if i%10 == 9 {
			continue
		}
		for _, k := range []string{fmt.Sprintf("a=%d", i%5), fmt.Sprintf("a=%d,b=%s", i%5, []string{"x", "y"}[i%2])} {
			if want[k] == nil {
				want[k] = &welford{}
			}
			want[k].add(value(i))
		}
		for _, step := range []int{0, 1 + i%3} {
			k := fmt.Sprintf("step=%d,b=%s", step, []string{"x", "y"}[i%2])
			if wantStep[k] == nil {
				wantStep[k] = &welford{}
			}
			wantStep[k].add(value(i))
		}
	}
	check := func(what string, l Line, key func(j int) string, ref map[string]*welford) {
		t.Helper()
		for j := range l.X {
			w := ref[key(j)]
			if w == nil {
				t.Errorf("%s: point %s has no runs", what, key(j))
				continue
			}
			mean, lo, hi := w.ci()
			if l.N[j] != w.n || math.Abs(float64(l.Mean[j])-mean) > 1e-12 || math.Abs(float64(l.Lo[j])-lo) > 1e-9 || math.Abs(float64(l.Hi[j])-hi) > 1e-9 {
				t.Errorf("%s %s: n=%d mean=%v [%v, %v], want n=%d mean=%v [%v, %v]", what, key(j), l.N[j], l.Mean[j], l.Lo[j], l.Hi[j], w.n, mean, lo, hi)
			}
		}
	}
	seen := 0
	for _, c := range d.Experiments[0].Curves {
		if c.X != "a" {
			continue
		}
		for _, l := range c.Lines {
			seen++
			check("curve m by a", l, func(j int) string {
				if c.Group == "" {
					return fmt.Sprintf("a=%v", l.X[j])
				}
				return fmt.Sprintf("a=%v,b=%v", l.X[j], l.G)
			}, want)
		}
	}
	if seen != 3 {
		t.Errorf("%d lines of m against a, want 3 (one, then one per b)", seen)
	}
	for _, s := range d.Experiments[0].Series {
		if s.Group != "b" {
			continue
		}
		if len(s.Lines) != 2 || s.Steps != 4 {
			t.Errorf("series by b: %d lines, %d steps, want 2 and 4", len(s.Lines), s.Steps)
		}
		for _, l := range s.Lines {
			check("series by b", l, func(j int) string { return fmt.Sprintf("step=%v,b=%v", l.X[j], l.G) }, wantStep)
		}
	}
}

// TestGatherQuantized: a numeric param with more values than are kept
// exactly still puts every completed run in one of MaxXValues bins, whose
// points lie within the param's range.
func TestGatherQuantized(t *testing.T) {
	n := exactValues * 3
	st := writeStore(t, n, func(i int) *store.Record {
		r := &store.Record{Experiment: "q", Status: store.StatusCompleted, Params: params.Point{"x": float64(i) * 0.37, "g": int64(i % 2)},
			Started: t0, Ended: t0.Add(time.Second)}
		r.Metrics = capture.Metrics{"m": float64(i)}
		return r
	})
	d, err := Gather(context.Background(), Input{Store: st, Name: "s", Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range d.Experiments[0].Curves {
		total := 0
		for _, l := range c.Lines {
			if len(l.X) > MaxXValues {
				t.Errorf("curve against %s by %q: %d points", c.X, c.Group, len(l.X))
			}
			for j, x := range l.X {
				total += l.N[j]
				if f, _ := params.Number(x); c.X == "x" && (f < 0 || f > float64(n)*0.37) {
					t.Errorf("point at x=%v, outside the values", x)
				}
			}
		}
		if total != n {
			t.Errorf("curve against %s by %q counts %d runs, want %d", c.X, c.Group, total, n)
		}
	}
}

func TestSampler(t *testing.T) {
	for _, tt := range []struct{ offered, max int }{{0, 10}, {5, 10}, {10, 10}, {19, 10}, {20, 10}, {1000, 10}, {12345, 100}} {
		s := newSampler[int](tt.max)
		for i := range tt.offered {
			s.offer(func() int { return i })
		}
		got := s.sample(tt.max)
		if want := min(tt.offered, tt.max); len(got) != want {
			t.Errorf("offered %d, max %d: %d kept, want %d", tt.offered, tt.max, len(got), want)
			continue
		}
		if len(s.kept) >= 2*tt.max {
			t.Errorf("offered %d, max %d: holds %d", tt.offered, tt.max, len(s.kept))
		}
		for i := 1; i < len(got); i++ {
			gap := got[i] - got[i-1]
			if gap <= 0 || gap > 4*tt.offered/tt.max+1 {
				t.Errorf("offered %d, max %d: gap %d between %d and %d, not an even sample", tt.offered, tt.max, gap, got[i-1], got[i])
			}
		}
	}
}

func TestWelfordMerge(t *testing.T) {
	var all, a, b welford
	for i := range 1000 {
		v := math.Sin(float64(i)) * 1e3
		all.add(v)
		if i%3 == 0 {
			a.add(v)
		} else {
			b.add(v)
		}
	}
	a.merge(b)
	if a.n != all.n || math.Abs(a.mean-all.mean) > 1e-9 || math.Abs(a.m2-all.m2)/all.m2 > 1e-12 {
		t.Errorf("merged %+v, want %+v", a, all)
	}
}

// TestGatherManySteps: a series with more steps than are kept one by one
// is grouped by a stride, every value still counted once, and the page
// says so.
func TestGatherManySteps(t *testing.T) {
	steps := 3 * maxStepKeys
	st := writeStore(t, 4, func(i int) *store.Record {
		pts := make([]capture.Point, steps)
		for s := range pts {
			v := float64(s)
			pts[s] = capture.Point{Step: int64(s) - 7, Value: &v}
		}
		r := &store.Record{Experiment: "s", Status: store.StatusCompleted, Params: params.Point{"g": int64(i % 2)}, Started: t0, Ended: t0.Add(time.Second)}
		r.Series = map[string][]capture.Point{"loss": pts}
		return r
	})
	d, err := Gather(context.Background(), Input{Store: st, Name: "s", Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range d.Experiments[0].Series {
		if s.Steps > maxStepKeys {
			t.Errorf("series by %q keeps %d steps, want at most %d", s.Group, s.Steps, maxStepKeys)
		}
		for _, l := range s.Lines {
			if len(l.X) > MaxSteps {
				t.Errorf("series by %q draws %d steps", s.Group, len(l.X))
			}
			for j := 1; j < len(l.X); j++ {
				if l.X[j].(int64) <= l.X[j-1].(int64) {
					t.Errorf("steps out of order: %v after %v", l.X[j], l.X[j-1])
				}
			}
		}
	}
	var note bool
	for _, n := range d.Notes {
		note = note || strings.Contains(n, "series loss has more than")
	}
	if !note {
		t.Errorf("no note says the steps were grouped: %q", d.Notes)
	}
	// Every value is in one group: the groups' counts sum to the points.
	acc := map[int64]*welford{}
	var sr seriesAcc
	sr.all, sr.by, sr.dropG, sr.stride = acc, map[string]map[string]*seriesLine{}, map[string]bool{}, 1
	pts := make([]capture.Point, steps)
	for s := range pts {
		v := 1.0
		pts[s] = capture.Point{Step: int64(s) - 7, Value: &v}
	}
	sr.add(pts, nil)
	total := 0
	for _, w := range sr.all {
		total += w.n
	}
	if total != steps || sr.stride < 2 {
		t.Errorf("grouped %d values with stride %d, want %d values grouped", total, sr.stride, steps)
	}
}
