package params

import (
	"fmt"
	"math/rand/v2"
)

// Random draws Trials points from Space.
type Random struct {
	Trials int
	Seed   int64
	Space  map[string]Dist
}

// Len is Trials.
func (r Random) Len() int { return max(r.Trials, 0) }

// At draws point i. It is random access and the same on every call, process,
// machine and Go release: point i comes from its own generator,
//
//	rand.New(rand.NewPCG(uint64(r.Seed), uint64(i)))
//
// from which the params draw in bytewise order of their names. Point i
// therefore does not depend on Trials (raising Trials extends a sweep rather
// than reshuffling it), but adding a param changes the draws of the params
// whose names sort after it.
//
// At panics if i is out of range or the space is invalid (which
// [Random.Validate] reports).
func (r Random) At(i int) Point {
	if i < 0 || i >= r.Len() {
		panic(fmt.Sprintf("params: random point %d out of range [0, %d)", i, r.Len()))
	}
	rng := rand.New(rand.NewPCG(uint64(r.Seed), uint64(i)))
	names := sortedKeys(r.Space)
	p := make(Point, len(names))
	for _, name := range names {
		d := r.Space[name]
		if d == nil {
			panic(fmt.Sprintf("params: random param %q has no distribution", name))
		}
		v, err := normalize(d.Sample(rng), 0)
		if err != nil {
			panic(wrapf(err, "random param %q", name).Error())
		}
		p[name] = v
	}
	return p
}

// Spec is {"random": {"trials": n, "seed": s, "space": {name: dist spec}}}.
func (r Random) Spec() map[string]any {
	space := make(map[string]any, len(r.Space))
	for name, d := range r.Space {
		if d == nil {
			space[name] = nil
			continue
		}
		space[name] = d.Spec()
	}
	return map[string]any{"random": map[string]any{
		"trials": int64(r.Trials),
		"seed":   r.Seed,
		"space":  space,
	}}
}

// Validate reports fewer than one trial, an empty space, and an invalid
// distribution, naming its param.
func (r Random) Validate() error {
	if r.Trials < 1 {
		return fmt.Errorf("params: random search has %d trials, want at least 1", r.Trials)
	}
	if len(r.Space) == 0 {
		return fmt.Errorf("params: random search has an empty space")
	}
	for _, name := range sortedKeys(r.Space) {
		d := r.Space[name]
		if d == nil {
			return fmt.Errorf("params: random param %q has no distribution", name)
		}
		if err := d.Validate(); err != nil {
			return wrapf(err, "random param %q", name)
		}
	}
	return nil
}
