package params

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// ulps is the distance between a and b in units in the last place.
func ulps(a, b float64) uint64 {
	ia, ib := int64(math.Float64bits(a)), int64(math.Float64bits(b))
	if ia > ib {
		return uint64(ia - ib)
	}
	return uint64(ib - ia)
}

// bigExp is a slow reference for e**x, correctly rounded for all practical
// purposes: the Taylor series of x/2**20 at 300 bits, squared 20 times.
func bigExp(x float64) float64 {
	const prec, halvings = 300, 20
	y := new(big.Float).SetPrec(prec).SetFloat64(math.Ldexp(x, -halvings))
	sum := new(big.Float).SetPrec(prec).SetInt64(1)
	term := new(big.Float).SetPrec(prec).SetInt64(1)
	for n := int64(1); n < 40; n++ {
		term.Mul(term, y)
		term.Quo(term, new(big.Float).SetPrec(prec).SetInt64(n))
		sum.Add(sum, term)
	}
	for range halvings {
		sum.Mul(sum, sum)
	}
	f, _ := sum.Float64()
	return f
}

func TestDetExpAccuracy(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		x := (r.Float64() - 0.5) * 1400 // most of exp's finite range
		if got, want := detExp(x), bigExp(x); ulps(got, want) > 1 {
			t.Fatalf("detExp(%v)=%v, want %v: %d ulps apart", x, got, want, ulps(got, want))
		}
	}
}

func TestDetLogAccuracy(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		y := math.Exp((r.Float64() - 0.5) * 1400)
		if got, want := detLog(y), math.Log(y); ulps(got, want) > 1 {
			t.Fatalf("detLog(%v)=%v, math.Log=%v: %d ulps apart", y, got, want, ulps(got, want))
		}
	}
}

func TestDetExpLogSpecial(t *testing.T) {
	tests := []struct {
		name      string
		got, want float64
	}{
		{"exp(0)", detExp(0), 1},
		{"exp(1)", detExp(1), math.E},
		{"exp(800)", detExp(800), math.Inf(1)},
		{"exp(-800)", detExp(-800), 0},
		{"exp(1e-30)", detExp(1e-30), 1},
		{"log(1)", detLog(1), 0},
		{"log(e)", detLog(math.E), 1},
		{"log(0)", detLog(0), math.Inf(-1)},
		{"log(+Inf)", detLog(math.Inf(1)), math.Inf(1)},
		{"log(denormal)", detLog(5e-324), -744.4400719213812},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s=%v, want %v", tt.name, tt.got, tt.want)
		}
	}
	for _, v := range []float64{detExp(math.NaN()), detLog(math.NaN()), detLog(-1)} {
		if !math.IsNaN(v) {
			t.Errorf("got %v, want NaN", v)
		}
	}
}
