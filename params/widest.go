package params

import "math"

// widestNumber is a number whose canonical form is as long as any float's:
// a negative one with 17 significant digits and a three-digit exponent.
const widestNumber = -1.2345678901234567e-300

// Widest returns a point that holds, for each param name src can produce,
// the value with the longest canonical encoding that src can give it: each
// axis's longest value for a grid, each name's longest value in any case
// for cases, a choice's longest value or the longest form of a number for
// a random search. No point of src is longer, param by param, so a limit on
// the size of a point (such as the environment a command's run gets) that
// Widest's point meets, every point meets. src must be valid.
func Widest(src Source) Point {
	out := Point{}
	keep := func(name string, v any) {
		if old, ok := out[name]; !ok || encodedLen(v) > encodedLen(old) {
			out[name] = v
		}
	}
	switch s := src.(type) {
	case Grid:
		for name, values := range s {
			for _, v := range values {
				if n, err := Normalize(v); err == nil {
					keep(name, n)
				}
			}
		}
	case Cases:
		for i := range s {
			for name, v := range s.At(i) {
				keep(name, v)
			}
		}
	case Random:
		for name, d := range s.Space {
			switch d := d.(type) {
			case choice:
				for _, v := range d.values {
					keep(name, v)
				}
			case logUniformInt, randInt:
				keep(name, int64(math.MinInt64))
			default:
				keep(name, widestNumber)
			}
		}
	default:
		for i := range src.Len() {
			for name, v := range src.At(i) {
				keep(name, v)
			}
		}
	}
	return out
}

func encodedLen(v any) int {
	b, err := Canonical(v)
	if err != nil {
		return 0
	}
	return len(b)
}
