package store

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/params"
)

// hostile are strings that need escaping, or repair, in JSON.
var hostile = []string{
	"", "plain", `quote " and \ backslash`, "new\nline\r\ttab\b\f", "\x00\x01\x1f\x7f",
	"<html> & 'single'", "ünïcødé ✓ 😀", "line\u2028sep\u2029para", "bad \xff\xfe utf-8", "\xc3",
	`{"json":"inside"}`, "trailing\\",
}

// encodeCases are varied records: every optional field empty, nil, set, and
// set to hostile values.
func encodeCases() []*Record {
	one, neg := 1.5, -2e-9
	code, zero := 3, 0
	started := time.Date(2026, 11, 27, 8, 1, 2, 123456789, time.UTC)
	recs := []*Record{
		{RunID: "a", Status: StatusRunning},
		{RunID: "b", Status: StatusCompleted, Params: params.Point{}, Started: started, Ended: started.Add(time.Second),
			Result: capture.Result{Metrics: capture.Metrics{}, Series: map[string][]capture.Point{}, Data: map[string]json.RawMessage{},
				Artifacts: []capture.Artifact{}, Logs: []string{}, Warnings: []string{}}},
		testRecord(7, StatusCompleted, 3),
		testRecord(8, StatusFailed, 4),
		{
			Format: RecordFormat, RunID: "c", Status: StatusFailed, Experiment: "exp", Version: "v2",
			Params:   params.Point{"lr": 0.001, "n": int64(-5), "big": 1e300, "tiny": 5e-324, "s": "x\ny", "b": true, "nil": nil, "list": []any{int64(1), "two", 3.0, nil}, "map": map[string]any{"k": "v"}},
			SeedBase: -1, Replicate: 9, Seed: math.MaxUint64, Code: "0123456789ab",
			Result: capture.Result{
				Metrics: capture.Metrics{"nan": math.NaN(), "inf": math.Inf(1), "ninf": math.Inf(-1), "zero": 0, "negzero": math.Copysign(0, -1),
					"small": 1e-7, "large": 1e21, "mid": 123456.789, "int": 42, "neg": -0.5},
				Series: map[string][]capture.Point{"loss": {{Step: 0, Value: &one}, {Step: 1}, {Step: -3, Value: &neg}}, "empty": {}, "nil": nil},
				Data:   map[string]json.RawMessage{"obj": json.RawMessage(`{ "a" : [1, 2 ,{"b":null}] }`), "str": json.RawMessage(`"s\u00e9"`), "nil": nil, "num": json.RawMessage(`1e5`)},
				Artifacts: []capture.Artifact{{Name: "m.npz", Path: "artifacts/c/m.npz", Format: "npz", SHA256: strings.Repeat("0f", 32), Size: 1 << 40},
					{Name: "", Path: "", SHA256: ""}},
				Logs:     []string{"log one", ""},
				Warnings: []string{"warn"},
			},
			Error: "boom", Stack: "goroutine 1\n\tmain.go:1", ExitCode: &code, Signal: "SIGKILL", StderrTail: "tail\x00",
			Stdout: &LogRef{File: "logs/w-s0.out", Offset: 10, Length: 0}, Stderr: &LogRef{},
			Started: started, Ended: started.Add(-time.Hour), Host: "node-1", PID: -1, Writer: "w", PeakRSSKB: 1 << 50,
			SlurmJobID: "12", SlurmArrayJobID: "11", SlurmTaskID: "3", SlurmRestart: 2,
		},
		{RunID: "d", Status: StatusCancelled, ExitCode: &zero, Started: time.Date(1, 1, 1, 0, 0, 0, 1, time.FixedZone("x", 3600)),
			Ended: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.FixedZone("y", -5*3600-30*60))},
	}
	for i, s := range hostile {
		r := testRecord(i, StatusCompleted, i+1)
		r.RunID, r.Experiment, r.Version, r.Error, r.Stack, r.Signal, r.StderrTail = s+"id", s, s, s, s, s, s
		r.Host, r.Writer, r.SlurmJobID, r.SlurmArrayJobID, r.SlurmTaskID = s, s, s, s, s
		r.Metrics = capture.Metrics{s + "m": float64(i)}
		r.Series = map[string][]capture.Point{s: {{Step: int64(i)}}}
		r.Data = map[string]json.RawMessage{s: json.RawMessage(`"` + strings.Repeat("\\n", i) + `"`)}
		r.Artifacts = []capture.Artifact{{Name: s, Path: s, Format: s, SHA256: s}}
		r.Logs, r.Warnings = []string{s}, []string{s, s}
		r.Stdout = &LogRef{File: s}
		if s == "" || utf8Valid(s) {
			r.Params = params.Point{s: s}
		}
		recs = append(recs, r)
	}
	return recs
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "?") == s }

