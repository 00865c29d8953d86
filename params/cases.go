package params

import "fmt"

// Cases is a manual list of points, run in order: for sweeps that are not a
// product, such as a handful of configurations from a paper.
type Cases []map[string]any

// Len is the number of cases.
func (c Cases) Len() int { return len(c) }

// At returns a normalised copy of case i; a nil case is the empty point. At
// panics if i is out of range or the case does not normalise (which
// [Cases.Validate] reports).
func (c Cases) At(i int) Point {
	if i < 0 || i >= len(c) {
		panic(fmt.Sprintf("params: case %d out of range [0, %d)", i, len(c)))
	}
	n, err := normalizeMap(c[i], 0)
	if err != nil {
		panic(wrapf(err, "case %d", i).Error())
	}
	return Point(n.(map[string]any))
}

// Spec is {"cases": [case...]} with the cases normalised, in order: unlike a
// grid's axes, the order of cases is the order of the runs.
func (c Cases) Spec() map[string]any {
	list := make([]any, len(c))
	for i, cs := range c {
		n, err := normalizeMap(cs, 0)
		if err != nil {
			n = cs // Validate reports it; Canonical of the spec fails too
		}
		list[i] = n
	}
	return map[string]any{"cases": list}
}

// Validate reports an empty list, a value that does not normalise or encode,
// and two identical cases, which would share their run IDs.
func (c Cases) Validate() error {
	if len(c) == 0 {
		return fmt.Errorf("params: no cases")
	}
	seen := make(map[string]int, len(c))
	for i, cs := range c {
		b, err := Canonical(cs)
		if err != nil {
			for _, k := range sortedKeys(cs) {
				if _, kerr := Canonical(cs[k]); kerr != nil {
					return wrapf(kerr, "case %d param %q", i, k)
				}
			}
			return wrapf(err, "case %d", i)
		}
		if j, dup := seen[string(b)]; dup {
			return fmt.Errorf("params: cases %d and %d are the same point %s", j, i, b)
		}
		seen[string(b)] = i
	}
	return nil
}
