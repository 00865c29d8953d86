package shard

import (
	"fmt"
	"strings"
	"time"
)

// Summary describes a layout for people, as `metalab submit --dry-run`
// shows it.
type Summary struct {
	Runs        int            `json:"runs"`
	Tasks       int            `json:"tasks"`
	RunsPerTask int            `json:"runs_per_task"`
	MaxRunning  int            `json:"max_running"`
	Arrays      []ArraySummary `json:"arrays"`
	// Estimate says how the tasks were sized; "" for a decoded layout.
	Estimate string `json:"estimate,omitempty"`
}

// ArraySummary describes one array of a [Summary].
type ArraySummary struct {
	Tasks    int    `json:"tasks"`
	Runs     int    `json:"runs"`
	Throttle int    `json:"throttle"`
	After    []int  `json:"after,omitempty"`
	Spec     string `json:"spec"` // value of sbatch --array
}

// Summary returns the counts of l.
func (l *Layout) Summary() Summary {
	s := Summary{
		Runs:        l.Runs(),
		Tasks:       l.Tasks(),
		RunsPerTask: l.RunsPerTask,
		MaxRunning:  l.MaxRunning(),
		Arrays:      make([]ArraySummary, len(l.Arrays)),
	}
	if l.Estimate != (Estimate{}) {
		s.Estimate = l.Estimate.String()
	}
	p := 0
	for i, a := range l.Arrays {
		q := min(p+a.Tasks*l.RunsPerTask, s.Runs)
		s.Arrays[i] = ArraySummary{Tasks: a.Tasks, Runs: q - p, Throttle: a.Throttle, After: a.After, Spec: a.Spec()}
		p = q
	}
	return s
}

// String renders s as a few lines of text, one per array.
func (s Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d runs in %d tasks of at most %d runs, %d %s, at most %d tasks at once\n",
		s.Runs, s.Tasks, s.RunsPerTask, len(s.Arrays), plural(len(s.Arrays), "array", "arrays"), s.MaxRunning)
	for i, a := range s.Arrays {
		fmt.Fprintf(&b, "  array %d: --array=%s, %d runs", i, a.Spec, a.Runs)
		if len(a.After) > 0 {
			fmt.Fprintf(&b, ", after array %s", strings.Trim(fmt.Sprint(a.After), "[]"))
		}
		b.WriteByte('\n')
	}
	if s.Estimate != "" {
		b.WriteString(s.Estimate)
		b.WriteByte('\n')
	}
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// CoreHours returns the most core-hours the layout can be charged: every
// task allocated cpusPerTask CPUs (0 counts as SLURM's default of 1) for its
// whole time limit. Tasks that end early cost less, so it is an upper bound
// for budgets, not a forecast.
func (l *Layout) CoreHours(timeLimit time.Duration, cpusPerTask int) float64 {
	if timeLimit <= 0 {
		return 0
	}
	return float64(l.Tasks()) * timeLimit.Hours() * float64(max(cpusPerTask, 1))
}
