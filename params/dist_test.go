package params

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

const draws = 10000

func newRand() *rand.Rand { return rand.New(rand.NewPCG(1, 2)) }

// edgeSource returns first, then ordinary random words (which the rejection
// in boundedUint64 may need), to drive a distribution to the edge of its
// range.
type edgeSource struct {
	first uint64
	used  bool
	rest  *rand.PCG
}

func (s *edgeSource) Uint64() uint64 {
	if !s.used {
		s.used = true
		return s.first
	}
	return s.rest.Uint64()
}

func edge(first uint64) *rand.Rand {
	return rand.New(&edgeSource{first: first, rest: rand.NewPCG(5, 6)})
}

func TestDistBounds(t *testing.T) {
	tests := []struct {
		name   string
		d      Dist
		lo, hi float64
		hiIncl bool
		isInt  bool
	}{
		{"uniform", Uniform(-2, 3), -2, 3, false, false},
		{"uniform tiny range", Uniform(1, math.Nextafter(1, 2)), 1, math.Nextafter(1, 2), false, false},
		{"loguniform", LogUniform(1e-4, 0.1), 1e-4, 0.1, false, false},
		{"loguniform narrow", LogUniform(1, math.Nextafter(1, 2)), 1, math.Nextafter(1, 2), false, false},
		{"loguniform_int", LogUniformInt(1, 100), 1, 100, true, true},
		{"loguniform_int single", LogUniformInt(7, 7), 7, 7, true, true},
		{"loguniform_int huge", LogUniformInt(1<<62, math.MaxInt64), 1 << 62, math.MaxInt64, true, true},
		{"randint", RandInt(-3, 3), -3, 3, true, true},
		{"randint single", RandInt(5, 5), 5, 5, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.d.Validate(); err != nil {
				t.Fatal(err)
			}
			check := func(v any) {
				t.Helper()
				var f float64
				switch x := v.(type) {
				case int64:
					if !tt.isInt {
						t.Fatalf("Sample()=%v is an int, want a float", v)
					}
					f = float64(x)
				case float64:
					if tt.isInt {
						t.Fatalf("Sample()=%v is a float, want an int", v)
					}
					f = x
				default:
					t.Fatalf("Sample()=%#v, want a number", v)
				}
				if f < tt.lo || f > tt.hi || (f == tt.hi && !tt.hiIncl) {
					t.Fatalf("Sample()=%v outside [%v, %v%s", v, tt.lo, tt.hi, map[bool]string{true: "]", false: ")"}[tt.hiIncl])
				}
			}
			r := newRand()
			for range draws {
				check(tt.d.Sample(r))
			}
			// The extreme words: all zeros and all ones.
			check(tt.d.Sample(edge(0)))
			check(tt.d.Sample(edge(math.MaxUint64)))
		})
	}
}

func TestRandIntExtremes(t *testing.T) {
	if got, want := RandInt(5, 5).Sample(newRand()), int64(5); got != want {
		t.Fatalf("RandInt(5, 5)=%v, want %v", got, want)
	}
	full := RandInt(math.MinInt64, math.MaxInt64)
	if got, want := full.Sample(edge(0)), int64(math.MinInt64); got != want {
		t.Fatalf("RandInt(full range) of word 0=%v, want %v", got, want)
	}
	if got, want := full.Sample(edge(math.MaxUint64)), int64(math.MaxInt64); got != want {
		t.Fatalf("RandInt(full range) of word max=%v, want %v", got, want)
	}
	if got, want := RandInt(math.MaxInt64-1, math.MaxInt64).Sample(edge(math.MaxUint64)), int64(math.MaxInt64); got != want {
		t.Fatalf("RandInt(max-1, max) of word max=%v, want %v", got, want)
	}
}

func TestUniformMean(t *testing.T) {
	r, d := newRand(), Uniform(0, 1)
	var sum float64
	for range draws {
		sum += d.Sample(r).(float64)
	}
	if mean := sum / draws; mean < 0.45 || mean > 0.55 {
		t.Fatalf("mean of %d Uniform(0, 1) draws=%v, want in [0.45, 0.55]", draws, mean)
	}
}

func TestLogUniformMeanOfLog(t *testing.T) {
	r, d := newRand(), LogUniform(1e-4, 1)
	var sum float64
	for range draws {
		sum += math.Log10(d.Sample(r).(float64))
	}
	// log10 is uniform on [-4, 0): mean -2, standard error 0.012.
	if mean := sum / draws; mean < -2.1 || mean > -1.9 {
		t.Fatalf("mean log10 of %d LogUniform(1e-4, 1) draws=%v, want in [-2.1, -1.9]", draws, mean)
	}
}

func TestLogUniformIntFrequencies(t *testing.T) {
	// P(k) = log((k+1)/k) / log(5): 0.431, 0.252, 0.179, 0.139.
	r, d := newRand(), LogUniformInt(1, 4)
	counts := map[int64]int{}
	for range draws {
		counts[d.Sample(r).(int64)]++
	}
	for k := int64(1); k <= 4; k++ {
		want := math.Log(float64(k+1)/float64(k)) / math.Log(5)
		if got := float64(counts[k]) / draws; math.Abs(got-want) > 0.02 {
			t.Errorf("frequency of %d=%.3f, want %.3f±0.02", k, got, want)
		}
	}
	if len(counts) != 4 {
		t.Errorf("drew %v, want only 1..4", counts)
	}
}

