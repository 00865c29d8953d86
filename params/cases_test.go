package params

import (
	"math"
	"reflect"
	"testing"
)

func TestCases(t *testing.T) {
	c := Cases{
		{"model": "resnet", "depth": 50},
		{"model": "vit", "patch": uint8(16), "lr": float32(0.5)},
		nil,
	}
	if got, want := c.Len(), 3; got != want {
		t.Fatalf("Len()=%d, want %d", got, want)
	}
	want := []Point{
		{"model": "resnet", "depth": int64(50)},
		{"model": "vit", "patch": int64(16), "lr": 0.5},
		{},
	}
	for i, w := range want {
		if got := c.At(i); !reflect.DeepEqual(got, w) {
			t.Errorf("At(%d)=%#v, want %#v", i, got, w)
		}
	}
	// At returns a copy: mutating it leaves the case alone.
	c.At(0)["depth"] = int64(1)
	if got, want := c[0]["depth"], any(50); got != want {
		t.Errorf("case 0 after mutating At(0): depth=%v, want %v", got, want)
	}
}

func TestCasesSpec(t *testing.T) {
	c := Cases{{"b": 1, "a": 2.0}, {}}
	got, err := Canonical(c.Spec())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(got), `{"cases":[{"a":2.0,"b":1},{}]}`; got != want {
		t.Fatalf("Canonical(Spec())=%s, want %s", got, want)
	}
}

func TestCasesValidate(t *testing.T) {
	tests := []struct {
		name string
		c    Cases
		want string
	}{
		{"valid", Cases{{"a": 1}, {"a": 1.0}, {}}, ""},
		{"one empty case", Cases{{}}, ""},
		{"none", Cases{}, "params: no cases"},
		{"nil", nil, "params: no cases"},
		{"NaN", Cases{{"a": 1}, {"ok": 1, "lr": math.Inf(1)}}, `params: case 1 param "lr": value is NaN/infinite`},
		{"nested NaN", Cases{{"opt": map[string]any{"lr": math.NaN()}}}, `params: case 0 param "opt": value is NaN/infinite (at ["lr"])`},
		{"bad key", Cases{{"\xff": 1}}, `params: case 0: string is not valid UTF-8: "\xff" (at ["\xff"])`},
		{"func", Cases{{"f": func() {}}}, `params: case 0 param "f": unsupported type func(): want a number, string, bool, nil, slice or string-keyed map`},
		{"duplicate", Cases{{"a": 1, "b": "x"}, {"a": 2}, {"b": "x", "a": int64(1)}}, `params: cases 0 and 2 are the same point {"a":1,"b":"x"}`},
		{"duplicate empty", Cases{{}, nil}, `params: cases 0 and 1 are the same point {}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate()
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

func TestCasesAtPanics(t *testing.T) {
	tests := []struct {
		name string
		f    func()
		want string
	}{
		{"past end", func() { Cases{{}}.At(1) }, "params: case 1 out of range [0, 1)"},
		{"bad value", func() { Cases{{"x": math.NaN()}}.At(0) }, `params: case 0: value is NaN/infinite (at ["x"])`},
	}
	for _, tt := range tests {
		if got := panicMessage(tt.f); got != tt.want {
			t.Errorf("%s: panic=%q, want %q", tt.name, got, tt.want)
		}
	}
}
