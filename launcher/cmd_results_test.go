package launcher

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRunResults prints the results of a store of 3 points x 2 replicates
// whose 2 runs of x=1 failed.
func TestRunResults(t *testing.T) {
	tests := []struct {
		name   string
		opts   resultsOptions
		file   bool // --output FILE
		code   int
		lines  int    // of the output, header included
		has    string // in the output
		stderr string
	}{
		{name: "table", opts: resultsOptions{Format: "table"}, lines: 7, has: "failed"},
		{name: "csv", opts: resultsOptions{Format: "csv"}, lines: 7, has: "run_id,status,replicate,seed,x,y,"},
		{name: "csv of the failed", opts: resultsOptions{Format: "csv", Status: []string{"failed"}}, lines: 3, has: "x=1 fails"},
		{name: "csv to a file", opts: resultsOptions{Format: "csv"}, file: true, lines: 7, has: "run_id,"},
		{name: "jsonl", opts: resultsOptions{Format: "jsonl"}, lines: 6, has: `"status":"completed"`},
		{name: "json of the completed", opts: resultsOptions{Format: "json", Status: []string{"completed"}}, has: `"status": "completed"`},
		{name: "a bad format", opts: resultsOptions{Format: "xml"}, code: ExitUsage,
			stderr: "metalab: unknown --format \"xml\"\nhint: use table, csv, jsonl, json or series\n"},
		{name: "a bad status", opts: resultsOptions{Format: "csv", Status: []string{"done"}}, code: ExitUsage,
			stderr: "metalab: unknown --status \"done\"\nhint: use completed, failed, cancelled or running\n"},
		{name: "the table of the failed shows their errors", opts: resultsOptions{Format: "table", Status: []string{"failed"}}, lines: 3, has: "x=1 fails"},
		{name: "where a param", opts: resultsOptions{Format: "csv", Where: []string{"x=2"}}, lines: 3, has: ",2,2,"},
		{name: "where a metric", opts: resultsOptions{Format: "csv", Where: []string{"y>=1"}}, lines: 3, has: ",2,2,"},
		{name: "where, twice", opts: resultsOptions{Format: "csv", Where: []string{"x!=0", "status=failed"}}, lines: 3, has: "x=1 fails"},
		{name: "where on a metric leaves out the runs without it", opts: resultsOptions{Format: "csv", Where: []string{"y<100"}}, lines: 5},
		{name: "sort descending", opts: resultsOptions{Format: "csv", Sort: "-x,replicate", Columns: "x,replicate"}, has: "x,replicate\n2,0\n2,1\n1,0\n1,1\n0,0\n0,1\n"},
		{name: "sort by a metric: without one last", opts: resultsOptions{Format: "csv", Sort: "-y", Columns: "x,y"}, has: "x,y\n2,2\n2,2\n0,0\n0,0\n1,\n1,\n"},
		{name: "columns of the table", opts: resultsOptions{Format: "table", Columns: "x,status"}, lines: 7, has: "x  status\n0  completed\n"},
		{name: "json with where", opts: resultsOptions{Format: "json", Where: []string{"status=completed"}}, has: `"status": "completed"`},
		{name: "an unknown column", opts: resultsOptions{Format: "csv", Where: []string{"yy>1"}}, code: ExitUsage,
			stderr: "metalab: --where \"yy>1\": no column \"yy\" in the store's results\nhint: did you mean y? the columns: run_id, status, replicate, seed, x, y, started, ended, duration_s, code, error\n"},
		{name: "no comparison", opts: resultsOptions{Format: "csv", Where: []string{"x"}}, code: ExitUsage,
			stderr: "metalab: --where \"x\": no comparison\nhint: write NAME=VALUE"},
		{name: "a bad operator", opts: resultsOptions{Format: "csv", Where: []string{"x=>1"}}, code: ExitUsage,
			stderr: "metalab: --where \"x=>1\": no comparison operator\nhint: the comparisons are =, !=, <, <=, > and >=\n"},
		{name: "columns of jsonl", opts: resultsOptions{Format: "jsonl", Columns: "x"}, code: ExitUsage,
			stderr: "metalab: --columns with --format jsonl\n"},
		{name: "an unknown sort column", opts: resultsOptions{Format: "table", Sort: "-z"}, code: ExitUsage,
			stderr: "metalab: --sort: no column \"z\""},
	}
	dir := localSweep(t, sweepExp("res", 3, 1), 6)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, warnings := testApp(sweepExp("res", 3, 1), nil)
			opts := tt.opts
			opts.Store = dir
			if tt.file {
				opts.Output = filepath.Join(t.TempDir(), "out")
			}
			var out bytes.Buffer
			err := app.runResults(opts, &out, warnings)
			code, stderr := exitOutput(err)
			if got, want := code, tt.code; got != want {
				t.Fatalf("runResults()=%v (exit %d), want exit %d", err, got, want)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q, want it to contain %q", stderr, tt.stderr)
			}
			if warnings.Len() > 0 {
				t.Errorf("warnings: %s", warnings)
			}
			got := out.String()
			if tt.file {
				if out.Len() > 0 {
					t.Errorf("--output printed %q", got)
				}
				b, err := os.ReadFile(opts.Output)
				if err != nil {
					t.Fatal(err)
				}
				got = string(b)
			}
			if tt.lines > 0 && strings.Count(got, "\n") != tt.lines {
				t.Errorf("%d lines, want %d:\n%s", strings.Count(got, "\n"), tt.lines, got)
			}
			if !strings.Contains(got, tt.has) {
				t.Errorf("output lacks %q:\n%s", tt.has, got)
			}
			if opts.Format == "json" {
				var recs []map[string]any
				if err := json.Unmarshal([]byte(got), &recs); err != nil || len(recs) != 4 {
					t.Errorf("json: %d records, %v; want the 4 completed", len(recs), err)
				}
			}
		})
	}
}
