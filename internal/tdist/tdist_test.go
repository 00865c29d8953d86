package tdist

import (
	"math"
	"testing"
)

func TestQuantile975(t *testing.T) {
	// Reference values of t(0.975, df) from the statistical tables.
	for _, tt := range []struct {
		df   int
		want float64
	}{{1, 12.7062}, {2, 4.3027}, {10, 2.2281}, {30, 2.0423}, {31, 2.0395}, {60, 2.0003}, {120, 1.9799}, {100000, 1.96}} {
		if got := Quantile975(tt.df); math.Abs(got-tt.want) > 1e-3 {
			t.Errorf("Quantile975(%d) = %.5f, want %.4f", tt.df, got, tt.want)
		}
	}
	if !math.IsNaN(Quantile975(0)) {
		t.Errorf("Quantile975(0) is not NaN")
	}
}
