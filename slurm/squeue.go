package slurm

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// SqueueFormat is the squeue -o format [ParseSqueue] reads: job ID as
// printed (%i), job ID unique per started task (%A), array job ID (%F),
// array task ID or pending range (%K), state (%T), reason (%r), node list
// (%N) and job name (%j). The name comes last because it may contain "|".
const SqueueFormat = "%i|%A|%F|%K|%T|%r|%N|%j"

const squeueFields = 8

// SqueueIdentityFormat is the squeue -o format [ParseSqueueIdentity] reads:
// [SqueueFormat]'s fields but the name, then the submit time (%V), the job
// name (%j) and the comment (%k). The comment comes last because it may
// contain "|"; the name may not, which holds for the jobs of
// [Client.Named], whose names are the ones asked for.
const SqueueIdentityFormat = "%i|%A|%F|%K|%T|%r|%N|%V|%j|%k"

const squeueIdentityFields = 10

// JobState is one line of squeue output: a job, a started array task, or
// the still-pending part of an array.
type JobState struct {
	JobID      string // as printed: "123", "123_4" or "123_[4-10%2]"
	RawJobID   string // "123" for a job, the task's own job ID once started, the array job ID before
	ArrayJobID string // the array's job ID; equals RawJobID for a job that is not an array
	ArrayTasks []int  // the array task IDs this line stands for: one, or all of a pending range; nil if not an array
	Throttle   int    // most tasks of the array allowed to run at once ("%2"); 0 if unlimited or unknown
	State      State
	Reason     string // why it is pending or ended, "None" otherwise
	NodeList   string // "" while pending
	Name       string
	// Submitted and Comment are when the job was submitted and what
	// sbatch --comment said; only [ParseSqueueIdentity] fills them in.
	Submitted time.Time
	Comment   string
}

// IsArray reports whether the line is an array task or a range of them.
func (j JobState) IsArray() bool { return j.ArrayTasks != nil }

// ParseSqueue reads the output of squeue -h -o [SqueueFormat], with or
// without -r and -t all, run with SLURM_BITSTR_LEN=0. Blank lines are
// skipped; any other line that does not fit stops it with a [*ParseError].
// A range cut short by squeue's default 64-byte limit is such an error,
// wrapping [ErrTruncated].
func ParseSqueue(r io.Reader) ([]JobState, error) {
	return parseSqueue(r, false)
}

// ParseSqueueIdentity reads the output of squeue -h -o
// [SqueueIdentityFormat], as [ParseSqueue] does [SqueueFormat]. A comment
// holding "|" stays whole; a name holding "|" would shift it into the
// comment, which then matches nothing a caller looks for.
func ParseSqueueIdentity(r io.Reader) ([]JobState, error) {
	return parseSqueue(r, true)
}

func parseSqueue(r io.Reader, identity bool) ([]JobState, error) {
	var jobs []JobState
	err := eachLine(r, func(n int, line string) error {
		if strings.TrimSpace(line) == "" {
			return nil
		}
		j, err := parseSqueueLine(line, identity)
		if err != nil {
			return &ParseError{Source: "squeue", Line: n, Text: line, Err: err}
		}
		jobs = append(jobs, j)
		return nil
	})
	return jobs, err
}

func parseSqueueLine(line string, identity bool) (JobState, error) {
	want, format := squeueFields, SqueueFormat
	if identity {
		want, format = squeueIdentityFields, SqueueIdentityFormat
	}
	f := strings.SplitN(line, "|", want)
	if len(f) != want {
		return JobState{}, fmt.Errorf("%d |-separated fields, want %d (format %q)", len(f), want, format)
	}
	j := JobState{
		JobID:      f[0],
		RawJobID:   f[1],
		ArrayJobID: f[2],
		State:      State(f[4]),
		Reason:     f[5],
		NodeList:   f[6],
	}
	if identity {
		submitted, err := parseSlurmTime(f[7])
		if err != nil {
			return JobState{}, fmt.Errorf("submit time: %w", err)
		}
		j.Submitted, j.Name, j.Comment = submitted, f[8], f[9]
		if j.Comment == "(null)" {
			j.Comment = ""
		}
	} else {
		j.Name = f[7]
	}
	id, err := parseJobID(j.JobID)
	if err != nil {
		return JobState{}, err
	}
	if id.step != "" {
		return JobState{}, fmt.Errorf("job ID %q is a step, not a job", j.JobID)
	}
	for _, num := range []string{j.RawJobID, j.ArrayJobID} {
		if _, err := atoiNonNeg(num); err != nil {
			return JobState{}, fmt.Errorf("job ID: %w", err)
		}
	}
	if !validState(string(j.State)) {
		return JobState{}, fmt.Errorf("bad state %q", j.State)
	}
	switch task := f[3]; {
	case task == "N/A":
		if id.tasks != "" {
			return JobState{}, errors.New("array job ID with task N/A")
		}
	case strings.HasSuffix(task, "..."):
		return JobState{}, ErrTruncated
	case task != id.tasks:
		return JobState{}, fmt.Errorf("array task %q does not match job ID %q", task, j.JobID)
	case id.base != j.ArrayJobID:
		return JobState{}, fmt.Errorf("job ID %q does not belong to array %s", j.JobID, j.ArrayJobID)
	default:
		if j.ArrayTasks, j.Throttle, err = ParseArrayTasks(task); err != nil {
			return JobState{}, err
		}
	}
	return j, nil
}
