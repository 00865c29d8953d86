package params

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
)

// SourceFromSpec rebuilds a source from the JSON of its Spec (as
// [Canonical] encodes it): a [Grid], [Random] or [Cases] whose points are
// those of the source that wrote it, in the same order. A SLURM worker runs
// the plan its submission recorded this way, even after the experiment's
// file has grown: the plan indexes of its shard are indexes of the
// submitted plan, not of the current one.
//
// A spec this package did not write (a source of the caller's own) is an
// error.
func SourceFromSpec(spec []byte) (Source, error) {
	var raw map[string]any
	dec := json.NewDecoder(bytes.NewReader(spec))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("params: source spec: %w", err)
	}
	n, err := normalizeMap(raw, 0)
	if err != nil {
		return nil, wrapf(err, "params: source spec")
	}
	m := n.(map[string]any)
	if len(m) != 1 {
		return nil, fmt.Errorf("params: source spec has %d keys, want one of grid, random, cases", len(m))
	}
	switch {
	case m["grid"] != nil:
		axes, ok := m["grid"].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("params: grid spec is not an object")
		}
		g := make(Grid, len(axes))
		for name, v := range axes {
			vals, ok := v.([]any)
			if !ok {
				return nil, fmt.Errorf("params: grid axis %q of the spec is not a list", name)
			}
			g[name] = vals
		}
		return g, nil
	case m["cases"] != nil:
		list, ok := m["cases"].([]any)
		if !ok {
			return nil, fmt.Errorf("params: cases spec is not a list")
		}
		c := make(Cases, len(list))
		for i, v := range list {
			cs, ok := v.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("params: case %d of the spec is not an object", i)
			}
			c[i] = cs
		}
		return c, nil
	case m["random"] != nil:
		return randomFromSpec(m["random"])
	}
	for k := range m {
		return nil, fmt.Errorf("params: source spec %q is not one of grid, random, cases", k)
	}
	return nil, nil // unreachable: m has one key
}

func randomFromSpec(v any) (Source, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("params: random spec is not an object")
	}
	trials, ok1 := m["trials"].(int64)
	seed, ok2 := m["seed"].(int64)
	space, ok3 := m["space"].(map[string]any)
	if !ok1 || !ok2 || !ok3 || trials > math.MaxInt {
		return nil, fmt.Errorf("params: random spec wants integers trials and seed and an object space")
	}
	r := Random{Trials: int(trials), Seed: seed, Space: make(map[string]Dist, len(space))}
	for name, ds := range space {
		d, err := distFromSpec(ds)
		if err != nil {
			return nil, fmt.Errorf("params: random param %q: %w", name, err)
		}
		r.Space[name] = d
	}
	return r, nil
}

// distFromSpec is the inverse of the Spec methods of the distributions of
// this package.
func distFromSpec(v any) (Dist, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("distribution spec is not an object")
	}
	name, _ := m["dist"].(string)
	floats := func() (float64, float64, bool) {
		lo, ok1 := m["low"].(float64)
		hi, ok2 := m["high"].(float64)
		return lo, hi, ok1 && ok2
	}
	ints := func() (int64, int64, bool) {
		lo, ok1 := m["low"].(int64)
		hi, ok2 := m["high"].(int64)
		return lo, hi, ok1 && ok2
	}
	switch name {
	case "uniform":
		if lo, hi, ok := floats(); ok {
			return Uniform(lo, hi), nil
		}
	case "loguniform":
		if lo, hi, ok := floats(); ok {
			return LogUniform(lo, hi), nil
		}
	case "loguniform_int":
		if lo, hi, ok := ints(); ok {
			return LogUniformInt(lo, hi), nil
		}
	case "randint":
		if lo, hi, ok := ints(); ok {
			return RandInt(lo, hi), nil
		}
	case "choice":
		if values, ok := m["values"].([]any); ok {
			return Choice(values...), nil
		}
	default:
		return nil, fmt.Errorf("unknown distribution %q", name)
	}
	return nil, fmt.Errorf("distribution %q: spec %v lacks its bounds or values", name, m)
}
