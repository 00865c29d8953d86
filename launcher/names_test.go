package launcher

import (
	"math"
	"strings"
	"testing"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/store"
)

// nameRuns are 3 points n = 10, 100, 1000, each with the metric final_loss
// and a series loss, and a float param lr.
func nameRuns() *Results {
	var runs []*Record
	for i, n := range []int64{10, 100, 1000} {
		v := float64(i)
		runs = append(runs, &Record{RunID: "r", Status: store.StatusCompleted,
			Params: params.Point{"n": n, "lr": 0.1},
			Result: capture.Result{Metrics: capture.Metrics{"final_loss": v},
				Series: map[string][]capture.Point{"loss": {{Step: 0, Value: &v}}}}})
	}
	return &Results{runs: runs}
}

// TestWhereComparesNumbersByValue: 100, int64(100), uint8(100) and 100.0
// all find n = 100; 0.1 finds lr = 0.1 and 100.5 finds nothing.
func TestWhereComparesNumbersByValue(t *testing.T) {
	tests := []struct {
		name  string
		param string
		value any
		want  int
	}{
		{"int", "n", 100, 1},
		{"int64", "n", int64(100), 1},
		{"uint8", "n", uint8(100), 1},
		{"float64", "n", 100.0, 1},
		{"float32", "n", float32(1000), 1},
		{"a float that is no int", "n", 100.5, 0},
		{"a float param", "lr", 0.1, 3},
		{"a string is not a number", "n", "100", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := nameRuns().Where(tt.param, tt.value)
			if got, want := res.Len(), tt.want; got != want {
				t.Errorf("Where(%q, %#v).Len()=%d, want %d", tt.param, tt.value, got, want)
			}
			if err := res.Err(); err != nil {
				t.Errorf("Where(%q, %#v).Err()=%v, want nil", tt.param, tt.value, err)
			}
		})
	}
}

// TestUnknownNames: names no run has are errors that Err reports, with a
// did-you-mean hint, as the command line's; names some runs have are not.
func TestUnknownNames(t *testing.T) {
	tests := []struct {
		name string
		call func(r *Results) *Results // the results whose Err to check
		err  string
		hint string
	}{
		{"Where", func(r *Results) *Results { return r.Where("LR", 0.1) }, `no param "LR" in the results`, "did you mean lr? params of these runs: lr, n"},
		{"Where, on the receiver too", func(r *Results) *Results { r.Where("LR", 0.1); return r }, `no param "LR"`, ""},
		{"Mean", func(r *Results) *Results {
			if m := r.Mean("final_los"); !math.IsNaN(m) {
				t.Errorf("Mean(final_los)=%v, want NaN", m)
			}
			return r
		}, `no metric "final_los" in the results`, "did you mean final_loss?"},
		{"Metric of a series", func(r *Results) *Results {
			if v := r.Metric("loss"); v != nil {
				t.Errorf("Metric(loss)=%v, want nil", v)
			}
			return r
		}, `no metric "loss"`, "SeriesSummary"},
		{"Summary", func(r *Results) *Results {
			if s := r.Summary("lrr"); s != nil {
				t.Errorf("Summary(lrr)=%v, want nil", s)
			}
			return r
		}, `no param "lrr"`, "did you mean lr?"},
		{"SeriesSummary", func(r *Results) *Results { r.SeriesSummary("los", "n"); return r }, `no series "los"`, "did you mean loss? series of these runs: loss"},
		{"after Where, the error stays", func(r *Results) *Results { return r.Where("nn", 1).Completed() }, `no param "nn"`, ""},
		{"a filter that leaves no run keeps the names", func(r *Results) *Results {
			if m := r.Where("n", 5).Mean("final_loss"); !math.IsNaN(m) {
				t.Errorf("Mean of no runs=%v, want NaN", m)
			}
			return r.Where("n", 5)
		}, "", ""},
		{"names of all runs are known", func(r *Results) *Results { r.Mean("final_loss"); r.Summary("n", "lr"); return r }, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(nameRuns()).Err()
			if tt.err == "" {
				if err != nil {
					t.Fatalf("Err()=%v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("Err()=%v, want %q", err, tt.err)
			}
			if got := hintOf(err); !strings.Contains(got, tt.hint) {
				t.Errorf("hint %q, want it to contain %q", got, tt.hint)
			}
		})
	}
	// Of no runs at all, no name is a typo.
	if err := (&Results{}).Where("x", 1).Err(); err != nil {
		t.Errorf("Where on no runs: Err()=%v, want nil", err)
	}
}
