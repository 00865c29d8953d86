package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// small is a report of two runs, one failed, with a hostile string in
// every place a run can put one.
func small() *Data {
	t0 := time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC)
	return &Data{
		Title: "metalab report: fit@1", Store: "runs/fit", Generated: t0.Add(time.Hour), Limits: DefaultLimits,
		Overview: Overview{Runs: 2, Counts: map[string]int{"completed": 1, "failed": 1}, TotalSeconds: 3,
			MedianSeconds: 1.5, P95Seconds: Num(math.NaN()), First: t0, Last: t0.Add(2 * time.Second),
			Hosts: []string{"node1"}, NHosts: 1, SlurmJobs: []string{}, NSlurmJobs: 0},
		Experiments: []Experiment{{Name: "fit", Version: "1", Runs: 2, Counts: map[string]int{"completed": 1, "failed": 1},
			Params:  []Param{{Name: "lr", NValues: 2, Numeric: true, Group: true}},
			Metrics: []string{"loss"},
			Curves: []Curve{{Metric: "loss", X: "lr", Lines: []Line{{X: []any{0.1}, N: []int{1},
				Mean: []Num{0.5}, Lo: []Num{Num(math.NaN())}, Hi: []Num{Num(math.NaN())}}}}},
			Series:     []Series{},
			Importance: []Importance{{Metric: "loss", Ranking: []ParamRank{{Param: "lr", Eta2: 0}}}},
			Parallel:   Parallel{Of: 1, Params: map[string][]any{"lr": {0.1}}, Metrics: map[string][]Num{"loss": {0.5}}},
		}},
		Table: Table{Total: 2, Columns: []Column{{"run_id", "run_id"}, {"lr", "param"}, {"status", "status"}, {"error", "error"}},
			Rows:    [][]any{{"aaaa", 0.1, "completed", nil}, {"bbbb", "</script><b>x</b>", "failed", "exit status 3 </script>"}},
			Details: map[int]Detail{1: {Error: "exit status 3 </script>", Tail: "<img src=x onerror=alert(1)>"}}},
		Timing: Timing{Start: t0, BinSeconds: 1, Ended: map[string][]int{"completed": {0, 1}, "failed": {1, 0}},
			Hosts: []HostTiming{{Host: "node1", Runs: 2, BusySeconds: 3, Running: []Num{1, 0.5}}}},
		Notes: []string{"a note <b>escaped</b>"},
	}
}

func TestGolden(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, small()); err != nil {
		t.Fatal(err)
	}
	got := buf.Bytes()
	path := filepath.Join("testdata", "small.html")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Write() differs from %s (go test ./report -update rewrites it); got:\n%s", path, got)
	}
}

// TestWriteConfinesRunStrings checks that a run's strings cannot end the
// data's script element or add markup: they appear only escaped.
func TestWriteConfinesRunStrings(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, small()); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	if got, want := strings.Count(page, "</script>"), 2; got != want {
		t.Errorf("page has %d </script>, want %d (the data's and the script's)", got, want)
	}
	for _, bad := range []string{"<img src=x", "<b>x</b>", "<b>escaped</b>"} {
		if strings.Contains(page, bad) {
			t.Errorf("page holds %q unescaped", bad)
		}
	}
	// The data block parses back to the same data.
	start := strings.Index(page, `<script type="application/json" id="report-data">`)
	end := strings.Index(page[start:], "</script>")
	block := page[start+len(`<script type="application/json" id="report-data">`) : start+end]
	var back map[string]any
	if err := json.Unmarshal([]byte(block), &back); err != nil {
		t.Fatalf("data block: %v", err)
	}
	if got, want := back["title"], "metalab report: fit@1"; got != want {
		t.Errorf("title=%v, want %v", got, want)
	}
	if got := back["overview"].(map[string]any)["p95_s"]; got != nil {
		t.Errorf("p95_s=%v, want null for NaN", got)
	}
}

func TestFormatSeconds(t *testing.T) {
	for _, tt := range []struct {
		in   float64
		want string
	}{{0.42, "0.42 s"}, {42, "42 s"}, {200, "3 min 20 s"}, {7500, "2 h 05 min"}, {3*86400 + 4*3600, "3 d 4 h"}, {math.NaN(), "-"}} {
		if got := formatSeconds(tt.in); got != tt.want {
			t.Errorf("formatSeconds(%v)=%q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestWriteLive: the live page adds its config and script, and no more
// than that; the file report has neither.
func TestWriteLive(t *testing.T) {
	var file, live bytes.Buffer
	if err := Write(&file, small()); err != nil {
		t.Fatal(err)
	}
	if err := WriteLive(&live, small(), Live{State: "api/state", Data: "api/data", Log: "api/logs/", RefreshMs: 2000}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		page       string
		text       string
		file, live bool
	}{
		{"live-config", `<script type="application/json" id="live-config">{"state":"api/state","data":"api/data","log":"api/logs/","refresh_ms":2000}</script>`, false, true},
		{"live script", "window.metalabLive = {", false, true},
		{"live bar", `id="live-completed"`, false, true},
		{"no favicon request", `<link rel="icon" href="data:,">`, false, true},
		{"report data", `id="report-data"`, true, true},
	} {
		if got := strings.Contains(file.String(), tt.text); got != tt.file {
			t.Errorf("file report holds %s: %v, want %v", tt.page, got, tt.file)
		}
		if got := strings.Contains(live.String(), tt.text); got != tt.live {
			t.Errorf("live page holds %s: %v, want %v", tt.page, got, tt.live)
		}
	}
}
