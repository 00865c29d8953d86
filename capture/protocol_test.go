package capture

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseLine(t *testing.T) {
	step := func(n int64) *int64 { return &n }
	tests := []struct {
		line string
		want Event
	}{
		{`{"metric": "pi_estimate", "value": 3.14}`, Event{Kind: KindMetric, Name: "pi_estimate", Value: 3.14}},
		{`{"metric": "loss", "value": 2, "step": 10}`, Event{Kind: KindMetric, Name: "loss", Value: 2, Step: step(10)}},
		{`{"metric": "loss", "value": 2, "step": 10.0}`, Event{Kind: KindMetric, Name: "loss", Value: 2, Step: step(10)}},
		{`{"data": "cm", "value": [[1, 2], {"a": "x"}]}`, Event{Kind: KindData, Name: "cm", Data: []byte(`[[1,2],{"a":"x"}]`)}},
		{`{"artifact": "model", "path": "out/model.pt", "format": "pt"}`, Event{Kind: KindArtifact, Name: "model", Path: "out/model.pt", Format: "pt"}},
		{`{"log": "epoch 3: NaN seen"}`, Event{Kind: KindLog, Text: "epoch 3: NaN seen"}},
		{`  {"log": "ünïcødé \"quoted\""}  `, Event{Kind: KindLog, Text: `ünïcødé "quoted"`}},
	}
	for _, tt := range tests {
		got, err := ParseLine([]byte(tt.line))
		if err != nil {
			t.Errorf("ParseLine(%s): %v", tt.line, err)
			continue
		}
		if got.Kind != tt.want.Kind || got.Name != tt.want.Name || got.Value != tt.want.Value ||
			string(got.Data) != string(tt.want.Data) || got.Path != tt.want.Path ||
			got.Format != tt.want.Format || got.Text != tt.want.Text ||
			(got.Step == nil) != (tt.want.Step == nil) || (got.Step != nil && *got.Step != *tt.want.Step) {
			t.Errorf("ParseLine(%s)=%+v, want %+v", tt.line, got, tt.want)
		}
	}
}

