// Package params owns parameter sources (grid, random, manual cases), the
// normalised value model of a param point, and the canonical encoding that
// run IDs and manifests hash.
//
// CONTRACT STUB: the signatures below are fixed; the bodies are being written.
package params

import "math/rand/v2"

// Point is one parameter combination. Values are normalised (see [Normalize]):
// int64, float64, string, bool, nil, []any or map[string]any of those.
type Point map[string]any

// Source is a finite, deterministic, random-access sequence of points.
type Source interface {
	Len() int
	At(i int) Point       // 0 <= i < Len(); same result on every call and process
	Spec() map[string]any // canonical description, hashed into the experiment identity
	Validate() error
}

// Grid is the Cartesian product of its axes. Order: axis names sorted
// bytewise; the last name varies fastest.
type Grid map[string][]any

// Random draws Trials points from Space.
type Random struct {
	Trials int
	Seed   int64
	Space  map[string]Dist
}

// Cases is a manual list of points.
type Cases []map[string]any

// Dist is a distribution for Random.
type Dist interface {
	Sample(r *rand.Rand) any
	Spec() map[string]any
	Validate() error
}

func Uniform(lo, hi float64) Dist                       { panic("stub") }
func LogUniform(lo, hi float64) Dist                    { panic("stub") }
func LogUniformInt(lo, hi int64) Dist                   { panic("stub") }
func RandInt(lo, hi int64) Dist                         { panic("stub") }
func Choice(values ...any) Dist                         { panic("stub") }
func Normalize(v any) (any, error)                      { panic("stub") }
func Canonical(v any) ([]byte, error)                   { panic("stub") }
func AppendCanonical(dst []byte, v any) ([]byte, error) { panic("stub") }

func (g Grid) Len() int               { panic("stub") }
func (g Grid) At(i int) Point         { panic("stub") }
func (g Grid) Spec() map[string]any   { panic("stub") }
func (g Grid) Validate() error        { panic("stub") }
func (r Random) Len() int             { panic("stub") }
func (r Random) At(i int) Point       { panic("stub") }
func (r Random) Spec() map[string]any { panic("stub") }
func (r Random) Validate() error      { panic("stub") }
func (c Cases) Len() int              { panic("stub") }
func (c Cases) At(i int) Point        { panic("stub") }
func (c Cases) Spec() map[string]any  { panic("stub") }
func (c Cases) Validate() error       { panic("stub") }

func (p Point) Keys() []string                { panic("stub") }
func (p Point) Int(name string) int64         { panic("stub") }
func (p Point) Float(name string) float64     { panic("stub") }
func (p Point) String(name string) string     { panic("stub") }
func (p Point) Bool(name string) bool         { panic("stub") }
func (p Point) MarshalJSON() ([]byte, error)  { panic("stub") }
func (p *Point) UnmarshalJSON(b []byte) error { panic("stub") }
