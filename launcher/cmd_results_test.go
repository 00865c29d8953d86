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
			stderr: "metalab: unknown --format \"xml\"\nhint: use table, csv, jsonl or json\n"},
		{name: "a bad status", opts: resultsOptions{Format: "csv", Status: []string{"done"}}, code: ExitUsage,
			stderr: "metalab: unknown --status \"done\"\nhint: use completed, failed, cancelled or running\n"},
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
