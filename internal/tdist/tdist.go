// Package tdist gives the quantile of Student's t distribution that the
// 95% confidence intervals of metalab's summary and report use, so that
// both print the same numbers.
package tdist

import "math"

// Quantile975 is the 0.975 quantile of Student's t distribution with df
// degrees of freedom: exact table values up to 30, then the Cornish-Fisher
// expansion around the normal quantile (error below 1e-4). It is NaN for
// df < 1.
func Quantile975(df int) float64 {
	table := [...]float64{0, 12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622,
		2.2281, 2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930,
		2.0860, 2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423}
	if df < 1 {
		return math.NaN()
	}
	if df < len(table) {
		return table[df]
	}
	z := 1.959963984540054
	n := float64(df)
	g1 := (z*z*z + z) / 4
	g2 := (5*math.Pow(z, 5) + 16*z*z*z + 3*z) / 96
	g3 := (3*math.Pow(z, 7) + 19*math.Pow(z, 5) + 17*z*z*z - 15*z) / 384
	return z + g1/n + g2/(n*n) + g3/(n*n*n)
}
