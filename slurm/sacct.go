package slurm

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// SacctFields is the sacct --format list [ParseSacct] reads, with
// --parsable2 --noheader. JobName comes last because it may contain "|".
const SacctFields = "JobID,JobIDRaw,State,ExitCode,Start,End,ElapsedRaw,NodeList,JobName"

const sacctFieldCount = 9

// ErrAccountingDisabled is returned by [ParseSacct] for sacct's answer on a
// cluster without accounting storage (no slurmdbd).
var ErrAccountingDisabled = errors.New("slurm accounting storage is disabled")

// accountingDisabled reports whether text is sacct's message for a cluster
// without accounting storage; sacct prints it on stderr and exits 1.
func accountingDisabled(text string) bool {
	return strings.Contains(text, "accounting storage is disabled")
}

// AcctRecord is one line of sacct output: a job, an array task, a pending
// range of tasks, or a step of one of them.
type AcctRecord struct {
	JobID      string // as printed: "123", "123_4", "123_[5-9]", "123_4.batch"
	RawJobID   string // JobIDRaw: the task's own job ID ("130.batch" for its step)
	ArrayJobID string // "" if not an array
	ArrayTasks []int  // the task, or the tasks of a pending range; nil if not an array
	Step       string // "batch", "extern", "0", ...; "" for the job itself
	State      State
	// StateDetail is what follows the state word: "by 0" in
	// "CANCELLED by 0".
	StateDetail string
	ExitCode    int // the exit status of "2:0"
	Signal      int // the signal of "0:15"
	Start, End  time.Time
	Elapsed     time.Duration
	NodeList    string // "" while none is assigned
	Name        string
}

// ParseSacct reads the output of sacct --parsable2 --noheader --format
// [SacctFields]. Times are read in the local time zone, as sacct prints
// them; "Unknown" and "None" give the zero time. Blank lines are skipped;
// a line that does not fit stops it with a [*ParseError]. sacct's message
// for a cluster without accounting gives [ErrAccountingDisabled].
func ParseSacct(r io.Reader) ([]AcctRecord, error) {
	var recs []AcctRecord
	err := eachLine(r, func(n int, line string) error {
		if strings.TrimSpace(line) == "" {
			return nil
		}
		if accountingDisabled(line) {
			return ErrAccountingDisabled
		}
		rec, err := parseSacctLine(line)
		if err != nil {
			return &ParseError{Source: "sacct", Line: n, Text: line, Err: err}
		}
		recs = append(recs, rec)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return recs, nil
}

func parseSacctLine(line string) (AcctRecord, error) {
	f := strings.SplitN(line, "|", sacctFieldCount)
	if len(f) != sacctFieldCount {
		return AcctRecord{}, fmt.Errorf("%d |-separated fields, want %d (%s)", len(f), sacctFieldCount, SacctFields)
	}
	rec := AcctRecord{JobID: f[0], RawJobID: f[1], NodeList: f[7], Name: f[8]}
	id, err := parseJobID(rec.JobID)
	if err != nil {
		return AcctRecord{}, err
	}
	rec.Step = id.step
	if id.tasks != "" {
		rec.ArrayJobID = id.base
		if rec.ArrayTasks, _, err = ParseArrayTasks(id.tasks); err != nil {
			return AcctRecord{}, err
		}
	}
	if raw, err := parseJobID(rec.RawJobID); err != nil || raw.tasks != "" {
		return AcctRecord{}, fmt.Errorf("bad JobIDRaw %q", rec.RawJobID)
	}
	state, detail, _ := strings.Cut(f[2], " ")
	if rec.State, rec.StateDetail = State(state), detail; !validState(state) {
		return AcctRecord{}, fmt.Errorf("bad state %q", f[2])
	}
	if rec.ExitCode, rec.Signal, err = parseExitCode(f[3]); err != nil {
		return AcctRecord{}, err
	}
	if rec.Start, err = parseSlurmTime(f[4]); err != nil {
		return AcctRecord{}, fmt.Errorf("Start: %w", err)
	}
	if rec.End, err = parseSlurmTime(f[5]); err != nil {
		return AcctRecord{}, fmt.Errorf("End: %w", err)
	}
	secs, err := atoiNonNeg(f[6])
	if err != nil {
		return AcctRecord{}, fmt.Errorf("ElapsedRaw: %w", err)
	}
	rec.Elapsed = time.Duration(secs) * time.Second
	if rec.NodeList == "None assigned" {
		rec.NodeList = ""
	}
	return rec, nil
}

// parseExitCode reads "status:signal".
func parseExitCode(s string) (code, signal int, err error) {
	a, b, ok := strings.Cut(s, ":")
	if ok {
		code, err = atoiNonNeg(a)
	}
	if ok && err == nil {
		signal, err = atoiNonNeg(b)
	}
	if !ok || err != nil {
		return 0, 0, fmt.Errorf("bad exit code %q (want status:signal)", s)
	}
	return code, signal, nil
}

const slurmTimeLayout = "2006-01-02T15:04:05"

// parseSlurmTime reads a timestamp as the tools print it: local time
// without a zone, or "Unknown"/"None" for none.
func parseSlurmTime(s string) (time.Time, error) {
	switch s {
	case "Unknown", "None", "N/A", "":
		return time.Time{}, nil
	}
	return time.ParseInLocation(slurmTimeLayout, s, time.Local)
}
