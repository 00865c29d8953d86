package shard

import (
	"fmt"
	"math/bits"
	"slices"
	"sort"
	"strconv"
)

// seq is an ordered sequence of non-negative ints held as maximal stretches
// of consecutive ascending values, so that a contiguous million indexes take
// one stretch instead of eight megabytes.
type seq struct {
	// stretch i holds the values first, first+1, ... at the positions
	// pos ... stretches[i+1].pos-1 (or n-1 for the last one).
	stretches []stretch
	n         int // number of values
	max       int // largest value, -1 when empty
}

type stretch struct{ first, pos int }

func newSeq() seq { return seq{max: -1} }

// appendRange appends the values lo..hi (inclusive, 0 <= lo <= hi).
func (s *seq) appendRange(lo, hi int) {
	if k := len(s.stretches); k > 0 {
		last := s.stretches[k-1]
		if last.first+(s.n-last.pos) == lo {
			s.n += hi - lo + 1
			s.max = max(s.max, hi)
			return
		}
	}
	s.stretches = append(s.stretches, stretch{first: lo, pos: s.n})
	s.n += hi - lo + 1
	s.max = max(s.max, hi)
}

// end returns the position just past stretch i.
func (s *seq) end(i int) int {
	if i+1 < len(s.stretches) {
		return s.stretches[i+1].pos
	}
	return s.n
}

// find returns the stretch holding position p (0 <= p < n).
func (s *seq) find(p int) int {
	return sort.Search(len(s.stretches), func(i int) bool { return s.stretches[i].pos > p }) - 1
}

// each calls fn with the inclusive value ranges at positions [p, q).
func (s *seq) each(p, q int, fn func(lo, hi int)) {
	if p >= q {
		return
	}
	for i := s.find(p); p < q; i++ {
		st, e := s.stretches[i], min(s.end(i), q)
		lo := st.first + (p - st.pos)
		fn(lo, lo+(e-p)-1)
		p = e
	}
}

// values returns the values at positions [p, q).
func (s *seq) values(p, q int) []int {
	out := make([]int, 0, q-p)
	s.each(p, q, func(lo, hi int) {
		for v := lo; v <= hi; v++ {
			out = append(out, v)
		}
	})
	return out
}

// appendRanges appends the values at positions [p, q) as "a-b,c" to dst.
func (s *seq) appendRanges(dst []byte, p, q int) []byte {
	first := true
	s.each(p, q, func(lo, hi int) {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = strconv.AppendInt(dst, int64(lo), 10)
		if hi > lo {
			dst = append(dst, '-')
			dst = strconv.AppendInt(dst, int64(hi), 10)
		}
	})
	return dst
}

// checkUnique returns an error naming a value that appears twice. It marks
// the values in a bitmap when that is small next to the stretches (at most 64
// bytes a stretch, plus 512 KiB), and sorts the stretches otherwise.
func (s *seq) checkUnique() error {
	if s.n == 0 {
		return nil
	}
	words := s.max/64 + 1
	if words <= 8*len(s.stretches)+1<<16 {
		set := make([]uint64, words)
		for i, st := range s.stretches {
			if v, dup := markRange(set, st.first, st.first+(s.end(i)-st.pos)); dup {
				return fmt.Errorf("shard: index %d appears more than once", v)
			}
		}
		return nil
	}
	type span struct{ lo, hi int } // half-open
	spans := make([]span, len(s.stretches))
	for i, st := range s.stretches {
		spans[i] = span{st.first, st.first + (s.end(i) - st.pos)}
	}
	slices.SortFunc(spans, func(a, b span) int { return a.lo - b.lo })
	for i := 1; i < len(spans); i++ {
		if spans[i].lo < spans[i-1].hi {
			return fmt.Errorf("shard: index %d appears more than once", spans[i].lo)
		}
	}
	return nil
}

// markRange sets the bits [lo, hi) of set, and reports the first one that was
// already set.
func markRange(set []uint64, lo, hi int) (int, bool) {
	for lo < hi {
		w, off := lo>>6, uint(lo&63)
		cnt := uint(min(64-int(off), hi-lo))
		mask := (^uint64(0) >> (64 - cnt)) << off
		if hit := set[w] & mask; hit != 0 {
			return w<<6 + bits.TrailingZeros64(hit), true
		}
		set[w] |= mask
		lo += int(cnt)
	}
	return 0, false
}
