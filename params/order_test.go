package params

import "testing"

func TestCompareAndFormat(t *testing.T) {
	for _, tt := range []struct {
		a, b any
		want int
	}{
		{int64(2), int64(10), -1},   // by value, not by text
		{float64(2.5), int64(2), 1}, // across int and float
		{int64(3), float64(3), 0},   // equal values
		{int64(100), "abc", -1},     // numbers first
		{"b", int64(1), 1},          // numbers first
		{"b", "a", 1},               // the rest by text
		{true, "true", 0},           // ... as printed
		{[]any{int64(1)}, "[1]", 0}, // lists as canonical JSON
		{nil, "", 0},                // nil prints as ""
	} {
		if got := Compare(tt.a, tt.b); got != tt.want {
			t.Errorf("Compare(%#v, %#v) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := Compare(tt.b, tt.a); got != -tt.want {
			t.Errorf("Compare(%#v, %#v) = %d, want %d (antisymmetric)", tt.b, tt.a, got, -tt.want)
		}
	}
	if got := Format(1e6); got != "1e+06" {
		t.Errorf("Format(1e6) = %q", got)
	}
	if got := Format(map[string]any{"b": int64(1), "a": "x"}); got != `{"a":"x","b":1}` {
		t.Errorf("Format of a map = %q, want canonical JSON", got)
	}
	a, b := Point{"lr": 0.1, "n": int64(10)}, Point{"lr": 0.1, "n": int64(9)}
	if ComparePoints(a, b) != 1 || ComparePoints(b, a) != -1 || ComparePoints(a, a) != 0 {
		t.Errorf("ComparePoints orders n=10 before n=9")
	}
	if ComparePoints(Point{"lr": 0.1}, a) != -1 {
		t.Errorf("a point without a param does not come first")
	}
}
