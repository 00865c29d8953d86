package report

import (
	"math"
	"sort"
	"strings"

	"github.com/metalab-hpc/metalab/internal/tdist"
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
	half := tdist.Quantile975(w.n-1) * math.Sqrt(w.m2/float64(w.n-1)) / math.Sqrt(float64(w.n))
	return w.mean, w.mean - half, w.mean + half
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
