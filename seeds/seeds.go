// Package seeds owns metalab's seed discipline: a [Plan] (base seed and
// replicate count) and the per-run [Bundle] from which an operation draws all
// of its randomness.
//
// # Derivation
//
// A bundle derives named sub-seeds exactly as the Python metalab library does,
// so that a sweep moved from Python to Go sees the same random streams:
//
//	Derive(name) = big-endian uint64 of the first 8 bytes of
//	               SHA-256("{base}:{name}:{replicate}")
//	NumpySeed(name) = Derive(name) % 2^32
//
// The default name is "default" ([DefaultName]).
//
// # Common random numbers
//
// A seed does not depend on the run's params: every param point in replicate r
// sees the same streams. Differences between param points within a replicate
// are therefore not blurred by different random draws (the "common random
// numbers" variance-reduction technique). Replicates differ from each other.
package seeds

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strconv"
)

// DefaultName is the sub-seed name used when none is given.
const DefaultName = "default"

// Plan says how many replicates each param point runs and from which base seed
// their bundles derive.
type Plan struct {
	Base       int64 `json:"base"`
	Replicates int   `json:"replicates"`
}

// New returns a plan of replicates bundles derived from base. It mirrors
// Python's metalab.seeds(base=..., replicates=...).
func New(base int64, replicates int) Plan {
	return Plan{Base: base, Replicates: replicates}
}

// Validate reports a plan that cannot produce any run.
func (p Plan) Validate() error {
	if p.Replicates < 1 {
		return fmt.Errorf("seeds: replicates must be at least 1, got %d", p.Replicates)
	}
	return nil
}

// Bundle returns the bundle of replicate r.
func (p Plan) Bundle(r int) Bundle { return Bundle{Base: p.Base, Replicate: r} }

// Bundle is the seed material of one run: the plan's base and the run's
// replicate index.
type Bundle struct {
	Base      int64 `json:"base"`
	Replicate int   `json:"replicate"`
}

// Derive returns the named sub-seed (see the package comment). An empty name
// means [DefaultName].
func (b Bundle) Derive(name string) uint64 {
	if name == "" {
		name = DefaultName
	}
	buf := make([]byte, 0, 64)
	buf = strconv.AppendInt(buf, b.Base, 10)
	buf = append(buf, ':')
	buf = append(buf, name...)
	buf = append(buf, ':')
	buf = strconv.AppendInt(buf, int64(b.Replicate), 10)
	sum := sha256.Sum256(buf)
	return binary.BigEndian.Uint64(sum[:8])
}

// Seed returns Derive("default"), Python's seeds.seed().
func (b Bundle) Seed() uint64 { return b.Derive(DefaultName) }

// NumpySeed returns Derive(name) % 2^32, the seed Python's seeds.numpy(name)
// hands to NumPy. An empty name means [DefaultName].
func (b Bundle) NumpySeed(name string) uint32 { return uint32(b.Derive(name)) }

// Rand returns a math/rand/v2 generator (PCG) seeded from Derive(name); an
// empty name means [DefaultName]. The PCG's second seed word is derived from
// the first with SplitMix64, so the stream is a function of Derive(name) alone.
// Each call returns a fresh generator at the start of its stream.
func (b Bundle) Rand(name string) *rand.Rand {
	s := b.Derive(name)
	return rand.New(rand.NewPCG(s, splitmix64(s)))
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
