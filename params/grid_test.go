package params

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestGridOrder(t *testing.T) {
	// Map literal order does not matter: names sort, the last varies fastest.
	g := Grid{"b": {"x", "y", "z"}, "a": {1, 2}}
	want := []Point{
		{"a": int64(1), "b": "x"},
		{"a": int64(1), "b": "y"},
		{"a": int64(1), "b": "z"},
		{"a": int64(2), "b": "x"},
		{"a": int64(2), "b": "y"},
		{"a": int64(2), "b": "z"},
	}
	if got, want := g.Len(), len(want); got != want {
		t.Fatalf("Len()=%d, want %d", got, want)
	}
	for i, w := range want {
		if got := g.At(i); !reflect.DeepEqual(got, w) {
			t.Errorf("At(%d)=%v, want %v", i, got, w)
		}
	}
}

func TestGridLen(t *testing.T) {
	tests := []struct {
		name string
		g    Grid
		want int
	}{
		{"no axes", Grid{}, 1},
		{"nil", nil, 1},
		{"one axis", Grid{"n": {1, 2, 3}}, 3},
		{"three axes", Grid{"a": {1, 2}, "b": {1, 2, 3}, "c": {1, 2, 3, 4, 5}}, 30},
		{"empty axis", Grid{"a": {1, 2}, "b": {}}, 0},
	}
	for _, tt := range tests {
		if got := tt.g.Len(); got != tt.want {
			t.Errorf("%s: Len()=%d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestGridEmptyPoint(t *testing.T) {
	if got := (Grid{}).At(0); got == nil || len(got) != 0 {
		t.Fatalf("Grid{}.At(0)=%#v, want the empty point", got)
	}
}

func TestGridAtMatchesEnumeration(t *testing.T) {
	// Every point of a 3x4x2 grid exactly once, in odometer order.
	g := Grid{"x": {0, 1, 2}, "y": {0, 1, 2, 3}, "z": {0, 1}}
	i := 0
	for x := range 3 {
		for y := range 4 {
			for z := range 2 {
				want := Point{"x": int64(x), "y": int64(y), "z": int64(z)}
				if got := g.At(i); !reflect.DeepEqual(got, want) {
					t.Fatalf("At(%d)=%v, want %v", i, got, want)
				}
				i++
			}
		}
	}
}

func TestGridAtCopies(t *testing.T) {
	g := Grid{"l": {[]any{1}}}
	p := g.At(0)
	p["l"].([]any)[0] = int64(99)
	if got, want := g.At(0)["l"], []any{int64(1)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("At(0) after mutating an earlier point=%v, want %v", got, want)
	}
}

func TestGridAtPanics(t *testing.T) {
	tests := []struct {
		name string
		f    func()
		want string
	}{
		{"negative", func() { Grid{"a": {1}}.At(-1) }, "params: grid point -1 out of range [0, 1)"},
		{"past end", func() { Grid{"a": {1, 2}}.At(2) }, "params: grid point 2 out of range [0, 2)"},
		{"bad value", func() { Grid{"a": {math.NaN()}}.At(0) }, `params: grid axis "a" value 0: value is NaN/infinite`},
	}
	for _, tt := range tests {
		if got := panicMessage(tt.f); got != tt.want {
			t.Errorf("%s: panic=%q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestGridSpec(t *testing.T) {
	g := Grid{"n": {1000, 10000}, "method": {"mc", "qmc"}, "lr": {float32(0.5)}}
	got, err := Canonical(g.Spec())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(got), `{"grid":{"lr":[0.5],"method":["mc","qmc"],"n":[1000,10000]}}`; got != want {
		t.Fatalf("Canonical(Spec())=%s, want %s", got, want)
	}
}

func TestGridValidate(t *testing.T) {
	tests := []struct {
		name string
		g    Grid
		want string // "" for valid
	}{
		{"valid", Grid{"a": {1, 2}, "b": {"x"}}, ""},
		{"no axes", Grid{}, ""},
		{"int and float differ", Grid{"a": {1, 1.0}}, ""},
		{"empty axis", Grid{"a": {1}, "x": {}}, `params: grid axis "x" is empty`},
		{"nil axis", Grid{"x": nil}, `params: grid axis "x" is empty`},
		{"NaN", Grid{"lr": {0.1, math.NaN()}}, `params: grid axis "lr" value 1: value is NaN/infinite`},
		{"struct", Grid{"s": {struct{}{}}}, `params: grid axis "s" value 0: unsupported type struct {}: want a number, string, bool, nil, slice or string-keyed map`},
		{"invalid UTF-8", Grid{"s": {"ok", "\xff"}}, `params: grid axis "s" value 1: string is not valid UTF-8: "\xff"`},
		{"duplicate", Grid{"n": {1, 2, int64(1)}}, `params: grid axis "n" has the value 1 twice (at 0 and 2)`},
		{"duplicate zero", Grid{"f": {0.0, math.Copysign(0, -1)}}, `params: grid axis "f" has the value 0.0 twice (at 0 and 1)`},
		{"duplicate list", Grid{"l": {[]int{1}, []any{1}}}, `params: grid axis "l" has the value [1] twice (at 0 and 1)`},
		{"duplicate string", Grid{"m": {"a", "a"}}, `params: grid axis "m" has the value "a" twice (at 0 and 1)`},
		{"first repeat by position", Grid{"n": {5, 1, 2, 1, 5, 2}}, `params: grid axis "n" has the value 1 twice (at 1 and 3)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.g.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate()=%v, want nil", err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Validate()=%v, want %q", err, tt.want)
			}
		})
	}
}

func TestGridValidateOverflow(t *testing.T) {
	axis := make([]any, 1<<16)
	for i := range axis {
		axis[i] = i
	}
	g := Grid{"a": axis, "b": axis, "c": axis, "d": axis} // 2^64 points
	err := g.Validate()
	if err == nil || !strings.HasPrefix(err.Error(), "params: grid has more than ") {
		t.Fatalf("Validate() of 2^64 points=%v, want overflow error", err)
	}
}
