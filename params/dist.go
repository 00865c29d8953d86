package params

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
)

// Dist is a distribution for [Random].
//
// The distributions of this package draw only raw 64-bit words from r
// (r.Uint64) and turn them into values with their own arithmetic rather than
// with rand.Rand's Float64 or IntN, so that a draw depends only on the PCG
// algorithm, which is specified, and not on helper methods that a Go release
// may change. See [Random.At].
type Dist interface {
	Sample(r *rand.Rand) any
	Spec() map[string]any
	Validate() error
}

// unitFloat returns a float64 uniform in [0, 1): the top 53 bits of one word,
// scaled (exactly) by 2**-53.
func unitFloat(r *rand.Rand) float64 {
	return float64(r.Uint64()>>11) * 0x1p-53
}

// boundedUint64 returns a uniform integer in [0, n), n > 0, by Lemire's
// multiply-and-reject method ("Fast Random Integer Generation in an
// Interval", 2019), without modulo bias.
func boundedUint64(r *rand.Rand, n uint64) uint64 {
	hi, lo := bits.Mul64(r.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(r.Uint64(), n)
		}
	}
	return hi
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

type uniform struct{ lo, hi float64 }

// Uniform draws a float64 uniformly from [lo, hi), lo < hi.
func Uniform(lo, hi float64) Dist { return uniform{lo, hi} }

func (d uniform) Sample(r *rand.Rand) any {
	// The conversion keeps the compiler from fusing this into an FMA on some
	// machines and not others.
	x := d.lo + float64(unitFloat(r)*(d.hi-d.lo))
	if x >= d.hi { // rounding can reach hi
		x = math.Nextafter(d.hi, d.lo)
	}
	return x
}

func (d uniform) Spec() map[string]any {
	return map[string]any{"dist": "uniform", "low": d.lo, "high": d.hi}
}

func (d uniform) Validate() error {
	switch {
	case !finite(d.lo) || !finite(d.hi):
		return fmt.Errorf("params: uniform(%v, %v): bounds must be finite", d.lo, d.hi)
	case !(d.lo < d.hi):
		return fmt.Errorf("params: uniform(%v, %v): low must be less than high", d.lo, d.hi)
	case !finite(d.hi - d.lo):
		return fmt.Errorf("params: uniform(%v, %v): range overflows float64", d.lo, d.hi)
	}
	return nil
}

type logUniform struct{ lo, hi float64 }

// LogUniform draws a float64 from [lo, hi), 0 < lo < hi, whose logarithm is
// uniform: exp(u) for u uniform in [log lo, log hi). It suits scales such as
// learning rates, where 1e-4..1e-3 deserves as many draws as 1e-2..1e-1.
func LogUniform(lo, hi float64) Dist { return logUniform{lo, hi} }

func (d logUniform) Sample(r *rand.Rand) any {
	a, b := detLog(d.lo), detLog(d.hi)
	x := detExp(a + float64(unitFloat(r)*(b-a)))
	// exp and log round, so clamp to the promised interval.
	if x < d.lo {
		x = d.lo
	}
	if x >= d.hi {
		x = math.Nextafter(d.hi, d.lo)
	}
	return x
}

func (d logUniform) Spec() map[string]any {
	return map[string]any{"dist": "loguniform", "low": d.lo, "high": d.hi}
}

func (d logUniform) Validate() error {
	switch {
	case !finite(d.lo) || !finite(d.hi):
		return fmt.Errorf("params: loguniform(%v, %v): bounds must be finite", d.lo, d.hi)
	case !(d.lo > 0):
		return fmt.Errorf("params: loguniform(%v, %v): low must be positive", d.lo, d.hi)
	case !(d.lo < d.hi):
		return fmt.Errorf("params: loguniform(%v, %v): low must be less than high", d.lo, d.hi)
	}
	return nil
}

type logUniformInt struct{ lo, hi int64 }

// LogUniformInt draws an int64 from [lo, hi], both inclusive, 1 <= lo <= hi,
// log-uniformly: it draws x log-uniformly from the real interval [lo, hi+1)
// and rounds down. Integer k is then drawn with probability
// log((k+1)/k) / log((hi+1)/lo), the mass of [k, k+1), so hi is reachable
// and small values are, as on a log scale, more likely than large ones.
func LogUniformInt(lo, hi int64) Dist { return logUniformInt{lo, hi} }

func (d logUniformInt) Sample(r *rand.Rand) any {
	a, b := detLog(float64(d.lo)), detLog(float64(d.hi)+1)
	x := detExp(a + float64(unitFloat(r)*(b-a)))
	var k int64
	if x >= 0x1p63 { // beyond int64: converting would be undefined
		k = d.hi
	} else {
		k = int64(math.Floor(x))
	}
	return min(max(k, d.lo), d.hi) // exp and log round
}

func (d logUniformInt) Spec() map[string]any {
	return map[string]any{"dist": "loguniform_int", "low": d.lo, "high": d.hi}
}

func (d logUniformInt) Validate() error {
	switch {
	case d.lo < 1:
		return fmt.Errorf("params: loguniform_int(%d, %d): low must be at least 1", d.lo, d.hi)
	case d.lo > d.hi:
		return fmt.Errorf("params: loguniform_int(%d, %d): low must not exceed high", d.lo, d.hi)
	}
	return nil
}

type randInt struct{ lo, hi int64 }

// RandInt draws an int64 uniformly from [lo, hi], lo <= hi. Both bounds are
// inclusive, unlike numpy's randint and Go's IntN, whose high is exclusive:
// RandInt(1, 6) is a die.
func RandInt(lo, hi int64) Dist { return randInt{lo, hi} }

func (d randInt) Sample(r *rand.Rand) any {
	span := uint64(d.hi) - uint64(d.lo) // wraps correctly for any lo <= hi
	var off uint64
	if span == math.MaxUint64 {
		off = r.Uint64() // the whole int64 range: span+1 would overflow
	} else {
		off = boundedUint64(r, span+1)
	}
	return int64(uint64(d.lo) + off)
}

func (d randInt) Spec() map[string]any {
	return map[string]any{"dist": "randint", "low": d.lo, "high": d.hi}
}

func (d randInt) Validate() error {
	if d.lo > d.hi {
		return fmt.Errorf("params: randint(%d, %d): low must not exceed high (both are inclusive)", d.lo, d.hi)
	}
	return nil
}

type choice struct {
	values []any // normalised, unless err is set
	err    error
}

// Choice draws one of values uniformly. Values are normalised when Choice is
// called; one that does not normalise or encode is reported by Validate. A
// value given twice is drawn twice as often, which is a way to weight it.
func Choice(values ...any) Dist {
	norm := make([]any, len(values))
	for i, v := range values {
		n, err := Normalize(v)
		if err == nil {
			_, err = Canonical(n)
		}
		if err != nil {
			return choice{values: values, err: wrapf(err, "choice value %d", i)}
		}
		norm[i] = n
	}
	return choice{values: norm}
}

func (d choice) Sample(r *rand.Rand) any {
	v := d.values[boundedUint64(r, uint64(len(d.values)))]
	n, err := normalize(v, 0) // a copy, so points never share a list or map
	if err != nil {
		return v // Validate reports it; Random.At will panic with it
	}
	return n
}

func (d choice) Spec() map[string]any {
	values := make([]any, len(d.values))
	copy(values, d.values)
	return map[string]any{"dist": "choice", "values": values}
}

func (d choice) Validate() error {
	if d.err != nil {
		return d.err
	}
	if len(d.values) == 0 {
		return fmt.Errorf("params: choice has no values")
	}
	return nil
}
