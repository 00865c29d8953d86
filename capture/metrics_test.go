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
