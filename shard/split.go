package shard

import (
	"errors"
	"fmt"
	"math/bits"
	"time"
)

// DefaultMaxArraySize is SLURM's default MaxArraySize: array indexes 0 to
// 1000.
const DefaultMaxArraySize = 1001

// ErrNoIndexes is returned by [Split] when there is nothing to run.
var ErrNoIndexes = errors.New("shard: no indexes to split")

// Params are the limits a submission must respect. The zero value means
// automatic shards, SLURM's default MaxArraySize, and no other limit.
type Params struct {
	// RunsPerTask is the number of runs of one array task; 0 picks it (see
	// the package comment).
	RunsPerTask int
	// MaxArraySize is SLURM's MaxArraySize: an array's highest index is
	// MaxArraySize-1. 0 means [DefaultMaxArraySize].
	MaxArraySize int
	// MaxJobCount is SLURM's MaxJobCount; 0 means unlimited. The
	// submission's tasks stay within half of it.
	MaxJobCount int
	// MaxConcurrent is the most tasks that may run at once, summed over all
	// arrays; 0 means unlimited.
	MaxConcurrent int

	// What sizes the tasks when RunsPerTask is 0: how long runs take,
	// how long a task may run them (its time limit less the margin its
	// worker keeps to stop; 0: no limit known), and how many it runs at
	// once (0 means 1).
	Durations Durations
	Usable    time.Duration
	Workers   int
}

func (p Params) validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{
		{"RunsPerTask", p.RunsPerTask},
		{"MaxArraySize", p.MaxArraySize},
		{"MaxJobCount", p.MaxJobCount},
		{"MaxConcurrent", p.MaxConcurrent},
		{"Workers", p.Workers},
	} {
		if f.v < 0 {
			return fmt.Errorf("shard: %s must not be negative, got %d", f.name, f.v)
		}
	}
	return nil
}

// taskBudget is the most tasks a submission may have; 0 means unlimited.
func (p Params) taskBudget() int {
	if p.MaxJobCount == 0 {
		return 0
	}
	return max(1, p.MaxJobCount/2)
}

// Split cuts indexes, the plan indexes to run in the order to run them, into
// shards and deals them to job arrays within the limits of p. Each index must
// be non-negative and appear once. Split does not keep indexes.
func Split(indexes []int, p Params) (*Layout, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	if len(indexes) == 0 {
		return nil, ErrNoIndexes
	}
	// Counting the stretches first sizes them exactly: growing by append
	// would allocate several times their size for scattered indexes.
	stretches := 1
	for i, v := range indexes {
		if v < 0 {
			return nil, fmt.Errorf("shard: negative index %d at position %d", v, i)
		}
		if i > 0 && v != indexes[i-1]+1 {
			stretches++
		}
	}
	s := newSeq()
	s.stretches = make([]stretch, 0, stretches)
	for _, v := range indexes {
		s.appendRange(v, v)
	}
	if err := s.checkUnique(); err != nil {
		return nil, err
	}
	perTask, est, err := runsPerTask(s.n, p)
	if err != nil {
		return nil, err
	}
	mas := p.MaxArraySize
	if mas == 0 {
		mas = DefaultMaxArraySize
	}
	return &Layout{
		RunsPerTask: perTask,
		Arrays:      arrange(ceilDiv(s.n, perTask), mas, p.MaxConcurrent),
		Estimate:    est,
		seq:         s,
	}, nil
}

// arrange deals tasks to arrays of at most mas tasks, holding the throttle mc
// (0: none) for the whole submission with lanes (see the package comment).
func arrange(tasks, mas, mc int) []Array {
	if mc == 0 {
		k := ceilDiv(tasks, mas)
		arrays := make([]Array, k)
		for i := range arrays {
			arrays[i].Tasks = evenPart(tasks, k, i)
		}
		return arrays
	}
	// A throttle above the task count limits nothing, and capping it keeps
	// the products below within range.
	mc = min(mc, tasks)
	lanes := min(ceilDiv(tasks, mas), mc)
	type lane struct{ throttle, tasks, arrays int }
	ls := make([]lane, lanes)
	// Every lane gets one task, and the rest in proportion to its share of
	// the throttle, rounded so that the shares sum to exactly tasks.
	rest, share := tasks-lanes, 0
	for l := range ls {
		c := evenPart(mc, lanes, l)
		lo := mulDiv(rest, share, mc)
		share += c
		hi := mulDiv(rest, share, mc)
		n := 1 + hi - lo
		ls[l] = lane{throttle: c, tasks: n, arrays: ceilDiv(n, mas)}
	}
	var arrays []Array
	prev := make([]int, lanes)
	for wave := 0; ; wave++ {
		added := false
		for l, ln := range ls {
			if wave >= ln.arrays {
				continue
			}
			a := Array{Tasks: evenPart(ln.tasks, ln.arrays, wave)}
			a.Throttle = min(ln.throttle, a.Tasks)
			if wave > 0 {
				a.After = []int{prev[l]}
			}
			prev[l] = len(arrays)
			arrays = append(arrays, a)
			added = true
		}
		if !added {
			return arrays
		}
	}
}

// evenPart returns the size of part i when n is cut into k parts that differ
// by at most one, the larger ones first.
func evenPart(n, k, i int) int {
	if i < n%k {
		return n/k + 1
	}
	return n / k
}

// ceilDiv returns ceil(a/b) for a >= 0, b > 0, without overflowing.
func ceilDiv(a, b int) int {
	if a == 0 {
		return 0
	}
	return (a-1)/b + 1
}

// mulDiv returns a*b/c for non-negative ints without overflowing in a*b, as
// long as the result fits.
func mulDiv(a, b, c int) int {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	q, _ := bits.Div64(hi, lo, uint64(c))
	return int(q)
}
