package params

import (
	"strings"
	"testing"
)

func TestWidest(t *testing.T) {
	long := strings.Repeat("x", 1000)
	tests := []struct {
		name string
		src  Source
		want map[string]int // canonical length of each param's value
	}{
		{"grid", Grid{"a": {1, 22, 333}, "s": {"x", long}}, map[string]int{"a": 3, "s": 1002}},
		{"cases", Cases{{"a": 1}, {"a": 12345, "b": "yy"}}, map[string]int{"a": 5, "b": 4}},
		{"random", Random{Trials: 3, Seed: 1, Space: map[string]Dist{
			"c": Choice("a", long), "i": RandInt(0, 10), "f": Uniform(0, 1)}},
			map[string]int{"c": 1002, "i": 20, "f": 24}},
	}
	for _, tt := range tests {
		got := Widest(tt.src)
		if len(got) != len(tt.want) {
			t.Errorf("%s: Widest()=%v, want names %v", tt.name, got, tt.want)
		}
		for name, n := range tt.want {
			if l := encodedLen(got[name]); l != n {
				t.Errorf("%s: Widest()[%q] encodes to %d bytes, want %d", tt.name, name, l, n)
			}
		}
		// No point of the source is wider, param by param.
		for i := range tt.src.Len() {
			for name, v := range tt.src.At(i) {
				if encodedLen(v) > encodedLen(got[name]) {
					t.Errorf("%s: point %d has %s=%v, wider than Widest's %v", tt.name, i, name, v, got[name])
				}
			}
		}
	}
}
