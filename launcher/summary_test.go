package launcher

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/internal/tdist"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/store"
)

func rec(a int64, rep int, status store.Status, y float64) *Record {
	return &Record{
		RunID: "r", Status: status, Replicate: rep,
		Params: params.Point{"a": a},
		Result: capture.Result{Metrics: capture.Metrics{"y": y}},
	}
}

func TestSummaryStatistics(t *testing.T) {
	res := &Results{runs: []*Record{
		rec(1, 0, store.StatusCompleted, 1),
		rec(1, 1, store.StatusCompleted, 2),
		rec(1, 2, store.StatusCompleted, 3),
		rec(1, 3, store.StatusFailed, 100),           // failed runs are left out
		rec(2, 0, store.StatusCompleted, 5),          // one value: no spread
		rec(2, 1, store.StatusCompleted, math.NaN()), // null values are left out
	}}
	stats := res.Summary("a")
	if got, want := len(stats), 2; got != want {
		t.Fatalf("len(Summary())=%d, want %d: %+v", got, want, stats)
	}
	s := stats[0]
	// mean 2, sample std 1, half-width t(0.975, 2) / sqrt(3) = 4.3027 / 1.7321.
	half := 4.3027 / math.Sqrt(3)
	checks := []struct {
		name      string
		got, want float64
	}{
		{"n", float64(s.N), 3}, {"mean", s.Mean, 2}, {"std", s.Std, 1},
		{"ci_low", s.CILow, 2 - half}, {"ci_high", s.CIHigh, 2 + half},
	}
	for _, c := range checks {
		if math.Abs(c.got-c.want) > 1e-9 {
			t.Errorf("group a=1 %s=%v, want %v", c.name, c.got, c.want)
		}
	}
	if s2 := stats[1]; s2.N != 1 || s2.Mean != 5 || !math.IsNaN(s2.Std) {
		t.Errorf("group a=2: %+v, want n=1 mean=5 std undefined", s2)
	}
	var buf bytes.Buffer
	if err := WriteSummary(&buf, stats, []string{"a"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "a  metric  n  mean") {
		t.Errorf("summary table header:\n%s", buf.String())
	}
	b, err := stats[1].MarshalJSON()
	if err != nil || !strings.Contains(string(b), `"std":null`) {
		t.Errorf("MarshalJSON()=%s, %v; want std null", b, err)
	}
}

func TestTQuantile(t *testing.T) {
	tests := []struct {
		df   int
		want float64
	}{{1, 12.7062}, {2, 4.3027}, {10, 2.2281}, {30, 2.0423}, {40, 2.0211}, {60, 2.0003}, {120, 1.9799}, {1000, 1.9623}}
	for _, tt := range tests {
		if got := tdist.Quantile975(tt.df); math.Abs(got-tt.want) > 2e-4 {
			t.Errorf("tdist.Quantile975(%d)=%.5f, want %.4f", tt.df, got, tt.want)
		}
	}
}

// TestSummaryOfGroupsWithoutValues: a group whose runs all failed is in
// the summary, with its counts, in the table and in JSON.
func TestSummaryOfGroupsWithoutValues(t *testing.T) {
	res := &Results{runs: []*Record{
		rec(1, 0, store.StatusCompleted, 1),
		rec(1, 1, store.StatusCompleted, 3),
		rec(2, 0, store.StatusFailed, 0),
		rec(2, 1, store.StatusFailed, 0),
		rec(2, 2, store.StatusCancelled, 0),
	}}
	stats := res.Summary("a")
	if got, want := len(stats), 2; got != want {
		t.Fatalf("len(Summary())=%d, want %d: %+v", got, want, stats)
	}
	if s := stats[1]; s.Metric != "" || s.N != 0 || s.Runs[store.StatusFailed] != 2 || s.Runs[store.StatusCancelled] != 1 {
		t.Errorf("group a=2: %+v, want no metric and 2 failed, 1 cancelled", s)
	}
	if got, want := stats[0].Runs[store.StatusCompleted], 2; got != want {
		t.Errorf("group a=1 counts %d completed runs, want %d", got, want)
	}
	var buf bytes.Buffer
	if err := WriteSummary(&buf, stats, []string{"a"}); err != nil {
		t.Fatal(err)
	}
	want := "a  metric  n  mean  std      ci_low    ci_high\n" +
		"1  y       2  2     1.41421  -10.7062  14.7062\n" +
		"\nno completed run with a metric in 1 group:\n" +
		"  a=2: 2 failed, 1 cancelled\n"
	if got := buf.String(); got != want {
		t.Errorf("table:\n%s\nwant:\n%s", got, want)
	}
	b, err := json.Marshal(stats[1])
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"group":{"a":2},"metric":null,"n":0,"mean":null,"std":null,"ci_low":null,"ci_high":null,"runs":{"cancelled":1,"failed":2}}`; got != want {
		t.Errorf("JSON %s, want %s", got, want)
	}
}

// TestSummaryNamesMatch: the table's columns are the JSON's keys.
func TestSummaryNamesMatch(t *testing.T) {
	stats := (&Results{runs: []*Record{rec(1, 0, store.StatusCompleted, 1)}}).Summary()
	var buf bytes.Buffer
	if err := WriteSummary(&buf, stats, nil); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(stats[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, col := range strings.Fields(strings.SplitN(buf.String(), "\n", 2)[0]) {
		if !strings.Contains(string(b), `"`+col+`":`) {
			t.Errorf("table column %q is no JSON key: %s", col, b)
		}
	}
}

// TestSummaryHeaderClash: a param named as a statistic's column is headed
// param_NAME, as the results export prefixes it.
func TestSummaryHeaderClash(t *testing.T) {
	tests := []struct {
		groupBy          []string
		several, stepped bool
		want             string
	}{
		{[]string{"lr", "n"}, false, false, "lr param_n metric n mean std ci_low ci_high"},
		{[]string{"mean", "version"}, true, false, "experiment version param_mean param_version metric n mean std ci_low ci_high"},
		{[]string{"step"}, false, true, "param_step metric step n mean std ci_low ci_high"},
		{[]string{"step"}, false, false, "step metric n mean std ci_low ci_high"},
	}
	for _, tt := range tests {
		if got := strings.Join(summaryHeader(tt.groupBy, tt.several, tt.stepped), " "); got != tt.want {
			t.Errorf("summaryHeader(%v, %v, %v)=%q, want %q", tt.groupBy, tt.several, tt.stepped, got, tt.want)
		}
	}
}

// TestSeriesSummary: per step, the statistics of the completed runs'
// values; a step a run recorded twice counts its last value.
func TestSeriesSummary(t *testing.T) {
	pt := func(step int64, v float64) capture.Point { return capture.Point{Step: step, Value: &v} }
	run := func(a int64, st store.Status, pts ...capture.Point) *Record {
		return &Record{RunID: "r", Status: st, Params: params.Point{"a": a},
			Result: capture.Result{Series: map[string][]capture.Point{"loss": pts}}}
	}
	res := &Results{runs: []*Record{
		run(1, store.StatusCompleted, pt(0, 1), pt(1, 0.5)),
		run(1, store.StatusCompleted, pt(0, 3), pt(1, 9), pt(1, 1.5)),
		run(1, store.StatusFailed, pt(0, 100)),
		run(2, store.StatusCompleted, pt(0, 4)),
	}}
	stats := res.SeriesSummary("loss", "a")
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	type row struct {
		a         any
		step, n   int64
		mean, std float64
	}
	want := []row{{int64(1), 0, 2, 2, math.Sqrt2}, {int64(1), 1, 2, 1, math.Sqrt(0.5)}, {int64(2), 0, 1, 4, math.NaN()}}
	if len(stats) != len(want) {
		t.Fatalf("SeriesSummary()=%+v, want %d rows", stats, len(want))
	}
	for i, w := range want {
		s := stats[i]
		if s.Group["a"] != w.a || s.Step == nil || *s.Step != w.step || int64(s.N) != w.n || s.Mean != w.mean ||
			math.Abs(s.Std-w.std) > 1e-12 && !(math.IsNaN(w.std) && math.IsNaN(s.Std)) {
			t.Errorf("row %d: %+v step %v, want %+v", i, s, s.Step, w)
		}
	}
	var buf bytes.Buffer
	if err := WriteSummary(&buf, stats, []string{"a"}); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(buf.String(), "a  metric  step  n  mean") {
		t.Errorf("series summary table:\n%s", buf.String())
	}
}
