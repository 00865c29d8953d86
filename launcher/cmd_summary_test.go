package launcher

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestRunSummary summarises a store of 3 points x 2 replicates, y = x.
func TestRunSummary(t *testing.T) {
	tests := []struct {
		name   string
		opts   summaryOptions
		code   int
		out    string
		stderr string
	}{
		{name: "no grouping", out: "metric  n  mean  std"},
		{name: "by x", opts: summaryOptions{GroupBy: []string{"x"}}, out: "x  metric  n  mean  std"},
		{name: "an unknown param", opts: summaryOptions{GroupBy: []string{"z"}}, code: ExitUsage,
			stderr: "metalab: no param \"z\" in the store\nhint: params in this store: x\n"},
	}
	dir := localSweep(t, sweepExp("sum", 3), 6)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, warnings := testApp(sweepExp("sum", 3), nil)
			opts := tt.opts
			opts.Store = dir
			var out bytes.Buffer
			err := app.runSummary(opts, &out, warnings)
			code, stderr := exitOutput(err)
			if got, want := code, tt.code; got != want {
				t.Fatalf("runSummary()=%v (exit %d), want exit %d", err, got, want)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q, want it to contain %q", stderr, tt.stderr)
			}
			if !strings.Contains(out.String(), tt.out) {
				t.Errorf("output lacks %q:\n%s", tt.out, out.String())
			}
		})
	}
}

// TestRunSummaryJSON: one group per point, with the mean of its replicates.
func TestRunSummaryJSON(t *testing.T) {
	dir := localSweep(t, sweepExp("sum", 3), 6)
	app, _ := testApp(sweepExp("sum", 3), nil)
	var out bytes.Buffer
	if err := app.runSummary(summaryOptions{Store: dir, GroupBy: []string{"x"}, JSON: true}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	var stats []GroupStat
	if err := json.Unmarshal(out.Bytes(), &stats); err != nil {
		t.Fatalf("%v:\n%s", err, out.String())
	}
	if got, want := len(stats), 3; got != want {
		t.Fatalf("%d groups, want %d", got, want)
	}
	for _, s := range stats {
		if s.N != 2 || s.Mean != float64(asInt(s.Group["x"])) {
			t.Errorf("group %v: n=%d mean=%g, want 2 runs of mean x", s.Group, s.N, s.Mean)
		}
	}
}

func asInt(v any) int {
	switch v := v.(type) {
	case int:
		return v
	case int64:
		return int(v)
	case float64:
		return int(v)
	}
	return -1
}
