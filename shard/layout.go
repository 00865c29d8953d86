package shard

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrOutOfRange is wrapped by the errors of [Layout.Shard] for an array or a
// task that the layout does not have.
var ErrOutOfRange = errors.New("out of range")

// Layout says which plan indexes each task of each job array runs. Shards
// are consecutive slices of the indexes given to [Split], RunsPerTask each
// (the very last may be shorter), dealt to the arrays in order: array 0 takes
// the first Arrays[0].Tasks shards, array 1 the next ones, and so on.
type Layout struct {
	RunsPerTask int
	Arrays      []Array
	// Estimate says how Split chose RunsPerTask; a decoded layout has
	// none.
	Estimate Estimate

	seq seq
}

// Array is one sbatch job array: tasks 0 to Tasks-1.
type Array struct {
	// Tasks is the number of array tasks; the array spec is 0-(Tasks-1).
	Tasks int
	// Throttle is the %N limit of tasks running at once; 0 means none.
	Throttle int
	// After lists the arrays (by position in [Layout.Arrays], always
	// earlier ones) that must end, successfully or not, before this one
	// starts: submit it with --dependency=afterany:<their job ids>.
	After []int
}

// Spec returns the value of sbatch's --array option, like "0-10%4".
func (a Array) Spec() string {
	s := "0"
	if a.Tasks > 1 {
		s += "-" + strconv.Itoa(a.Tasks-1)
	}
	if a.Throttle > 0 {
		s += "%" + strconv.Itoa(a.Throttle)
	}
	return s
}

// Runs returns the number of indexes in the layout.
func (l *Layout) Runs() int { return l.seq.n }

// Tasks returns the number of array tasks over all arrays.
func (l *Layout) Tasks() int {
	n := 0
	for _, a := range l.Arrays {
		n += a.Tasks
	}
	return n
}

// Shard returns the plan indexes that task runs in array, in order. A worker
// calls it with its array's position in [Layout.Arrays] and
// SLURM_ARRAY_TASK_ID.
func (l *Layout) Shard(array, task int) ([]int, error) {
	p, q, err := l.bounds(array, task)
	if err != nil {
		return nil, err
	}
	return l.seq.values(p, q), nil
}

// bounds returns the positions [p, q) of the shard of task in array.
func (l *Layout) bounds(array, task int) (int, int, error) {
	if array < 0 || array >= len(l.Arrays) {
		return 0, 0, fmt.Errorf("shard: array %d %w: the layout has %d %s (%s)",
			array, ErrOutOfRange, len(l.Arrays), plural(len(l.Arrays), "array", "arrays"), zeroTo(len(l.Arrays)))
	}
	a := l.Arrays[array]
	if task < 0 || task >= a.Tasks {
		return 0, 0, fmt.Errorf("shard: task %d %w: array %d has %d %s (%s)",
			task, ErrOutOfRange, array, a.Tasks, plural(a.Tasks, "task", "tasks"), zeroTo(a.Tasks))
	}
	shard := task
	for _, b := range l.Arrays[:array] {
		shard += b.Tasks
	}
	p := shard * l.RunsPerTask
	if l.RunsPerTask < 1 || p/l.RunsPerTask != shard || p >= l.seq.n {
		return 0, 0, fmt.Errorf("shard: array %d task %d: the layout is inconsistent (shard %d of %d runs at %d per task)",
			array, task, shard, l.seq.n, l.RunsPerTask)
	}
	return p, p + min(l.RunsPerTask, l.seq.n-p), nil
}

// zeroTo describes the indexes 0..n-1 for error messages.
func zeroTo(n int) string {
	switch n {
	case 0:
		return "none"
	case 1:
		return "only 0"
	}
	return "0-" + strconv.Itoa(n-1)
}

// MaxRunning returns the most tasks that can run at the same time under the
// arrays' throttles and dependencies: the sum, over the chains of arrays that
// run one after the other, of the largest limit in the chain, where an
// unthrottled array's limit is its task count. When the arrays' dependencies
// do not form simple chains it returns the sum over all arrays, which is still
// an upper bound.
func (l *Layout) MaxRunning() int {
	limit := func(a Array) int {
		if a.Throttle > 0 {
			return min(a.Throttle, a.Tasks)
		}
		return a.Tasks
	}
	// chain[i] is the first array of i's chain.
	chain := make([]int, len(l.Arrays))
	taken := make([]bool, len(l.Arrays))
	chains := true
	for i, a := range l.Arrays {
		chain[i] = i
		switch {
		case len(a.After) == 0:
		case len(a.After) == 1 && a.After[0] >= 0 && a.After[0] < i && !taken[a.After[0]]:
			taken[a.After[0]] = true
			chain[i] = chain[a.After[0]]
		default:
			chains = false
		}
	}
	peak := make(map[int]int)
	total := 0
	for i, a := range l.Arrays {
		total += limit(a)
		peak[chain[i]] = max(peak[chain[i]], limit(a))
	}
	if !chains {
		return total
	}
	sum := 0
	for _, v := range peak {
		sum += v
	}
	return sum
}
