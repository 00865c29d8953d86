package shard

import (
	"fmt"
	"slices"
	"time"
)

// Targets of the task size rule; the package comment explains them.
const (
	// DefaultSlots stands for MaxConcurrent when none is given: the tasks
	// a submission expects to run at once.
	DefaultSlots = 32
	// DefaultTasks is the most tasks Split makes by itself without a
	// throttle, unless the time limit needs more.
	DefaultTasks = 1000
	// TasksPerSlot is how many rounds of tasks Split allows per throttle
	// slot, unless the time limit needs more: a few even out tasks that
	// take longer than others.
	TasksPerSlot = 4
	// TaskTarget is how long Split aims for a task's runs to take, when it
	// knows how long runs take: long enough that queueing and starting a
	// task cost little beside it.
	TaskTarget = 5 * time.Minute
	// MinKnown is how many completed runs it takes to size tasks by their
	// durations.
	MinKnown = 5
	// fill is the share of a task's usable time that its runs are planned
	// to fill, as runs as long as the 90th percentile.
	fill = 0.8
)

// Durations is what a store knows of how long an experiment's runs take:
// the median and the 90th percentile of a sample of completed runs.
type Durations struct {
	Known       int // completed runs in the sample; 0: nothing known
	Median, P90 time.Duration
}

// Observe summarises the durations of completed runs.
func Observe(ds []time.Duration) Durations {
	if len(ds) == 0 {
		return Durations{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	q := func(p float64) time.Duration { return s[int(p*float64(len(s)-1)+0.5)] }
	return Durations{Known: len(s), Median: q(0.5), P90: q(0.9)}
}

// Estimate says how Split sized the tasks, for people: `metalab submit`
// prints it.
type Estimate struct {
	// Given: RunsPerTask was given, and taken as it was.
	Given bool
	// Durations is what the sizing knew; Known < MinKnown: too little.
	Durations Durations
	// Slots is MaxConcurrent, or DefaultSlots.
	Slots int
	// TaskTime is how long a task's runs take at the median duration, on
	// Workers at once; 0 when durations are not known.
	TaskTime time.Duration
	// Limited: the time limit made tasks smaller than TaskTarget would.
	Limited bool
}

func (e Estimate) String() string {
	switch {
	case e.Given:
		return "task size: runs_per_task as given"
	case e.Durations.Known < MinKnown:
		return fmt.Sprintf("task size: no run durations known yet (%d completed runs, want %d): one task per slot (%d slots; set [slurm] max_concurrent or runs_per_task to choose)",
			e.Durations.Known, MinKnown, e.Slots)
	}
	s := fmt.Sprintf("task size: from %d completed runs (median %s, 90th percentile %s): about %s of runs per task",
		e.Durations.Known, round(e.Durations.Median), round(e.Durations.P90), round(e.TaskTime))
	if e.Limited {
		s += ", to fit the time limit"
	}
	return s
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second)
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

// runsPerTask applies the rule of the package comment to n runs.
func runsPerTask(n int, p Params) (int, Estimate, error) {
	budget := p.taskBudget()
	if p.RunsPerTask > 0 {
		if tasks := ceilDiv(n, p.RunsPerTask); budget > 0 && tasks > budget {
			return 0, Estimate{}, fmt.Errorf("shard: %d runs at %d per task make %d tasks, more than half of MaxJobCount %d; "+
				"raise RunsPerTask to at least %d, or set it to 0 to choose automatically",
				n, p.RunsPerTask, tasks, p.MaxJobCount, ceilDiv(n, budget))
		}
		return p.RunsPerTask, Estimate{Given: true}, nil
	}
	slots := p.MaxConcurrent
	if slots == 0 {
		slots = DefaultSlots
	}
	est := Estimate{Durations: p.Durations, Slots: slots}
	workers := max(p.Workers, 1)
	// Fill the slots: as many tasks as may run at once, when there are
	// runs enough.
	target := min(n, slots)
	if d := p.Durations; d.Known >= MinKnown && d.Median > 0 {
		length, fits := TaskTarget, 0
		if p.Usable > 0 {
			length = min(length, time.Duration(fill*float64(p.Usable)))
			// Runs as long as the 90th percentile still end in time.
			fits = max(1, int(fill*float64(p.Usable)*float64(workers)/float64(max(d.P90, d.Median))))
		}
		per := max(1, int(float64(length)*float64(workers)/float64(d.Median)))
		if fits > 0 && per > fits {
			per = fits
		}
		// No more tasks than a few rounds of the slots need (or, without
		// a throttle, than DefaultTasks), unless the time limit does.
		most := DefaultTasks
		if p.MaxConcurrent > 0 {
			most = TasksPerSlot * min(p.MaxConcurrent, n)
		}
		if fits > 0 {
			most = max(most, ceilDiv(n, fits))
		}
		target = max(target, min(ceilDiv(n, per), most))
	}
	if budget > 0 {
		target = min(target, budget)
	}
	target = max(1, min(target, n))
	per := ceilDiv(n, target)
	if d := p.Durations; d.Known >= MinKnown {
		est.TaskTime = time.Duration(float64(d.Median) * float64(per) / float64(workers))
		est.Limited = p.Usable > 0 && time.Duration(fill*float64(p.Usable)) < TaskTarget
	}
	return per, est, nil
}
