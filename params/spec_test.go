package params

import (
	"reflect"
	"strings"
	"testing"
)

// TestSourceFromSpec: a source rebuilt from its spec has the same spec and
// the same points in the same order, for every source and distribution of
// this package and every kind of value.
func TestSourceFromSpec(t *testing.T) {
	sources := map[string]Source{
		"grid": Grid{
			"n":     {1, 2, int64(1) << 60},
			"lr":    {0.1, 1.0, 1e-05, 3e+21, -0.0},
			"opt":   {"adam", "sgd \"quoted\" <&>", nil, true},
			"shape": {[]any{1, 2}, map[string]any{"k": 1.5, "l": []any{"x"}}},
		},
		"empty grid": Grid{},
		"cases": Cases{
			{"a": 1, "b": "x"},
			{"a": 2.0, "c": []any{1, map[string]any{}}},
			nil,
		},
		"random": Random{Trials: 25, Seed: -7, Space: map[string]Dist{
			"u":   Uniform(-1, 1),
			"lu":  LogUniform(1e-5, 0.1),
			"lui": LogUniformInt(1, 1000),
			"ri":  RandInt(-3, 3),
			"c":   Choice("a", 2, 2.5, []any{1}, map[string]any{"x": nil}),
		}},
	}
	for name, src := range sources {
		t.Run(name, func(t *testing.T) {
			spec, err := Canonical(src.Spec())
			if err != nil {
				t.Fatal(err)
			}
			got, err := SourceFromSpec(spec)
			if err != nil {
				t.Fatalf("SourceFromSpec(%s): %v", spec, err)
			}
			again, err := Canonical(got.Spec())
			if err != nil {
				t.Fatal(err)
			}
			if string(again) != string(spec) {
				t.Errorf("spec of the rebuilt source:\n%s\nwant\n%s", again, spec)
			}
			if got.Len() != src.Len() {
				t.Fatalf("Len()=%d, want %d", got.Len(), src.Len())
			}
			for i := range src.Len() {
				if a, b := got.At(i), src.At(i); !reflect.DeepEqual(a, b) {
					t.Errorf("At(%d)=%v, want %v", i, a, b)
				}
			}
		})
	}
}

func TestSourceFromSpecErrors(t *testing.T) {
	tests := []struct{ spec, want string }{
		{`nope`, "source spec"},
		{`{}`, "0 keys"},
		{`{"grid":{},"cases":[]}`, "2 keys"},
		{`{"sobol":{}}`, `"sobol" is not one of`},
		{`{"grid":[1]}`, "grid spec is not an object"},
		{`{"grid":{"a":1}}`, `axis "a" of the spec is not a list`},
		{`{"cases":{}}`, "cases spec is not a list"},
		{`{"cases":[1]}`, "case 0 of the spec is not an object"},
		{`{"random":{"trials":2,"seed":1}}`, "random spec wants"},
		{`{"random":{"trials":2,"seed":1,"space":{"x":{"dist":"normal"}}}}`, `random param "x": unknown distribution "normal"`},
		{`{"random":{"trials":2,"seed":1,"space":{"x":{"dist":"uniform","low":1}}}}`, "lacks its bounds"},
		{`{"random":{"trials":2,"seed":1,"space":{"x":{"dist":"randint","low":1.0,"high":2.0}}}}`, "lacks its bounds"},
	}
	for _, tt := range tests {
		_, err := SourceFromSpec([]byte(tt.spec))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("SourceFromSpec(%s)=%v, want an error containing %q", tt.spec, err, tt.want)
		}
	}
}