func TestParseLineNonFinite(t *testing.T) {
	tests := []struct {
		line string
		want float64
	}{
		{`{"metric": "m", "value": NaN}`, math.NaN()},
		{`{"metric": "m", "value": Infinity}`, math.Inf(1)},
		{`{"metric": "m", "value": -Infinity}`, math.Inf(-1)},
		{`{"metric": "m", "value": null}`, math.NaN()},
		{`{"metric": "m", "value": 1e999}`, math.Inf(1)},
	}
	for _, tt := range tests {
		got, err := ParseLine([]byte(tt.line))
		if err != nil {
			t.Fatalf("ParseLine(%s): %v", tt.line, err)
		}
		if math.IsNaN(tt.want) != math.IsNaN(got.Value) || (!math.IsNaN(tt.want) && got.Value != tt.want) {
			t.Errorf("ParseLine(%s).Value=%v, want %v", tt.line, got.Value, tt.want)
		}
	}
	ev, err := ParseLine([]byte(`{"data": "d", "value": [1, NaN, "NaN"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(ev.Data), `[1,null,"NaN"]`; got != want {
		t.Errorf("data=%s, want %s", got, want)
	}
	if len(ev.Warnings) != 1 {
		t.Errorf("Warnings=%q, want one", ev.Warnings)
	}
}

func TestParseLineErrors(t *testing.T) {
	tests := []struct {
		name, line, want string
	}{
		{"not JSON", `pi=3.14`, "not valid JSON"},
		{"truncated", `{"metric": "x", "value": 1`, "not valid JSON"},
		{"two objects", `{"log": "a"} {"log": "b"}`, "text after the object"},
		{"array", `[1, 2]`, "want an object"},
		{"no kind", `{"value": 3}`, "names no kind"},
		{"empty object", `{}`, "names no kind"},
		{"unknown kind", `{"metrc": "x", "value": 3}`, `unknown kind "metrc"`},
		{"two kinds", `{"metric": "x", "log": "y", "value": 1}`, "two kinds"},
		{"metric string", `{"metric": "x", "value": "3.14"}`, "must be a number, got a string"},
		{"metric bool", `{"metric": "x", "value": true}`, "must be a number, got a boolean"},
		{"metric list", `{"metric": "x", "value": [1]}`, "must be a number, got an array"},
		{"metric no value", `{"metric": "x"}`, `has no "value"`},
		{"metric name not string", `{"metric": 3, "value": 1}`, "name must be a string"},
		{"bad step", `{"metric": "x", "value": 1, "step": 1.5}`, "step must be an integer"},
		{"step string", `{"metric": "x", "value": 1, "step": "1"}`, "step must be an integer"},
		{"unknown key", `{"metric": "x", "value": 1, "stepp": 1}`, `unknown key "stepp"`},
		{"data no value", `{"data": "x"}`, `has no "value"`},
		{"artifact no path", `{"artifact": "x"}`, `needs a "path"`},
		{"log not string", `{"log": 3}`, "must be a string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseLine([]byte(tt.line))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ParseLine(%s)=%v, want an error containing %q", tt.line, err, tt.want)
			}
		})
	}
}

func TestApplyLines(t *testing.T) {
	store := t.TempDir()
	work := t.TempDir()
	if err := os.WriteFile(filepath.Join(work, "out.txt"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	rec := TestRecorder(t, store, "artifacts/r1")
	in := strings.Join([]string{
		`{"metric": "a", "value": 1}`,
		``,
		`oops`,
		`{"metric": "b", "value": NaN}`,
		`{"artifact": "out", "path": "out.txt"}`,
		`{"metric": "c", "value": "x"}`,
		`{"log": "last line without newline"}`,
	}, "\n")
	if err := rec.ApplyLines(strings.NewReader(in), work); err != nil {
		t.Fatal(err)
	}
	err := rec.Err()
	if err == nil || !strings.Contains(err.Error(), `capture line 3: not valid JSON`) || !strings.Contains(err.Error(), "`oops`") {
		t.Fatalf("Err()=%v, want the first bad line, 3, named with its text", err)
	}
	res := rec.Result()
	if got, want := res.Metrics["a"], 1.0; got != want {
		t.Errorf("metric a=%v, want %v", got, want)
	}
	if got := res.Metrics["b"]; !math.IsNaN(got) {
		t.Errorf("metric b=%v, want NaN", got)
	}
	if len(res.Warnings) == 0 {
		t.Errorf("no warning for the NaN metric")
	}
	if len(res.Artifacts) != 1 || res.Artifacts[0].Size != 5 || res.Artifacts[0].Path != "artifacts/r1/out" {
		t.Errorf("Artifacts=%+v, want out.txt stored as artifacts/r1/out", res.Artifacts)
	}
	if got, want := strings.Join(res.Logs, "|"), "last line without newline"; got != want {
		t.Errorf("Logs=%q, want %q", got, want)
	}
}

func TestApplyArtifactNameCannotLeaveStore(t *testing.T) {
	store := t.TempDir()
	work := t.TempDir()
	os.WriteFile(filepath.Join(work, "f"), []byte("x"), 0o644)
	rec := TestRecorder(t, store, "artifacts/r1")
	rec.ApplyLines(strings.NewReader(`{"artifact": "../../escape", "path": "f"}`), work)
	if rec.Err() == nil {
		t.Fatal("an artifact name with a path separator was accepted")
	}
	if _, err := os.Stat(filepath.Join(store, "escape")); err == nil {
		t.Fatal("artifact written outside the run's directory")
	}
}

func ExampleParseLine() {
	for _, line := range []string{
		`{"metric": "pi_estimate", "value": 3.14}`,
		`{"metric": "loss", "value": NaN, "step": 3}`,
		`pi=3.14`,
	} {
		ev, err := ParseLine([]byte(line))
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		fmt.Println(ev.Kind, ev.Name, ev.Value)
	}
	// Output:
	// metric pi_estimate 3.14
	// metric loss NaN
	// error: not valid JSON (invalid character 'p' looking for beginning of value at byte 1)
}