// jsonLine is the encoding Append used before appendRecord.
func jsonLine(t *testing.T, r *Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	return buf.Bytes()
}

func TestAppendRecordMatchesJSON(t *testing.T) {
	for i, r := range encodeCases() {
		want := jsonLine(t, r)
		got, ok := appendRecord(nil, r)
		if !ok {
			t.Fatalf("record %d: appendRecord declined", i)
		}
		if !json.Valid(got) || got[len(got)-1] != '\n' || bytes.Count(got, []byte("\n")) != 1 {
			t.Fatalf("record %d: appendRecord()=%s, not one JSON line", i, got)
		}
		// Decoded as generic JSON and as records, both must be equal.
		var gotAny, wantAny any
		if err := json.Unmarshal(got, &gotAny); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(want, &wantAny); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gotAny, wantAny) {
			t.Errorf("record %d: decoded\n got %v\nwant %v", i, gotAny, wantAny)
		}
		gotRec, reason := decodeLine(got)
		wantRec, wantReason := decodeLine(want)
		if reason != wantReason {
			t.Fatalf("record %d: decodeLine reason %q, want %q", i, reason, wantReason)
		}
		if gotRec != nil && encode(t, gotRec) != encode(t, wantRec) {
			t.Errorf("record %d: decoded record\n got %s\nwant %s", i, encode(t, gotRec), encode(t, wantRec))
		}
		// Byte for byte too, but for the HTML escaping that
		// capture.Metrics.MarshalJSON gets from json.Marshal.
		want = []byte(strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(want)))
		if !bytes.Equal(got, want) {
			t.Errorf("record %d: bytes differ\n got %s\nwant %s", i, got, want)
		}
	}
}

// TestAppendRecordDeclines: what encoding/json refuses, appendRecord leaves
// to it, so that Append reports encoding/json's error.
func TestAppendRecordDeclines(t *testing.T) {
	nan := math.NaN()
	for name, r := range map[string]*Record{
		"year 10000":     {RunID: "a", Status: StatusRunning, Started: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
		"negative year":  {RunID: "a", Status: StatusCompleted, Ended: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)},
		"invalid data":   {RunID: "a", Status: StatusRunning, Result: capture.Result{Data: map[string]json.RawMessage{"x": json.RawMessage(`{`)}}},
		"empty data":     {RunID: "a", Status: StatusRunning, Result: capture.Result{Data: map[string]json.RawMessage{"x": {}}}},
		"NaN in series":  {RunID: "a", Status: StatusRunning, Result: capture.Result{Series: map[string][]capture.Point{"x": {{Value: &nan}}}}},
		"invalid params": {RunID: "a", Status: StatusRunning, Params: params.Point{"x": "\xff"}},
	} {
		if _, ok := appendRecord(nil, r); ok {
			t.Errorf("%s: appendRecord()=ok, want declined", name)
		}
		if err := json.NewEncoder(new(bytes.Buffer)).Encode(r); err == nil {
			t.Errorf("%s: encoding/json accepts it; appendRecord need not decline", name)
		}
	}
}
