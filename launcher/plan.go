package launcher

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/seeds"
	"github.com/metalab-hpc/metalab/store"
)

// RunSpec is one run of a plan: a param point in one replicate.
type RunSpec struct {
	ID        string
	Point     int // index of the param point in the source
	Replicate int
	Params    params.Point
	Seeds     seeds.Bundle
}

// Plan is an experiment expanded into runs. Runs are ordered point-major:
// run i is point i/replicates in replicate i%replicates. Runs are computed on
// demand, so a plan of millions of runs costs no memory until asked.
type Plan struct {
	exp      *Experiment
	src      params.Source
	ctxFP    string
	manifest store.Manifest
}

// NewPlan validates exp and computes its identity.
func NewPlan(exp *Experiment) (*Plan, error) {
	if err := exp.Validate(); err != nil {
		return nil, err
	}
	fp, err := contextFingerprint(exp.Context)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrInvalidExperiment, exp.Name, err)
	}
	src := exp.source()
	spec := map[string]any{
		"experiment": exp.Name,
		"version":    exp.Version,
		"params":     src.Spec(),
		"seeds":      map[string]any{"base": exp.Seeds.Base, "replicates": exp.Seeds.Replicates},
		"context":    fp,
		"runs":       src.Len() * exp.Seeds.Replicates,
	}
	b, err := params.Canonical(spec)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrInvalidExperiment, exp.Name, err)
	}
	sum := sha256.Sum256(b)
	return &Plan{
		exp:   exp,
		src:   src,
		ctxFP: fp,
		manifest: store.Manifest{
			Experiment: exp.Name,
			Version:    exp.Version,
			Identity:   hex.EncodeToString(sum[:]),
			Spec:       b,
		},
	}, nil
}

// Len is the number of runs: param points times replicates.
func (p *Plan) Len() int { return p.src.Len() * p.exp.Seeds.Replicates }

// Manifest is the store manifest that records this plan's identity.
func (p *Plan) Manifest() store.Manifest { return p.manifest }

// ContextFingerprint is the hash of the experiment context in every run ID.
func (p *Plan) ContextFingerprint() string { return p.ctxFP }

// At returns run i (0 <= i < Len()).
func (p *Plan) At(i int) RunSpec {
	reps := p.exp.Seeds.Replicates
	pt, r := i/reps, i%reps
	point := p.src.At(pt)
	return RunSpec{
		ID:        RunID(p.exp.Name, p.exp.Version, p.ctxFP, point, p.exp.Seeds.Base, r),
		Point:     pt,
		Replicate: r,
		Params:    point,
		Seeds:     p.exp.Seeds.Bundle(r),
	}
}

// RunID returns the deterministic ID of one run: the first 8 bytes, in hex,
// of SHA-256 over the canonical JSON (see [params.Canonical]) of
//
//	{"context":FP,"experiment":NAME,"params":POINT,"replicate":R,"seed_base":BASE,"version":VERSION}
//
// It is the same on every machine, process and Go version.
func RunID(name, version, contextFP string, point params.Point, seedBase int64, replicate int) string {
	buf := make([]byte, 0, 256)
	buf = append(buf, `{"context":`...)
	buf = appendString(buf, contextFP)
	buf = append(buf, `,"experiment":`...)
	buf = appendString(buf, name)
	buf = append(buf, `,"params":`...)
	var err error
	buf, err = params.AppendCanonical(buf, point)
	if err != nil {
		// Points come from a validated source, so this is a programming
		// error, not bad input.
		panic(fmt.Sprintf("launcher: run ID of unencodable point %v: %v", point, err))
	}
	buf = append(buf, `,"replicate":`...)
	buf = strconv.AppendInt(buf, int64(replicate), 10)
	buf = append(buf, `,"seed_base":`...)
	buf = strconv.AppendInt(buf, seedBase, 10)
	buf = append(buf, `,"version":`...)
	buf = appendString(buf, version)
	buf = append(buf, '}')
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:8])
}

func appendString(buf []byte, s string) []byte {
	out, err := params.AppendCanonical(buf, s)
	if err != nil {
		panic(fmt.Sprintf("launcher: cannot encode %q: %v", s, err))
	}
	return out
}
