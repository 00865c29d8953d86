package store

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
)

// wantKeys decodes line with encoding/json into what ScanRecordKeys
// returns, names sorted.
func wantKeys(t *testing.T, line string) string {
	t.Helper()
	var r struct {
		RunID      string `json:"run_id"`
		Code       string
		Status     Status
		Experiment string
		Version    string
		Params     map[string]any
		Metrics    map[string]any
	}
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		t.Fatal(err)
	}
	return keysString(RecordKeys{RunID: r.RunID, Code: r.Code, Status: r.Status, Experiment: r.Experiment, Version: r.Version,
		Params: slices.Collect(maps.Keys(r.Params)), Metrics: slices.Collect(maps.Keys(r.Metrics))})
}

// keysString writes k with its names sorted: the scanner keeps the order
// of the line, encoding/json's maps have none.
func keysString(k RecordKeys) string {
	sorted := func(s []string) string { s = slices.Clone(s); slices.Sort(s); return strings.Join(s, ",") }
	return "run=" + k.RunID + " code=" + k.Code + " " + string(k.Status) + " experiment=" + k.Experiment + "@" + k.Version +
		" params=" + sorted(k.Params) + " metrics=" + sorted(k.Metrics)
}

func TestScanRecordKeys(t *testing.T) {
	tests := []string{
		`{"status":"completed","params":{"a":1,"b\"c":[1,{"x":"}"}]},"metrics":{"m":null,"n":2.5e-3}}`,
		`{ "params" : { } , "status" : "failed" , "metrics" : null }`,
		`{"v":1,"params":{"s":"a\\\"b","t":true},"data":{"params":{"no":1}},"status":"running"}`,
		`{"status":"completed","params":{"\u00fc":1}}`,
		`{"experiment":"gr\"ow","version":"1","status":"completed","params":{"experiment":"x"},"data":{"version":"2"}}`,
		`{"experiment":"","version":"","status":"completed"}`,
		`{"run_id":"00112233445566ff","code":"a1b2c3d4e5f6","status":"completed","data":{"code":"no","run_id":"no"}}`,
	}
	for _, line := range tests {
		want := wantKeys(t, line)
		k, ok := scanRecordKeys([]byte(line))
		if !ok {
			t.Errorf("scanRecordKeys(%s) failed", line)
		} else if got := keysString(k); got != want {
			t.Errorf("scanRecordKeys(%s)=%s, want %s", line, got, want)
		}
		k, err := ScanRecordKeys([]byte(line))
		if err != nil {
			t.Errorf("ScanRecordKeys(%s): %v", line, err)
		} else if got := keysString(k); got != want {
			t.Errorf("ScanRecordKeys(%s)=%s, want %s", line, got, want)
		}
	}
	for _, bad := range []string{`{"status":"completed","params":{"a":1`, `[1]`, `{"params":{"a" 1}}`} {
		if _, ok := scanRecordKeys([]byte(bad)); ok {
			t.Errorf("scanRecordKeys(%s) ok, want a failure", bad)
		}
		if k, err := ScanRecordKeys([]byte(bad)); err == nil {
			t.Errorf("ScanRecordKeys(%s)=%s, want an error", bad, keysString(k))
		}
	}
}

// TestScanRecordKeysOfRecords scans the lines that Writer.Append writes
// (both of its encoders) and compares with encoding/json.
func TestScanRecordKeysOfRecords(t *testing.T) {
	for _, r := range encodeCases() {
		lines := []string{string(jsonLine(t, r))}
		if b, ok := appendRecord(nil, r); ok {
			lines = append(lines, string(b))
		}
		for _, line := range lines {
			k, ok := scanRecordKeys([]byte(line))
			if !ok {
				t.Errorf("scanRecordKeys(%s) failed", line)
				continue
			}
			if got, want := keysString(k), wantKeys(t, line); got != want {
				t.Errorf("scanRecordKeys(%s)=%s, want %s", line, got, want)
			}
		}
	}
}
