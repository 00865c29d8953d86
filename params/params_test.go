package params

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestPointKeys(t *testing.T) {
	p := Point{"n_samples": 1, "method": "mc", "Z": true, "é": 0.5}
	if got, want := p.Keys(), []string{"Z", "method", "n_samples", "é"}; !slices.Equal(got, want) {
		t.Fatalf("Keys()=%q, want %q", got, want)
	}
	if got := Point(nil).Keys(); len(got) != 0 {
		t.Fatalf("nil Point Keys()=%q, want none", got)
	}
}

func TestPointGetters(t *testing.T) {
	p := Point{
		"n":      int64(1000),
		"small":  3, // hand-built, not normalised
		"lr":     0.01,
		"method": "mc",
		"fast":   true,
	}
	if got, want := p.Int("n"), int64(1000); got != want {
		t.Errorf("Int(n)=%d, want %d", got, want)
	}
	if got, want := p.Int("small"), int64(3); got != want {
		t.Errorf("Int(small)=%d, want %d", got, want)
	}
	if got, want := p.Float("lr"), 0.01; got != want {
		t.Errorf("Float(lr)=%v, want %v", got, want)
	}
	if got, want := p.Float("n"), 1000.0; got != want {
		t.Errorf("Float(n)=%v, want %v (ints convert)", got, want)
	}
	if got, want := p.String("method"), "mc"; got != want {
		t.Errorf("String(method)=%q, want %q", got, want)
	}
	if got, want := p.Bool("fast"), true; got != want {
		t.Errorf("Bool(fast)=%v, want %v", got, want)
	}
}

func TestPointGetterPanics(t *testing.T) {
	p := Point{
		"n_samples": "abc",
		"method":    "mc",
		"lr":        0.5,
		"n":         int64(3),
		"three":     3.0,
		"none":      nil,
		"list":      []any{int64(1)},
		"long":      strings.Repeat("x", 100),
		"ch":        make(chan int),
	}
	have := "(have: ch, list, long, lr, method, n, n_samples, none, three)"
	tests := []struct {
		name string
		get  func()
		want string
	}{
		{"Int of string", func() { p.Int("n_samples") }, `params: "n_samples" is a string ("abc"), not an int`},
		{"Int of float", func() { p.Int("three") }, `params: "three" is a float (3.0), not an int`},
		{"Int missing", func() { p.Int("n_sample") }, `params: no param "n_sample" ` + have},
		{"Int of empty point", func() { Point{}.Int("n") }, `params: no param "n" (have: none)`},
		{"Float of string", func() { p.Float("method") }, `params: "method" is a string ("mc"), not a float`},
		{"Float of null", func() { p.Float("none") }, `params: "none" is null, not a float`},
		{"String of int", func() { p.String("n") }, `params: "n" is an int (3), not a string`},
		{"String of list", func() { p.String("list") }, `params: "list" is a list ([1]), not a string`},
		{"Bool of float", func() { p.Bool("lr") }, `params: "lr" is a float (0.5), not a bool`},
		{"Bool missing", func() { p.Bool("fast") }, `params: no param "fast" ` + have},
		{"long value cut", func() { p.Int("long") }, `params: "long" is a string ("` + strings.Repeat("x", 59) + `...), not an int`},
		{"unnormalisable", func() { p.Int("ch") }, `params: "ch" is a chan int (unsupported type chan int: want a number, string, bool, nil, slice or string-keyed map), not an int`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := panicMessage(tt.get), tt.want; got != want {
				t.Fatalf("panic=%q, want %q", got, want)
			}
		})
	}
}

// panicMessage runs f and returns what it panicked with, as the runner would
// report it.
func panicMessage(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	f()
	return "<no panic>"
}

func TestPointJSONRoundTrip(t *testing.T) {
	tests := []Point{
		{},
		{"n": int64(1), "x": 1.0, "neg": int64(-5), "f": -2.5},
		{"max": int64(math.MaxInt64), "min": int64(math.MinInt64)},
		{"tiny": 5e-324, "huge": math.MaxFloat64, "third": 1.0 / 3, "big": 1e21, "small": 1e-7},
		{"s": "<&> \"q\" \\ \n ü \u2028 $(x) `y`", "b": false, "nil": nil},
		{"list": []any{int64(1), 2.0, "3", []any{}, map[string]any{}}, "map": map[string]any{"k": []any{true}}},
	}
	for _, p := range tests {
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("Marshal(%v): %v", p, err)
		}
		var got Point
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("Unmarshal(%s): %v", b, err)
		}
		if !reflect.DeepEqual(got, p) {
			t.Fatalf("round trip of %#v via %s = %#v", p, b, got)
		}
	}
}

func TestPointMarshalJSONIsCanonical(t *testing.T) {
	b, err := Point{"b": 1.0, "a": 1, "c": "<"}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"a":1,"b":1.0,"c":"<"}`; got != want {
		t.Fatalf("MarshalJSON()=%s, want %s", got, want)
	}
	if _, err := (Point{"x": math.NaN()}).MarshalJSON(); err == nil {
		t.Fatal("MarshalJSON of NaN: no error")
	}
}

func TestPointUnmarshalJSON(t *testing.T) {
	tests := []struct {
		in      string
		want    Point
		wantErr string
	}{
		{in: `{"a":1,"b":1.0,"c":1e2,"d":-0.0}`, want: Point{"a": int64(1), "b": 1.0, "c": 100.0, "d": 0.0}},
		{in: ` { "x" : [ 1 , {"y":null} ] } `, want: Point{"x": []any{int64(1), map[string]any{"y": nil}}}},
		{in: `null`, want: nil},
		{in: `[1]`, wantErr: "params: decode point: want a JSON object, got a list"},
		{in: `3`, wantErr: "params: decode point: want a JSON object, got an int"},
		{in: `{"a":1} {}`, wantErr: "params: decode point: data after the JSON object"},
		{in: `{"a":`, wantErr: "params: decode point: unexpected EOF"},
		{in: `{"a":99999999999999999999}`, wantErr: "params: integer 99999999999999999999 overflows int64 (at [\"a\"])"},
	}
	for _, tt := range tests {
		p := Point{"old": 1}
		err := p.UnmarshalJSON([]byte(tt.in))
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("UnmarshalJSON(%s) error=%v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("UnmarshalJSON(%s): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(p, tt.want) {
			t.Errorf("UnmarshalJSON(%s)=%#v, want %#v", tt.in, p, tt.want)
		}
	}
}
