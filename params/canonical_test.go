package params

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
)

// The expected bytes are the canonical encoding forever: run IDs are hashes
// of it. A change here orphans every stored result, so these cases must only
// ever be added to.
func TestCanonicalGolden(t *testing.T) {
	type named string
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"null", nil, `null`},
		{"true", true, `true`},
		{"false", false, `false`},
		{"int", 1, `1`},
		{"int64", int64(-42), `-42`},
		{"int zero", 0, `0`},
		{"max int64", int64(math.MaxInt64), `9223372036854775807`},
		{"min int64", int64(math.MinInt64), `-9223372036854775808`},
		{"max uint32", uint32(math.MaxUint32), `4294967295`},
		{"uint64 in range", uint64(math.MaxInt64), `9223372036854775807`},
		{"float one", 1.0, `1.0`},
		{"float negative integral", -3.0, `-3.0`},
		{"float zero", 0.0, `0.0`},
		{"float negative zero", math.Copysign(0, -1), `0.0`},
		{"float 0.1", 0.1, `0.1`},
		{"float 1.5", 1.5, `1.5`},
		{"float 1e-4", 1e-4, `0.0001`},
		{"float 1e-5", 1e-5, `1e-05`},
		{"float 1e-7", 1e-7, `1e-07`},
		{"float 1.5e-7", 1.5e-7, `1.5e-07`},
		{"float 100000", 100000.0, `100000.0`},
		{"float 999999", 999999.0, `999999.0`},
		{"float 1e6", 1e6, `1e+06`},
		{"float 1234567", 1234567.0, `1.234567e+06`},
		{"float 1e21", 1e21, `1e+21`},
		{"float 2^53", 9007199254740992.0, `9.007199254740992e+15`},
		{"float max", math.MaxFloat64, `1.7976931348623157e+308`},
		{"float smallest denormal", 5e-324, `5e-324`},
		{"float third", 1.0 / 3, `0.3333333333333333`},
		{"float32 0.1", float32(0.1), `0.1`},
		{"float32 one", float32(1), `1.0`},
		{"json.Number int", json.Number("12"), `12`},
		{"json.Number float", json.Number("12.0"), `12.0`},
		{"json.Number exponent", json.Number("1E2"), `100.0`},
		{"empty string", "", `""`},
		{"plain string", "adam", `"adam"`},
		{"named string", named("sgd"), `"sgd"`},
		{"quote and backslash", `a"b\c`, `"a\"b\\c"`},
		{"html stays literal", "<a href='x'>&amp;</a>", `"<a href='x'>&amp;</a>"`},
		{"shell syntax", "$(rm -rf ~) `id` ${HOME}", "\"$(rm -rf ~) `id` ${HOME}\""},
		{"named controls", "\b\f\n\r\t", `"\b\f\n\r\t"`},
		{"other controls", "\x00\x01\x1f", `"\u0000\u0001\u001f"`},
		{"DEL stays literal", "\x7f", "\"\x7f\""},
		{"non-ASCII literal", "ü→日本 😀", `"ü→日本 😀"`},
		{"line separators escaped", "a\u2028b\u2029c", `"a\u2028b\u2029c"`},
		{"empty list", []any{}, `[]`},
		{"nil slice", []int(nil), `[]`},
		{"list", []any{1, 2.0, "x", true, nil}, `[1,2.0,"x",true,null]`},
		{"typed list", []float64{0.5, 1}, `[0.5,1.0]`},
		{"byte slice is a list", []byte("hi"), `[104,105]`},
		{"array", [2]int{3, 4}, `[3,4]`},
		{"empty map", map[string]any{}, `{}`},
		{"nil Point", Point(nil), `{}`},
		{"keys sorted bytewise", map[string]any{"b": 1, "a": 2, "B": 3, "aa": 4, "": 5}, `{"":5,"B":3,"a":2,"aa":4,"b":1}`},
		{"keys sorted by UTF-8 bytes", map[string]any{"é": 1, "z": 2, "😀": 3, "\uffff": 4}, "{\"z\":2,\"é\":1,\"\uffff\":4,\"😀\":3}"},
		{"key escaped", map[string]any{"a\"\n": 1}, `{"a\"\n":1}`},
		{"typed map", map[string]int{"y": 2, "x": 1}, `{"x":1,"y":2}`},
		{"nested", Point{"opt": map[string]any{"lr": 1e-3, "betas": []any{0.9, 0.999}}, "layers": []int{64, 64}},
			`{"layers":[64,64],"opt":{"betas":[0.9,0.999],"lr":0.001}}`},
		{"point", Point{"n_samples": int64(1000), "method": "mc", "lr": 0.01},
			`{"lr":0.01,"method":"mc","n_samples":1000}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Canonical(tt.v)
			if err != nil {
				t.Fatalf("Canonical(%#v): %v", tt.v, err)
			}
			if string(got) != tt.want {
				t.Fatalf("Canonical(%#v)=%s, want %s", tt.v, got, tt.want)
			}
			// Canonical normalises first, so the normalised value must
			// encode the same.
			n, err := Normalize(tt.v)
			if err != nil {
				t.Fatalf("Normalize(%#v): %v", tt.v, err)
			}
			if got2, _ := Canonical(n); string(got2) != tt.want {
				t.Fatalf("Canonical(Normalize(%#v))=%s, want %s", tt.v, got2, tt.want)
			}
			if !json.Valid(got) {
				t.Fatalf("Canonical(%#v)=%s is not valid JSON", tt.v, got)
			}
		})
	}
}

func TestCanonicalManyKeys(t *testing.T) {
	// More keys than appendMap sorts on the stack.
	m := map[string]any{}
	var want strings.Builder
	want.WriteString("{")
	for i := range 40 {
		k := fmt.Sprintf("k%02d", i)
		m[k] = i
		if i > 0 {
			want.WriteString(",")
		}
		fmt.Fprintf(&want, "%q:%d", k, i)
	}
	want.WriteString("}")
	got, err := Canonical(m)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(got), want.String(); got != want {
		t.Fatalf("Canonical(40 keys)=%s, want %s", got, want)
	}
}

func TestCanonicalErrors(t *testing.T) {
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"NaN", math.NaN(), `params: value is NaN/infinite`},
		{"+Inf", math.Inf(1), `params: value is NaN/infinite`},
		{"-Inf in list", []any{1, math.Inf(-1)}, `params: value is NaN/infinite (at [1])`},
		{"NaN float32", float32(math.NaN()), `params: value is NaN/infinite`},
		{"NaN nested", Point{"a": map[string]any{"b": []any{math.NaN()}}}, `params: value is NaN/infinite (at ["a"]["b"][0])`},
		{"invalid UTF-8", "a\xffb", `params: string is not valid UTF-8: "a\xffb"`},
		{"invalid UTF-8 key", map[string]any{"\xfe": 1}, `params: string is not valid UTF-8: "\xfe" (at ["\xfe"])`},
		{"struct", struct{ X int }{1}, `params: unsupported type struct { X int }: want a number, string, bool, nil, slice or string-keyed map`},
		{"uint64 overflow", uint64(math.MaxUint64), `params: integer 18446744073709551615 overflows int64`},
		{"cycle", cyclic, `params: value nested deeper than 1000 levels (does it contain itself?)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("prefix")
			got, err := AppendCanonical(dst, tt.v)
			if err == nil {
				t.Fatalf("AppendCanonical(%v)=%s, want error", tt.name, got)
			}
			if got, want := err.Error(), tt.want; !strings.HasPrefix(got, want) {
				t.Fatalf("error=%q, want prefix %q", got, want)
			}
			if got, want := string(got), "prefix"; got != want {
				t.Fatalf("AppendCanonical on error returned %q, want dst unchanged %q", got, want)
			}
		})
	}
}

