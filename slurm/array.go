package slurm

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxArrayTasks bounds how many task IDs one index expression may expand
// to. Slurm itself refuses a MaxArraySize above 4000001.
const MaxArrayTasks = 4000001

// ErrTruncated reports an array index expression that the tool cut short
// ("1,4,9,...") because SLURM_BITSTR_LEN was not 0.
var ErrTruncated = errors.New("array index expression truncated (run the command with SLURM_BITSTR_LEN=0)")

// ParseArrayTasks expands a job array index expression, as squeue (%K) and
// scontrol print it and sbatch --array takes it ("4-10%2", "1,3,5-7",
// "0-3000:3"), into the task IDs it names, in the order written, and the
// throttle after "%" (0 when there is none).
func ParseArrayTasks(expr string) (tasks []int, throttle int, err error) {
	if strings.HasSuffix(expr, "...") {
		return nil, 0, ErrTruncated
	}
	if i := strings.LastIndexByte(expr, '%'); i >= 0 {
		throttle, err = strconv.Atoi(expr[i+1:])
		if err != nil || throttle < 0 {
			return nil, 0, fmt.Errorf("array index expression %q: bad throttle %q", expr, expr[i+1:])
		}
		expr = expr[:i]
	}
	if expr == "" {
		return nil, 0, fmt.Errorf("empty array index expression")
	}
	for _, item := range strings.Split(expr, ",") {
		first, last, step, err := parseArrayItem(item)
		if err != nil {
			return nil, 0, fmt.Errorf("array index expression %q: %w", expr, err)
		}
		if n := (last-first)/step + 1; len(tasks)+n > MaxArrayTasks {
			return nil, 0, fmt.Errorf("array index expression %q names more than %d tasks", expr, MaxArrayTasks)
		}
		for t := first; t <= last; t += step {
			tasks = append(tasks, t)
		}
	}
	return tasks, throttle, nil
}

// parseArrayItem reads "N", "A-B" or "A-B:S".
func parseArrayItem(item string) (first, last, step int, err error) {
	step = 1
	rng, stepText, hasStep := strings.Cut(item, ":")
	if hasStep {
		if step, err = strconv.Atoi(stepText); err != nil || step < 1 {
			return 0, 0, 0, fmt.Errorf("bad step in %q", item)
		}
	}
	firstText, lastText, isRange := strings.Cut(rng, "-")
	if first, err = atoiNonNeg(firstText); err != nil {
		return 0, 0, 0, fmt.Errorf("bad index in %q", item)
	}
	last = first
	if isRange {
		if last, err = atoiNonNeg(lastText); err != nil || last < first {
			return 0, 0, 0, fmt.Errorf("bad range %q", item)
		}
	} else if hasStep {
		return 0, 0, 0, fmt.Errorf("step without range in %q", item)
	}
	if last > MaxArrayTasks {
		return 0, 0, 0, fmt.Errorf("index above %d in %q", MaxArrayTasks, item)
	}
	return first, last, step, nil
}

// atoiNonNeg accepts only plain decimal digits (no sign, no spaces).
func atoiNonNeg(s string) (int, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("not a number: %q", s)
	}
	return strconv.Atoi(s)
}

// jobID is a job ID as squeue (%i) and sacct (JobID) print it, taken apart:
// "123", "123_4", "123_[4-10%2]", "123_4.batch", "123.extern", "123+0".
type jobID struct {
	base  string // "123" (with "+0" for a heterogeneous component)
	tasks string // "4" or "4-10%2" (brackets removed); "" if not an array
	step  string // "batch", "extern", "0", ...; "" for the allocation
}

// parseJobID checks the shape of s; the task expression is left for
// ParseArrayTasks, so that a long pending range is expanded only once.
func parseJobID(s string) (jobID, error) {
	var id jobID
	if strings.Contains(s, "...") {
		return jobID{}, fmt.Errorf("job ID %q: %w", s, ErrTruncated)
	}
	rest := s
	// A step follows the task part: "123_4.batch" ("123_[1-3].0" does not
	// occur: steps belong to started tasks).
	if i := strings.LastIndexByte(rest, '.'); i >= 0 && !strings.Contains(rest[i:], "]") {
		rest, id.step = rest[:i], rest[i+1:]
		if id.step == "" {
			return jobID{}, fmt.Errorf("job ID %q: empty step", s)
		}
	}
	base, task, isArray := strings.Cut(rest, "_")
	num, comp, isHet := strings.Cut(base, "+")
	if _, err := atoiNonNeg(num); err != nil {
		return jobID{}, fmt.Errorf("job ID %q: %w", s, err)
	}
	if isHet {
		if _, err := atoiNonNeg(comp); err != nil {
			return jobID{}, fmt.Errorf("job ID %q: bad component: %w", s, err)
		}
	}
	id.base = base
	if !isArray {
		return id, nil
	}
	if strings.HasPrefix(task, "[") {
		if !strings.HasSuffix(task, "]") {
			return jobID{}, fmt.Errorf("job ID %q: %w", s, ErrTruncated)
		}
		task = task[1 : len(task)-1]
	} else if _, err := atoiNonNeg(task); err != nil {
		return jobID{}, fmt.Errorf("job ID %q: bad array task: %w", s, err)
	}
	if task == "" {
		return jobID{}, fmt.Errorf("job ID %q: empty array task", s)
	}
	id.tasks = task
	return id, nil
}
