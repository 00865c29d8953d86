package report

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/metalab-hpc/metalab/params"
)

// The statistics of `metalab summary`, kept as running sums so that a
// store is read once: the mean and the 95% confidence interval of the mean
// (Student's t) of the values of a group, and groups merged exactly.

// welford accumulates a count, a mean and a sum of squared deviations in
// one pass (Welford), and merges with another (Chan et al.).
type welford struct {
	n        int
	mean, m2 float64
}

func (w *welford) add(v float64) {
	w.n++
	d := v - w.mean
	w.mean += d / float64(w.n)
	w.m2 += d * (v - w.mean)
}

func (w *welford) merge(o welford) {
	if o.n == 0 {
		return
	}
	if w.n == 0 {
		*w = o
		return
	}
	n := w.n + o.n
	d := o.mean - w.mean
	w.mean += d * float64(o.n) / float64(n)
	w.m2 += o.m2 + d*d*float64(w.n)*float64(o.n)/float64(n)
	w.n = n
}

// ci is the mean and its 95% confidence interval, as summary gives them:
// no interval for fewer than two values.
func (w welford) ci() (mean, lo, hi float64) {
	if w.n < 2 {
		return w.mean, math.NaN(), math.NaN()
	}
	half := tQuantile975(w.n-1) * math.Sqrt(w.m2/float64(w.n-1)) / math.Sqrt(float64(w.n))
	return w.mean, w.mean - half, w.mean + half
}

// tQuantile975 is the 0.975 quantile of Student's t distribution with df
// degrees of freedom, as summary computes it: exact table values up to 30,
// then the Cornish-Fisher expansion around the normal quantile.
func tQuantile975(df int) float64 {
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

// quantile is the q quantile of sorted values, interpolated linearly.
func quantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	i := int(pos)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (pos-float64(i))*(sorted[i+1]-sorted[i])
}

// finite reports whether v is a number a mean can take.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

// toFloat is a param's value as a number, when it is one.
func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// formatValue is a param's value as results and summary print it.
func formatValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return ""
	}
	b, err := params.Canonical(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// compareValues orders param values: numbers by value before the rest, the
// rest by their text.
func compareValues(a, b any) int {
	af, aNum := toFloat(a)
	bf, bNum := toFloat(b)
	switch {
	case aNum && bNum:
		switch {
		case af < bf:
			return -1
		case af > bf:
			return 1
		}
		return 0
	case aNum:
		return -1
	case bNum:
		return 1
	}
	return strings.Compare(formatValue(a), formatValue(b))
}

// comparePoints orders two runs' params by name, then value: the order of
// `metalab results`.
func comparePoints(a, b params.Point) int {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		av, aok := a[k]
		bv, bok := b[k]
		switch {
		case !aok:
			return -1
		case !bok:
			return 1
		}
		if c := compareValues(av, bv); c != 0 {
			return c
		}
	}
	return 0
}

// sortedKeys is the keys of m, sorted.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// sortedByCount is the keys of counts, the largest count first.
func sortedByCount(counts map[string]int) []string {
	keys := sortedKeys(counts)
	sort.SliceStable(keys, func(i, j int) bool { return counts[keys[i]] > counts[keys[j]] })
	return keys
}

// shorten cuts s to n bytes with "..." at a rune boundary, newlines and
// tabs written as \n and \t.
func shorten(s string, n int) string {
	s = strings.NewReplacer("\n", `\n`, "\t", `\t`).Replace(s)
	if len(s) > n {
		cut := n - 3
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}

// lastBytes is the end of s, at most n bytes, cut at a rune boundary.
func lastBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[len(s)-n:], "")
}

// ref is an experiment version as the commands name it.
func ref(name, version string) string {
	if version == "" {
		return name
	}
	return name + "@" + version
}

// sampler keeps an even sample of at most max of the items offered, in
// the order offered, without knowing how many will come: every stride-th
// item, the stride doubling (and every other kept item dropped) whenever
// 2 max are kept.
type sampler[T any] struct {
	max, stride, seen int
	kept              []T
}

func newSampler[T any](max int) *sampler[T] { return &sampler[T]{max: max, stride: 1} }

// offer keeps the item that make makes, if it falls on the stride; make is
// not called otherwise.
func (s *sampler[T]) offer(make func() T) {
	if s.seen%s.stride == 0 {
		s.kept = append(s.kept, make())
		if len(s.kept) >= 2*s.max {
			for i := range len(s.kept) / 2 {
				s.kept[i] = s.kept[2*i]
			}
			clear(s.kept[len(s.kept)/2:])
			s.kept = s.kept[:len(s.kept)/2]
			s.stride *= 2
		}
	}
	s.seen++
}

// sample is at most n of the kept items, evenly spread.
func (s *sampler[T]) sample(n int) []T {
	n = min(n, s.max)
	if len(s.kept) <= n {
		return s.kept
	}
	out := make([]T, n)
	for i := range n {
		out[i] = s.kept[i*len(s.kept)/n]
	}
	return out
}