func TestAppendCanonicalAppends(t *testing.T) {
	got, err := AppendCanonical([]byte(`{"params":`), Point{"a": 1})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(got), `{"params":{"a":1}`; got != want {
		t.Fatalf("AppendCanonical=%s, want %s", got, want)
	}
}

func TestAppendCanonicalAllocs(t *testing.T) {
	p := benchPoint()
	buf := make([]byte, 0, 256)
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		if buf, err = AppendCanonical(buf[:0], p); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("AppendCanonical(3-key point) allocates %v times, want 0", allocs)
	}
}

func benchPoint() Point {
	return Point{"lr": 0.001, "method": "adam", "n_samples": int64(100000)}
}

func BenchmarkCanonicalPoint(b *testing.B) {
	p := benchPoint()
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendCanonical(buf[:0], p); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzCanonical checks that the canonical encoding of a decoded JSON document
// is valid JSON, decodes to the same normalised value and re-encodes to the
// same bytes.
func FuzzCanonical(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":1.0,"c":"x\u2028y","d":[null,true,false,-0.0,1e21,1E-7]}`,
		`{"nested":{"z":[{"y":[]}],"a":{}}}`,
		`{"s":"<&>\u0000\t\\\"","big":9223372036854775807,"f":5e-324}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var p Point
		if err := p.UnmarshalJSON([]byte(s)); err != nil {
			return
		}
		b, err := Canonical(p)
		if err != nil {
			return // invalid UTF-8 that encoding/json let through
		}
		if !json.Valid(b) {
			t.Fatalf("Canonical=%s is not valid JSON", b)
		}
		var q Point
		if err := q.UnmarshalJSON(b); err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
		b2, err := Canonical(q)
		if err != nil {
			t.Fatal(err)
		}
		if string(b2) != string(b) {
			t.Fatalf("re-encoding changed %s to %s", b, b2)
		}
	})
}
