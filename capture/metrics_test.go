package capture

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"
)

// TestDecodeMetricsAgreesWithDecoder checks the fast path of
// Metrics.UnmarshalJSON against encoding/json: the same metrics, or no fast
// path at all.
func TestDecodeMetricsAgreesWithDecoder(t *testing.T) {
	tests := []string{
		`{}`, `{"a":1}`, `{"a":null,"b":-1.5e-3,"c":0}`, `{"a":1,"a":2}`, `{ "a":1}`, `{"a":1 }`,
		`{"a\"b":1}`, `{"ü":1}`, `{"a":"1"}`, `{"a":true}`, `{"a":1e400}`, `{"a":[1]}`, `{"a":1,"b":{"c":1}}`,
	}
	for _, in := range tests {
		got, ok := decodeMetrics([]byte(in))
		if !ok {
			continue
		}
		var in2 map[string]*float64
		if err := json.Unmarshal([]byte(in), &in2); err != nil {
			t.Errorf("decodeMetrics(%s) = %v, but encoding/json refuses it: %v", in, got, err)
			continue
		}
		want := Metrics{}
		for k, v := range in2 {
			if v == nil {
				want[k] = math.NaN()
			} else {
				want[k] = *v
			}
		}
		if g, w := fmt.Sprint(got), fmt.Sprint(want); g != w {
			t.Errorf("decodeMetrics(%s) = %s, want %s", in, g, w)
		}
	}
}

// TestStepAnyInteger: Step takes any integer type, and refuses an
// unsigned step that int64 cannot hold rather than store it negative.
func TestStepAnyInteger(t *testing.T) {
	type epoch uint16
	rec := TestRecorder(t, t.TempDir(), "artifacts/r")
	var i int = 1
	var u32 uint32 = 2
	var i8 int8 = -3
	rec.Metric("loss", 0.5, Step(i))
	rec.Metric("loss", 0.4, Step(u32))
	rec.Metric("loss", 0.3, Step(i8))
	rec.Metric("loss", 0.2, Step(epoch(4)))
	rec.Metric("loss", 0.1, Step(5))
	rec.Metric("loss", 0.0, Step(uint64(math.MaxInt64)))
	var steps []int64
	for _, p := range rec.Result().Series["loss"] {
		steps = append(steps, p.Step)
	}
	if got, want := fmt.Sprint(steps), "[1 2 -3 4 5 9223372036854775807]"; got != want {
		t.Errorf("steps %s, want %s", got, want)
	}
	if err := rec.Err(); err != nil {
		t.Fatalf("Err()=%v", err)
	}
	rec.Metric("loss", 0, Step(uint64(math.MaxInt64)+1))
	if got, want := fmt.Sprint(rec.Err()), `invalid capture: metric "loss": step 9223372036854775808 does not fit in an int64`; got != want {
		t.Errorf("Err()=%s, want %s", got, want)
	}
	if got, want := len(rec.Result().Series["loss"]), 6; got != want {
		t.Errorf("%d points, want %d", got, want)
	}
}
