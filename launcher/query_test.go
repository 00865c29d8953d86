package launcher

import (
	"strings"
	"testing"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/store"
)

// TestQuery: --where and --sort name columns as the CSV header does; a
// param and a metric of one name need their prefix.
func TestQuery(t *testing.T) {
	runs := []*Record{
		{RunID: "a", Status: store.StatusCompleted, Params: params.Point{"lr": 0.1, "opt": "adam", "loss": int64(1)},
			Result: capture.Result{Metrics: capture.Metrics{"loss": 0.5, "acc": 0.9}}},
		{RunID: "b", Status: store.StatusCompleted, Params: params.Point{"lr": 0.01, "opt": "sgd", "loss": int64(2)},
			Result: capture.Result{Metrics: capture.Metrics{"loss": 0.25, "acc": 0.95}}},
		{RunID: "c", Status: store.StatusFailed, Params: params.Point{"lr": 1e-3, "opt": "sgd", "loss": int64(1)}, Error: "diverged"},
	}
	tests := []struct {
		where []string
		sort  string
		want  string // run IDs in order
		err   string
	}{
		{where: []string{"opt=sgd"}, want: "bc"},
		{where: []string{"opt==sgd", "lr<0.005"}, want: "c"},
		{where: []string{"lr>=1e-2"}, want: "ab"},
		{where: []string{"acc>0.9"}, want: "b"},
		{where: []string{"acc!=0.9"}, want: "b"}, // c has no acc: it meets no condition on it
		{where: []string{"metric_loss<0.3"}, want: "b"},
		{where: []string{"param_loss=1"}, want: "ac"},
		{where: []string{"error=diverged"}, want: "c"},
		{where: []string{"opt>b"}, want: "bc"}, // text compares as text
		{sort: "-lr", want: "abc"},
		{sort: "lr", want: "cba"},
		{sort: "-acc", want: "bac"},
		{sort: "acc", want: "abc"},
		{sort: "opt,-lr", want: "abc"},
		{where: []string{"loss<1"}, err: `--where "loss<1": "loss" is both a param and a metric`},
		{sort: "los", err: `--sort: no column "los"`},
	}
	for _, tt := range tests {
		q, err := parseQuery(tt.where, tt.sort, "")
		if err != nil {
			t.Fatal(err)
		}
		res, _, err := q.apply(&Results{runs: runs})
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("where %q sort %q: error %v, want %q", tt.where, tt.sort, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("where %q sort %q: %v", tt.where, tt.sort, err)
		}
		var got string
		for _, r := range res.list() {
			got += r.RunID
		}
		if got != tt.want {
			t.Errorf("where %q sort %q: runs %q, want %q", tt.where, tt.sort, got, tt.want)
		}
	}
}
