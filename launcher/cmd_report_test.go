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

	"github.com/metalab-hpc/metalab/params"
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

// TestBuildReportSummaryNumbers: the curves are summary's groups, the
// importance of a param that decides the metric is 1, the table puts the
// failed runs first when it samples.
func TestBuildReportSummaryNumbers(t *testing.T) {
	exp := sweepExp("rep", 4, 3)
	res, err := LoadResults(localSweep(t, exp, 8))
	if err != nil {
		t.Fatal(err)
	}
	d := buildReport(reportInput{res: res, store: "s", now: time.Unix(0, 0)})
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
		if line.X[i] != s.Group["x"] || float64(line.Mean[i]) != s.Mean || line.N[i] != s.N {
			t.Errorf("point %d: x=%v mean=%v n=%d, want summary's %v %v %d", i, line.X[i], line.Mean[i], line.N[i], s.Group["x"], s.Mean, s.N)
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

// TestBuildReportScale: a store's worth of runs far beyond the table's
// rows keeps every failed run, samples the rest, and bins a param with
// many values.
func TestBuildReportScale(t *testing.T) {
	n := report.MaxTableRows + 5000
	res := &Results{}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		r := &Record{RunID: string(rune('a' + i%26)), Experiment: "big", Version: "1", Status: store.StatusCompleted,
			Params:  params.Point{"lr": math.Pow(10, -4+3*float64(i)/float64(n)), "k": int64(i % 3)},
			Started: t0.Add(time.Duration(i) * time.Second), Ended: t0.Add(time.Duration(i+2) * time.Second), Host: "h" + string(rune('0'+i%20))}
		r.Metrics = map[string]float64{"m": float64(i % 7)}
		if i%100 == 0 {
			r.Status, r.Error, r.Metrics = store.StatusFailed, "boom", nil
		}
		res.runs = append(res.runs, r)
	}
	d := buildReport(reportInput{res: res, store: "s", now: t0})
	if got, want := len(d.Table.Rows), report.MaxTableRows; got != want {
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
	var lr report.Param
	for _, p := range d.Experiments[0].Params {
		if p.Name == "lr" {
			lr = p
		}
	}
	if !lr.Binned || !lr.Log {
		t.Errorf("lr: %+v, want binned on a log scale", lr)
	}
	for _, c := range d.Experiments[0].Curves {
		if c.X == "lr" && c.Group == "" && len(c.Lines[0].X) > report.MaxXValues {
			t.Errorf("lr curve has %d points, want at most %d", len(c.Lines[0].X), report.MaxXValues)
		}
	}
	if got, want := len(d.Timing.Hosts), report.MaxHosts+1; got != want {
		t.Errorf("%d hosts in the timings, want %d (the rest summed)", got, want)
	}
	var buf bytes.Buffer
	if err := report.Write(&buf, d); err != nil {
		t.Fatal(err)
	}
	if buf.Len() > 5<<20 {
		t.Errorf("report of %d runs is %d bytes", n, buf.Len())
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
