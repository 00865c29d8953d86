package params

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	type method string
	type level int8
	tests := []struct {
		name string
		v    any
		want any
	}{
		{"nil", nil, nil},
		{"int", 7, int64(7)},
		{"int8", int8(-8), int64(-8)},
		{"int16", int16(16), int64(16)},
		{"int32", int32(32), int64(32)},
		{"int64", int64(64), int64(64)},
		{"uint", uint(1), int64(1)},
		{"uint8", uint8(255), int64(255)},
		{"uint16", uint16(16), int64(16)},
		{"uint32", uint32(32), int64(32)},
		{"uint64 max int64", uint64(math.MaxInt64), int64(math.MaxInt64)},
		{"uintptr", uintptr(3), int64(3)},
		{"named int", level(3), int64(3)},
		{"float64", 0.25, 0.25},
		{"float64 integral stays float", 2.0, 2.0},
		{"float32 via shortest decimal", float32(0.1), 0.1},
		{"float32 large", float32(3e38), 3e38},
		{"string", "x", "x"},
		{"named string", method("sgd"), "sgd"},
		{"string kept exactly", "'\"$(x)`y`\n\tü\x00", "'\"$(x)`y`\n\tü\x00"},
		{"bool", true, true},
		{"json.Number int", json.Number("-12"), int64(-12)},
		{"json.Number zero", json.Number("-0"), int64(0)},
		{"json.Number float", json.Number("1.0"), 1.0},
		{"json.Number exponent", json.Number("1e3"), 1000.0},
		{"json.Number max int64", json.Number("9223372036854775807"), int64(math.MaxInt64)},
		{"[]int", []int{1, 2}, []any{int64(1), int64(2)}},
		{"[]string", []string{"a"}, []any{"a"}},
		{"nil slice", []float64(nil), []any{}},
		{"array", [2]bool{true, false}, []any{true, false}},
		{"[]any mixed", []any{1, 2.5, nil, []int{3}}, []any{int64(1), 2.5, nil, []any{int64(3)}}},
		{"map[string]int", map[string]int{"a": 1}, map[string]any{"a": int64(1)}},
		{"named key map", map[method]float32{"m": 0.5}, map[string]any{"m": 0.5}},
		{"nil map", map[string]any(nil), map[string]any{}},
		{"Point", Point{"n": 3}, map[string]any{"n": int64(3)}},
		{"nested", map[string]any{"a": []any{map[string]int{"b": 1}}}, map[string]any{"a": []any{map[string]any{"b": int64(1)}}}},
		{"[]json.Number", []json.Number{"1", "1.5"}, []any{int64(1), 1.5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize(tt.v)
			if err != nil {
				t.Fatalf("Normalize(%#v): %v", tt.v, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Normalize(%#v)=%#v, want %#v", tt.v, got, tt.want)
			}
		})
	}
}

func TestNormalizeNegativeZero(t *testing.T) {
	for _, v := range []any{math.Copysign(0, -1), float32(math.Copysign(0, -1)), json.Number("-0.0")} {
		got, err := Normalize(v)
		if err != nil {
			t.Fatal(err)
		}
		if f, ok := got.(float64); !ok || f != 0 || math.Signbit(f) {
			t.Fatalf("Normalize(%T -0)=%#v, want +0.0", v, got)
		}
	}
}

func TestNormalizeCopies(t *testing.T) {
	inner := []any{1}
	orig := map[string]any{"l": inner}
	n, err := Normalize(orig)
	if err != nil {
		t.Fatal(err)
	}
	inner[0] = 99
	orig["new"] = 1
	want := map[string]any{"l": []any{int64(1)}}
	if !reflect.DeepEqual(n, want) {
		t.Fatalf("Normalize result changed with its input: %#v, want %#v", n, want)
	}
}

func TestNormalizeErrors(t *testing.T) {
	x := 1
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"NaN", math.NaN(), "params: value is NaN/infinite"},
		{"+Inf", math.Inf(1), "params: value is NaN/infinite"},
		{"-Inf float32", float32(math.Inf(-1)), "params: value is NaN/infinite"},
		{"nested NaN", map[string][]float64{"lr": {1, math.NaN()}}, `params: value is NaN/infinite (at ["lr"][1])`},
		{"uint64 overflow", uint64(1 << 63), "params: integer 9223372036854775808 overflows int64"},
		{"uint overflow", uint(math.MaxUint64), "params: integer 18446744073709551615 overflows int64"},
		{"json.Number overflow", json.Number("9223372036854775808"), "params: integer 9223372036854775808 overflows int64"},
		{"json.Number float overflow", json.Number("1e400"), "params: value is NaN/infinite"},
		{"json.Number garbage", json.Number("abc"), `params: invalid number "abc"`},
		{"json.Number hex float", json.Number("0x1.8p1"), `params: invalid number "0x1.8p1"`},
		{"json.Number Inf", json.Number("Inf"), `params: invalid number "Inf"`},
		{"json.Number plus", json.Number("+1"), `params: invalid number "+1"`},
		{"json.Number leading zero", json.Number("01"), `params: invalid number "01"`},
		{"json.Number bare dot", json.Number("1."), `params: invalid number "1."`},
		{"struct", struct{}{}, "params: unsupported type struct {}: "},
		{"pointer", &x, "params: unsupported type *int: "},
		{"func", func() {}, "params: unsupported type func(): "},
		{"chan in list", []any{1, make(chan int)}, "params: unsupported type chan int: want a number, string, bool, nil, slice or string-keyed map (at [1])"},
		{"int keys", map[int]string{1: "a"}, "params: unsupported type map[int]string: map keys must be strings"},
		{"complex", complex(1, 2), "params: unsupported type complex128: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize(tt.v)
			if err == nil {
				t.Fatalf("Normalize(%v)=%#v, want error", tt.name, got)
			}
			if got, want := err.Error(), tt.want; !strings.HasPrefix(got, want) {
				t.Fatalf("error=%q, want prefix %q", got, want)
			}
		})
	}
}

func TestIsJSONNumber(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{"0", true}, {"-0", true}, {"12", true}, {"1.5", true}, {"-1.5e+10", true},
		{"1E-2", true}, {"0.0", true}, {"", false}, {"-", false}, {"01", false},
		{".5", false}, {"1.", false}, {"1e", false}, {"1e+", false}, {"+1", false},
		{"1_000", false}, {"NaN", false}, {"0x10", false}, {"1 ", false},
	}
	for _, tt := range tests {
		if got := isJSONNumber(tt.s); got != tt.want {
			t.Errorf("isJSONNumber(%q)=%v, want %v", tt.s, got, tt.want)
		}
	}
}