func TestRandIntFrequencies(t *testing.T) {
	r, d := newRand(), RandInt(1, 6)
	counts := map[int64]int{}
	for range 6000 {
		counts[d.Sample(r).(int64)]++
	}
	for k := int64(1); k <= 6; k++ {
		if got := counts[k]; got < 850 || got > 1150 {
			t.Errorf("face %d drawn %d of 6000 times, want about 1000", k, got)
		}
	}
	if len(counts) != 6 {
		t.Errorf("drew %v, want only 1..6 (both bounds inclusive)", counts)
	}
}

func TestChoice(t *testing.T) {
	r, d := newRand(), Choice("a", int8(2), 3.0, []int{4})
	counts := map[string]int{}
	for range 4000 {
		b, err := Canonical(d.Sample(r))
		if err != nil {
			t.Fatal(err)
		}
		counts[string(b)]++
	}
	for _, k := range []string{`"a"`, `2`, `3.0`, `[4]`} {
		if got := counts[k]; got < 850 || got > 1150 {
			t.Errorf("%s drawn %d of 4000 times, want about 1000", k, got)
		}
	}
	if len(counts) != 4 {
		t.Errorf("drew %v, want only the four values", counts)
	}
}

func TestChoiceSampleCopies(t *testing.T) {
	d := Choice([]any{1})
	v := d.Sample(newRand()).([]any)
	v[0] = "changed"
	if got, want := d.Sample(newRand()), []any{int64(1)}; !reflect.DeepEqual(got, want) {
		t.Fatalf("Sample() after mutating an earlier sample=%v, want %v", got, want)
	}
}

func TestDistValidate(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	tests := []struct {
		name string
		d    Dist
		want string
	}{
		{"uniform", Uniform(0, 1), ""},
		{"uniform negative", Uniform(-5, -1), ""},
		{"uniform equal", Uniform(1, 1), "params: uniform(1, 1): low must be less than high"},
		{"uniform reversed", Uniform(2, 1), "params: uniform(2, 1): low must be less than high"},
		{"uniform NaN", Uniform(nan, 1), "params: uniform(NaN, 1): bounds must be finite"},
		{"uniform Inf", Uniform(0, inf), "params: uniform(0, +Inf): bounds must be finite"},
		{"uniform too wide", Uniform(-math.MaxFloat64, math.MaxFloat64), "params: uniform(-1.7976931348623157e+308, 1.7976931348623157e+308): range overflows float64"},
		{"loguniform", LogUniform(1e-4, 0.1), ""},
		{"loguniform zero", LogUniform(0, 1), "params: loguniform(0, 1): low must be positive"},
		{"loguniform negative", LogUniform(-1, 1), "params: loguniform(-1, 1): low must be positive"},
		{"loguniform reversed", LogUniform(0.1, 1e-4), "params: loguniform(0.1, 0.0001): low must be less than high"},
		{"loguniform equal", LogUniform(1, 1), "params: loguniform(1, 1): low must be less than high"},
		{"loguniform Inf", LogUniform(1, inf), "params: loguniform(1, +Inf): bounds must be finite"},
		{"loguniform_int", LogUniformInt(1, 1024), ""},
		{"loguniform_int equal", LogUniformInt(8, 8), ""},
		{"loguniform_int zero", LogUniformInt(0, 10), "params: loguniform_int(0, 10): low must be at least 1"},
		{"loguniform_int negative", LogUniformInt(-4, 10), "params: loguniform_int(-4, 10): low must be at least 1"},
		{"loguniform_int reversed", LogUniformInt(10, 2), "params: loguniform_int(10, 2): low must not exceed high"},
		{"randint", RandInt(-1, 1), ""},
		{"randint equal", RandInt(3, 3), ""},
		{"randint reversed", RandInt(3, 2), "params: randint(3, 2): low must not exceed high (both are inclusive)"},
		{"choice", Choice("a", 1, nil, []any{}), ""},
		{"choice empty", Choice(), "params: choice has no values"},
		{"choice NaN", Choice(1, nan), "params: choice value 1: value is NaN/infinite"},
		{"choice struct", Choice(struct{}{}), "params: choice value 0: unsupported type struct {}: want a number, string, bool, nil, slice or string-keyed map"},
		{"choice invalid UTF-8", Choice("ok", "\xff"), `params: choice value 1: string is not valid UTF-8: "\xff"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.d.Validate()
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

func TestBoundedUint64(t *testing.T) {
	// n = 3 leaves a bias threshold of 1, so the word 0 is rejected and
	// the next word used: boundedUint64 never returns a biased value.
	r := newRand()
	for _, n := range []uint64{1, 2, 3, 7, 1 << 63, math.MaxUint64} {
		for range 1000 {
			if got := boundedUint64(r, n); got >= n {
				t.Fatalf("boundedUint64(%d)=%d, want < n", n, got)
			}
		}
	}
}
