package launcher

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/metalab-hpc/metalab/report"
	"github.com/metalab-hpc/metalab/store"
)

// TestRunReport writes the report of 4 points x 2 replicates, x=3 failing,
// and checks what it says, and the errors a user can make.
func TestRunReport(t *testing.T) {
	exp := sweepExp("rep", 4, 3)
	dir := localSweep(t, exp, 8)
	tests := []struct {
		name   string
		opts   reportOptions
		code   int
		stderr string
	}{
		{name: "beside the store", opts: reportOptions{Output: filepath.Join(dir, "..", "r.html")}, stderr: "wrote "},
		{name: "one experiment", opts: reportOptions{Output: filepath.Join(t.TempDir(), "r.html"), Experiment: "rep@1"}},
		{name: "an unknown experiment", opts: reportOptions{Output: filepath.Join(t.TempDir(), "r.html"), Experiment: "rop"},
			code: ExitUsage, stderr: "did you mean rep"},
		{name: "a directory as output", opts: reportOptions{Output: t.TempDir()}, code: ExitUsage,
			stderr: "is a directory\nhint: name a file, such as"},
		{name: "not a store", opts: reportOptions{Store: t.TempDir(), Output: filepath.Join(t.TempDir(), "r.html")}, code: ExitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, warnings := testApp(exp, nil)
			opts := tt.opts
			if opts.Store == "" {
				opts.Store = dir
			}
			err := app.runReport(context.Background(), opts, &bytes.Buffer{}, warnings)
			code, stderr := exitOutput(err)
			if got, want := code, tt.code; got != want {
				t.Fatalf("runReport()=%v (exit %d), want exit %d", err, got, want)
			}
			if !strings.Contains(warnings.String()+stderr, tt.stderr) {
				t.Errorf("stderr %q, want it to contain %q", warnings.String()+stderr, tt.stderr)
			}
			if code != 0 {
				if _, err := os.Stat(opts.Output); err == nil && !strings.HasSuffix(tt.name, "output") {
					t.Errorf("a failed report wrote %s", opts.Output)
				}
				return
			}
			page, err := os.ReadFile(opts.Output)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"metalab report: rep@1", "x=3 fails", `"total":8`} {
				if !bytes.Contains(page, []byte(want)) {
					t.Errorf("report lacks %q", want)
				}
			}
		})
	}
}

// TestReportSummaryNumbers: the curves of report.Gather are summary's
// groups, the importance of a param that decides the metric is 1.
func TestReportSummaryNumbers(t *testing.T) {
	exp := sweepExp("rep", 4, 3)
	dir := localSweep(t, exp, 8)
	res, err := LoadResults(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.OpenExisting(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d, err := report.Gather(context.Background(), report.Input{Store: st, Name: "s", Now: time.Unix(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(d.Experiments), 1; got != want {
		t.Fatalf("%d experiments, want %d", got, want)
	}
	e := d.Experiments[0]
	if got, want := len(e.Curves), 1; got != want {
		t.Fatalf("%d curves, want %d (y against x)", got, want)
	}
	line := e.Curves[0].Lines[0]
	stats := res.Completed().Summary("x")
	if got, want := len(line.X), len(stats); got != want {
		t.Fatalf("%d points, want %d", got, want)
	}
	for i, s := range stats {
		if line.X[i] != s.Group["x"] || math.Abs(float64(line.Mean[i])-s.Mean) > 1e-12 || line.N[i] != s.N ||
			!(math.Abs(float64(line.Lo[i])-s.CILow) < 1e-9 || math.IsNaN(s.CILow) && math.IsNaN(float64(line.Lo[i]))) {
			t.Errorf("point %d: x=%v mean=%v lo=%v n=%d, want summary's %v %v %v %d", i, line.X[i], line.Mean[i], line.Lo[i], line.N[i], s.Group["x"], s.Mean, s.CILow, s.N)
		}
	}
	if got, want := float64(e.Importance[0].Ranking[0].Eta2), 1.0; math.Abs(got-want) > 1e-12 {
		t.Errorf("η² of x for y = x: %v, want %v", got, want)
	}
	if got, want := d.Overview.Counts["failed"], 2; got != want {
		t.Errorf("%d failed, want %d", got, want)
	}
	if _, err := json.Marshal(d); err != nil {
		t.Errorf("the data does not encode: %v", err)
	}
}

func TestLinkBase(t *testing.T) {
	for _, tt := range []struct{ out, store, want string }{
		{"report.html", "runs/pi", "runs/pi"},
		{"runs/pi/report.html", "runs/pi", "."},
		{"runs/report.html", "runs/pi", "pi"},
		{"out/report.html", "runs/pi", ""},
		{"/tmp/report.html", "/elsewhere/pi", ""},
	} {
		if got := linkBase(tt.out, tt.store); got != tt.want {
			t.Errorf("linkBase(%q, %q)=%q, want %q", tt.out, tt.store, got, tt.want)
		}
	}
}
