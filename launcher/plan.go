package launcher

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

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
	// ParamsJSON is the canonical JSON of Params, encoded once for the run
	// ID and reused by whoever needs it (a command's $METALAB_PARAMS).
	ParamsJSON []byte
}

// Plan is an experiment expanded into runs. Runs are ordered point-major:
// run i is point i/replicates in replicate i%replicates. Runs are computed on
// demand, so a plan of millions of runs costs no memory until asked.
type Plan struct {
	exp      *Experiment
	src      params.Source
	ctxFP    string
	manifest store.Manifest
	// code fingerprints the operation's code; trackedCode is its
	// fingerprint when it enters the run IDs (Experiment.TrackCode), else
	// "".
	code        store.Code
	trackedCode string

	idsOnce sync.Once
	ids     *gridIDs // nil: compute IDs through At
}

// NewPlan validates exp and computes its identity.
func NewPlan(exp *Experiment) (*Plan, error) {
	if err := exp.Validate(); err != nil {
		return nil, err
	}
	fp, files, err := fingerprintContext(exp.Context)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrInvalidExperiment, exp.Name, err)
	}
	code, err := operationCode(exp, files)
	if err != nil {
		return nil, err
	}
	src := exp.source()
	runs, ok := planSize(src.Len(), exp.Seeds.Replicates)
	if !ok {
		return nil, fmt.Errorf("%w %q: %d param points times %d replicates is more runs than metalab can count (%d)",
			ErrInvalidExperiment, exp.Name, src.Len(), exp.Seeds.Replicates, math.MaxInt)
	}
	spec := map[string]any{
		"experiment": exp.Name,
		"version":    exp.Version,
		"params":     src.Spec(),
		"seeds":      map[string]any{"base": exp.Seeds.Base, "replicates": exp.Seeds.Replicates},
		"context":    fp,
		"runs":       runs,
	}
	var tracked string
	if exp.TrackCode {
		tracked = code.Fingerprint
		spec["code"] = tracked
	}
	b, err := params.Canonical(spec)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrInvalidExperiment, exp.Name, err)
	}
	sum := sha256.Sum256(b)
	return &Plan{
		exp:         exp,
		src:         src,
		ctxFP:       fp,
		code:        code,
		trackedCode: tracked,
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

// planSize is points times replicates, and false if that overflows an int
// (a grid's own size is checked by its Validate).
func planSize(points, replicates int) (int, bool) {
	if points < 0 || replicates < 0 || replicates > 0 && points > math.MaxInt/replicates {
		return 0, false
	}
	return points * replicates, true
}

// Manifest is the store manifest that records this plan's identity.
func (p *Plan) Manifest() store.Manifest { return p.manifest }

// experimentInfo is what a store keeps of the plan's experiment: its name,
// version and operation, and the plan, of which the store has outside runs
// of the experiment that it does not hold.
func (p *Plan) experimentInfo(outside int) (store.ExperimentInfo, error) {
	op, err := operationJSON(p.exp.Operation)
	if err != nil {
		return store.ExperimentInfo{}, err
	}
	return store.ExperimentInfo{
		Name: p.exp.Name, Version: p.exp.Version, Operation: op, Postgres: p.exp.Postgres,
		Code: p.code.Fingerprint, Codes: map[string]map[string]string{p.code.Fingerprint: p.code.Parts},
		Plan: store.PlanInfo{Identity: p.manifest.Identity, Spec: p.manifest.Spec, Runs: p.Len(), Outside: outside},
	}, nil
}

// operationJSON is the canonical JSON of what op runs (see [Describer]), or
// nil when metalab cannot see it.
func operationJSON(op Operation) (json.RawMessage, error) {
	d, ok := op.(Describer)
	if !ok {
		return nil, nil
	}
	b, err := params.Canonical(d.Describe())
	if err != nil {
		return nil, fmt.Errorf("%w: the operation's description: %w", ErrInvalidExperiment, err)
	}
	return b, nil
}

// ref is the experiment as commands name it, NAME@VERSION.
func (p *Plan) ref() string { return store.Ref(p.exp.Name, p.exp.Version) }

// ContextFingerprint is the hash of the experiment context in every run ID.
func (p *Plan) ContextFingerprint() string { return p.ctxFP }

// Code is the fingerprint of the code the plan's runs run (see [Coder]),
// in every run ID when the experiment's TrackCode is set.
func (p *Plan) Code() store.Code { return p.code }

// At returns run i (0 <= i < Len()).
func (p *Plan) At(i int) RunSpec {
	reps := p.exp.Seeds.Replicates
	pt, r := i/reps, i%reps
	point := p.src.At(pt)
	id, pj := runID(p.trackedCode, p.exp.Name, p.exp.Version, p.ctxFP, point, p.exp.Seeds.Base, r)
	return RunSpec{
		ID:         id,
		Point:      pt,
		Replicate:  r,
		Params:     point,
		Seeds:      p.exp.Seeds.Bundle(r),
		ParamsJSON: pj,
	}
}

// DefaultMaxPlanTime is the default of [Options.MaxPlanTime]: a day of
// metalab's own work on a sweep's runs, before any operation runs.
const DefaultMaxPlanTime = 24 * time.Hour

// leastRunCost is the least time metalab spends on a run of its own,
// whatever the operation does: planning, recording and indexing it. The
// benchmark of docs/performance.md measures 6.8 µs a run (an in-process
// operation that does nothing, 2 workers); this is rounded down, so that a
// faster machine is not refused a plan it could finish.
const leastRunCost = 5 * time.Microsecond

// planCost measures how long this machine takes to plan one run of p: the
// run IDs of up to 256 runs spread over the plan. Plans with large params
// cost more than [leastRunCost] here alone.
func planCost(p *Plan) time.Duration {
	n := p.Len()
	samples := min(n, 256)
	if samples == 0 {
		return 0
	}
	p.gridIDs() // built once for the whole sweep, not a per-run cost
	var buf []byte
	start := time.Now()
	for k := range samples {
		_, buf = p.key(int(uint64(k)*uint64(n)/uint64(samples)), buf)
	}
	return time.Since(start) / time.Duration(samples)
}

// checkPlanTime refuses, before anything is written, a plan that metalab
// alone would take longer than limit to get through at the larger of
// measured (see planCost) and leastRunCost a run. A limit of 0 or less
// means none.
func checkPlanTime(p *Plan, limit, measured time.Duration) error {
	if limit <= 0 {
		return nil
	}
	n := p.Len()
	cost, how := leastRunCost, fmt.Sprintf("metalab's least cost a run, from docs/performance.md; this machine plans a run in %s", measured)
	if measured > cost {
		cost, how = measured, "the time this machine takes to plan a run"
	}
	// In float seconds: n times the cost overflows a Duration from 2^63 ns.
	est := float64(n) * cost.Seconds()
	if est <= limit.Seconds() {
		return nil
	}
	return &exitError{
		code: ExitUsage,
		err: fmt.Errorf("%w %q: the plan has %s runs; metalab's own work on them alone would take about %s at %s a run (%s), more than the limit of %s",
			ErrInvalidExperiment, p.exp.Name, groupDigits(n), formatSeconds(est), cost, how, formatSeconds(limit.Seconds())),
		hint: "reduce the grid or the replicates; if the plan is meant, raise the limit with --max-plan-time (0: none)",
	}
}

// groupDigits writes n with a comma every three digits.
func groupDigits(n int) string {
	s := strconv.Itoa(n)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var b []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, s[i])
	}
	if neg {
		return "-" + string(b)
	}
	return string(b)
}

