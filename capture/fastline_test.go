package capture

import (
	"reflect"
	"testing"
)

// fastLineCases are metric lines and near misses of the fast path.
var fastLineCases = []string{
	`{"metric": "loss", "value": 0.5}`,
	`{"metric": "loss", "value": 0.5, "step": 3}`,
	`{"metric":"x","value":-1e-7,"step":-2}`,
	` { "metric" : "acc" , "value" : 1E+3 } `,
	"{\"metric\": \"x\", \"value\": 2}\r\n",
	`{"metric": "NaN", "value": 0}`,
	`{"metric": "x", "value": 1e400}`,
	`{"metric": "x", "value": NaN}`,
	`{"metric": "x", "value": Infinity}`,
	`{"metric": "x", "value": -Infinity}`,
	`{"metric": "x", "value": 01}`,
	`{"metric": "x", "value": 1.}`,
	`{"metric": "x", "value": .5}`,
	`{"metric": "x", "value": +1}`,
	`{"metric": "x", "value": 1e}`,
	`{"metric": "x", "value": "1"}`,
	`{"metric": "x", "value": null}`,
	`{"metric": "x", "value": 1, "step": 1.0}`,
	`{"metric": "x", "value": 1, "step": 1.5}`,
	`{"metric": "x", "value": 1, "step": 99999999999999999999}`,
	`{"metric": "x", "value": 1, "stepp": 1}`,
	`{"metric": "x", "value": 1, "value": 2}`,
	`{"metric": "x", "value": 1}}`,
	`{"metric": "x", "value": 1} x`,
	`{"metric": "a\"b", "value": 1}`,
	`{"metric": "a\u0041", "value": 1}`,
	`{"metric": "ünï", "value": 1}`,
	`{"metric": "", "value": 1}`,
	`{"metric": "x"}`,
	`{"value": 1, "metric": "x"}`,
	`{"metric": "x", "value": 1, "data": "y"}`,
	`{"metric": 1, "value": 1}`,
	`{"metric": "x", "value": 1`,
	`{"log": "x"}`,
}

// TestParseMetricLineMatchesParseLine: what the fast path accepts, the full
// parser parses alike.
func TestParseMetricLineMatchesParseLine(t *testing.T) {
	accepted := 0
	for _, line := range fastLineCases {
		got, ok := parseMetricLine([]byte(line))
		if !ok {
			continue
		}
		accepted++
		want, err := parseLine([]byte(line))
		if err != nil {
			t.Errorf("%s: fast path accepts, parseLine fails: %v", line, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: fast path %+v, parseLine %+v", line, got, want)
		}
	}
	if got, want := accepted, 7; got != want {
		t.Errorf("fast path accepted %d lines, want %d", got, want)
	}
}

// FuzzParseMetricLine checks the fast path against the full parser on
// arbitrary lines.
func FuzzParseMetricLine(f *testing.F) {
	for _, s := range fastLineCases {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		got, ok := parseMetricLine(line)
		if !ok {
			return
		}
		want, err := parseLine(line)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: fast path %+v, parseLine %+v, %v", line, got, want, err)
		}
	})
}
