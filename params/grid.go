package params

import (
	"cmp"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
)

// Grid is the Cartesian product of its axes. Order: axis names sorted
// bytewise; the last name varies fastest (see [Grid.At]).
type Grid map[string][]any

// Len is the number of points: the product of the axis lengths. A grid with
// no axes has one point, the empty one, as the empty product is 1. Len is
// meaningless for a grid that fails [Grid.Validate].
func (g Grid) Len() int {
	n, _ := g.size()
	return n
}

// size reports false if the product overflows int.
func (g Grid) size() (int, bool) {
	n := 1
	for _, vals := range g {
		if len(vals) != 0 && n > math.MaxInt/len(vals) {
			return math.MaxInt, false
		}
		n *= len(vals)
	}
	return n, true
}

// At returns point i without materialising the grid: i is decoded as a
// mixed-radix number whose digits index the axes, axis names sorted bytewise
// and the last name the fastest digit. This is the order of Python's
// itertools.product over the sorted axes, so
//
//	Grid{"a": {1, 2}, "b": {"x", "y", "z"}}
//
// runs a=1 b=x, a=1 b=y, a=1 b=z, a=2 b=x, ...
//
// At panics if i is out of range or a value does not normalise (which
// [Grid.Validate] reports).
func (g Grid) At(i int) Point {
	n := g.Len()
	if i < 0 || i >= n {
		panic(fmt.Sprintf("params: grid point %d out of range [0, %d)", i, n))
	}
	names := sortedKeys(g)
	p := make(Point, len(names))
	for j := len(names) - 1; j >= 0; j-- {
		name, vals := names[j], g[names[j]]
		k := i % len(vals)
		i /= len(vals)
		v, err := normalize(vals[k], 0)
		if err != nil {
			panic(wrapf(err, "grid axis %q value %d", name, k).Error())
		}
		p[name] = v
	}
	return p
}

// Spec is {"grid": {name: [values...]}} with the values normalised. Axis
// order does not matter: the canonical encoding sorts the names.
func (g Grid) Spec() map[string]any {
	axes := make(map[string]any, len(g))
	for name, vals := range g {
		norm := make([]any, len(vals))
		for i, v := range vals {
			n, err := Normalize(v)
			if err != nil {
				n = v // Validate reports it; Canonical of the spec fails too
			}
			norm[i] = n
		}
		axes[name] = norm
	}
	return map[string]any{"grid": axes}
}

// Validate reports an empty axis (which would make the whole grid empty,
// almost certainly by mistake), a value that does not normalise or encode,
// and a value repeated within an axis, which would run the same points twice
// under the same run IDs. Values are compared by canonical encoding, so 1 and
// 1.0 are different values, and 0.0 and -0.0 the same.
//
// It allocates nothing per value (a grid of a million values was 120 MB
// of garbage at the start of a sweep, docs/performance.md): each value is
// encoded into one reused buffer and kept as a hash, and only values whose
// hashes collide are encoded again to be compared.
func (g Grid) Validate() error {
	for _, name := range sortedKeys(g) {
		vals := g[name]
		if len(vals) == 0 {
			return fmt.Errorf("params: grid axis %q is empty", name)
		}
		if err := distinct(name, vals); err != nil {
			return err
		}
	}
	if _, ok := g.size(); !ok {
		return fmt.Errorf("params: grid has more than %d points", math.MaxInt)
	}
	return nil
}

// distinct checks that the values of axis name encode and are distinct
// by their canonical encoding; the error names the first value (by
// position) that repeats an earlier one, and that one.
func distinct(name string, vals []any) error {
	type entry struct {
		h uint64
		i int
	}
	seed := maphash.MakeSeed()
	hashes := make([]entry, len(vals))
	var buf []byte
	for i, v := range vals {
		var err error
		if buf, err = AppendCanonical(buf[:0], v); err != nil {
			return wrapf(err, "grid axis %q value %d", name, i)
		}
		hashes[i] = entry{maphash.Bytes(seed, buf), i}
	}
	slices.SortFunc(hashes, func(a, b entry) int {
		if a.h != b.h {
			return cmp.Compare(a.h, b.h)
		}
		return cmp.Compare(a.i, b.i)
	})
	// Among equal hashes, compare the encodings: the first repeat found
	// in order of position is the one to report.
	first, dupAt := -1, -1
	var a, b []byte
	for s := 0; s < len(hashes); {
		e := s + 1
		for e < len(hashes) && hashes[e].h == hashes[s].h {
			e++
		}
		for k := s + 1; k < e; k++ {
			if dupAt >= 0 && hashes[k].i > dupAt {
				break
			}
			b, _ = AppendCanonical(b[:0], vals[hashes[k].i])
			for j := s; j < k; j++ {
				a, _ = AppendCanonical(a[:0], vals[hashes[j].i])
				if string(a) == string(b) {
					first, dupAt = hashes[j].i, hashes[k].i
					break
				}
			}
		}
		s = e
	}
	if dupAt >= 0 {
		enc, _ := Canonical(vals[dupAt])
		return fmt.Errorf("params: grid axis %q has the value %s twice (at %d and %d)", name, enc, first, dupAt)
	}
	return nil
}