// RunID returns the deterministic ID of one run: the first 8 bytes, in hex,
// of SHA-256 over the canonical JSON (see [params.Canonical]) of
//
//	{"context":FP,"experiment":NAME,"params":POINT,"replicate":R,"seed_base":BASE,"version":VERSION}
//
// It is the same on every machine, process and Go version. An experiment
// with TrackCode set has {"code":FINGERPRINT, ...} in front, the
// fingerprint of [Plan.Code].
func RunID(name, version, contextFP string, point params.Point, seedBase int64, replicate int) string {
	id, _ := runID("", name, version, contextFP, point, seedBase, replicate)
	return id
}

// runID is RunID with the code fingerprint code ("": none), and the
// canonical JSON of point that it hashed.
func runID(code, name, version, contextFP string, point params.Point, seedBase int64, replicate int) (string, []byte) {
	buf := appendIDHead(make([]byte, 0, 256), code, name, contextFP)
	start := len(buf)
	var err error
	buf, err = params.AppendCanonical(buf, point)
	if err != nil {
		// Points come from a validated source, so this is a programming
		// error, not bad input.
		panic(fmt.Sprintf("launcher: run ID of unencodable point %v: %v", point, err))
	}
	end := len(buf)
	buf = appendIDTail(buf, version, seedBase, replicate)
	sum := sha256.Sum256(buf)
	// The tail is appended after the point, never over it.
	return hex.EncodeToString(sum[:8]), buf[start:end:end]
}

