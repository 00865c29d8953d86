package params

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// TestDecodeFlatAgreesWithDecoder checks the fast path of
// Point.UnmarshalJSON against the full decoder: the same point, or no
// fast path at all.
func TestDecodeFlatAgreesWithDecoder(t *testing.T) {
	tests := []string{
		`{}`, ` { } `, `{"a":1}`, `{"a":1.0,"b":-0.0,"c":1e3,"d":-12,"e":"x y","f":true,"g":false,"h":null}`,
		`{ "a" : 1 , "b" : "ü" }`, `{"a":1,"a":2}`, `{"a":9223372036854775808}`, `{"a":"x\"y"}`,
		`{"a":[1]}`, `{"a":{"b":1}}`, `{"a":1}x`, `{"a":01}`, `{"a":1.}`, `{"a":tru}`, `{"a":truex}`,
		"{\"a\":\"\xff\"}", `{"a\u00fc":1}`, `{"a":1,}`, `{"a":1`, `null`, `[1]`, `{"a":1e400}`,
	}
	for _, in := range tests {
		var want Point
		dec := json.NewDecoder(bytes.NewReader([]byte(in)))
		dec.UseNumber()
		var v any
		wantOK := dec.Decode(&v) == nil && !dec.More()
		if wantOK {
			n, err := Normalize(v)
			m, isMap := n.(map[string]any)
			wantOK = err == nil && isMap
			want = Point(m)
		}
		got, ok := decodeFlat([]byte(in))
		if !ok {
			continue // the full decoder decides
		}
		if !wantOK {
			t.Errorf("decodeFlat(%s) = %v, but the decoder refuses it", in, got)
		} else if !reflect.DeepEqual(got, want) {
			t.Errorf("decodeFlat(%s) = %#v, want %#v", in, got, want)
		}
	}
}