// appendIDHead and appendIDTail write what the run ID hashes before and
// after the point; a code fingerprint, if any, goes first, as canonical
// JSON sorts "code" before "context".
func appendIDHead(buf []byte, code, name, contextFP string) []byte {
	buf = append(buf, '{')
	if code != "" {
		buf = append(buf, `"code":`...)
		buf = appendString(buf, code)
		buf = append(buf, ',')
	}
	buf = append(buf, `"context":`...)
	buf = appendString(buf, contextFP)
	buf = append(buf, `,"experiment":`...)
	buf = appendString(buf, name)
	return append(buf, `,"params":`...)
}

func appendIDTail(buf []byte, version string, seedBase int64, replicate int) []byte {
	buf = append(buf, `,"replicate":`...)
	buf = strconv.AppendInt(buf, int64(replicate), 10)
	buf = append(buf, `,"seed_base":`...)
	buf = strconv.AppendInt(buf, seedBase, 10)
	buf = append(buf, `,"version":`...)
	buf = appendString(buf, version)
	return append(buf, '}')
}

// runKey is a run ID in binary: the 8 bytes its 16 hex digits spell. Sets
// of a million run IDs are kept as these rather than as strings.
type runKey [8]byte

// keyOf parses a run ID; ok is false for a string that is not one.
func keyOf(id string) (k runKey, ok bool) {
	if len(id) != 16 {
		return k, false
	}
	_, err := hex.Decode(k[:], []byte(id))
	return k, err == nil
}

// gridIDs computes the run IDs of a grid plan without building its points:
// the canonical encoding of each axis value is computed once, and a point's
// encoding is the concatenation of those of its values.
type gridIDs struct {
	head []byte   // appendIDHead
	keys [][]byte // per axis, sorted by name: "name":
	vals []axisValues
}

// axisValues are the encodings of one axis's values, end to end: value k is
// enc[off[k]:off[k+1]]. A slice per value cost 88 bytes a value, 67 MB for
// an axis of a million.
type axisValues struct {
	enc []byte
	off []uint32
}

func (a *axisValues) len() int        { return len(a.off) - 1 }
func (a *axisValues) at(k int) []byte { return a.enc[a.off[k]:a.off[k+1]] }

func (p *Plan) gridIDs() *gridIDs {
	p.idsOnce.Do(func() {
		g, ok := p.src.(params.Grid)
		if !ok {
			return
		}
		ids := &gridIDs{head: appendIDHead(nil, p.trackedCode, p.exp.Name, p.ctxFP)}
		for _, name := range slices.Sorted(maps.Keys(g)) {
			key, err := params.AppendCanonical(nil, name)
			if err != nil {
				return
			}
			vals := axisValues{off: make([]uint32, 1, len(g[name])+1)}
			for _, v := range g[name] {
				if vals.enc, err = params.AppendCanonical(vals.enc, v); err != nil || len(vals.enc) > math.MaxUint32 {
					return
				}
				vals.off = append(vals.off, uint32(len(vals.enc)))
			}
			ids.keys = append(ids.keys, append(key, ':'))
			ids.vals = append(ids.vals, vals)
		}
		p.ids = ids
	})
	return p.ids
}

// dropIDs frees what key keeps to compute IDs fast; key still works, through
// At.
func (p *Plan) dropIDs() {
	p.gridIDs()
	p.ids = nil
}

// key returns the run ID of run i as a runKey, using buf as scratch space.
// It equals At(i).ID, at a fraction of the cost.
func (p *Plan) key(i int, buf []byte) (runKey, []byte) {
	g := p.gridIDs()
	if g == nil {
		k, _ := keyOf(p.At(i).ID)
		return k, buf
	}
	reps := p.exp.Seeds.Replicates
	pt, r := i/reps, i%reps
	var stack [16]int
	digits := stack[:0]
	if len(g.vals) > len(stack) {
		digits = make([]int, 0, len(g.vals))
	}
	digits = digits[:len(g.vals)]
	for j := len(g.vals) - 1; j >= 0; j-- {
		n := g.vals[j].len()
		digits[j] = pt % n
		pt /= n
	}
	buf = append(buf[:0], g.head...)
	buf = append(buf, '{')
	for j, k := range digits {
		if j > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, g.keys[j]...)
		buf = append(buf, g.vals[j].at(k)...)
	}
	buf = append(buf, '}')
	buf = appendIDTail(buf, p.exp.Version, p.exp.Seeds.Base, r)
	sum := sha256.Sum256(buf)
	return runKey(sum[:8]), buf
}

func appendString(buf []byte, s string) []byte {
	out, err := params.AppendCanonical(buf, s)
	if err != nil {
		panic(fmt.Sprintf("launcher: cannot encode %q: %v", s, err))
	}
	return out
}
