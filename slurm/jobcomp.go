package slurm

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// JobcompRecord is one line of the jobcomp/filetxt log ([Config.JobCompLoc]):
// slurmctld appends one when a job or array task ends, and when a running
// job is requeued (then with State PENDING). On a cluster without
// accounting it is the only record left after MinJobAge.
type JobcompRecord struct {
	JobID       string // the job's own ID; a task's raw job ID
	ArrayJobID  string // "" if not an array task
	ArrayTaskID int    // -1 if not an array task
	State       State
	ExitCode    int // from ExitCode=status:signal
	Signal      int
	Start, End  time.Time
	NodeList    string
	Name        string
	WorkDir     string
	// Fields holds every Key=value of the line as written.
	Fields map[string]string
}

// ParseJobcomp reads jobcomp/filetxt lines ("JobId=12 UserId=... ExitCode=0:0").
// The log is appended to while it is read, so unlike the command parsers it
// skips a line it cannot read (a torn last line, say) and counts it in
// skipped. Values may contain spaces; a value containing " Key=" cannot be
// told from the next field.
func ParseJobcomp(r io.Reader) (recs []JobcompRecord, skipped int, err error) {
	err = eachLine(r, func(_ int, line string) error {
		if strings.TrimSpace(line) == "" {
			return nil
		}
		rec, perr := parseJobcompLine(line)
		if perr != nil {
			skipped++
			return nil
		}
		recs = append(recs, rec)
		return nil
	})
	return recs, skipped, err
}

func parseJobcompLine(line string) (JobcompRecord, error) {
	fields := splitKeyValues(strings.TrimRight(line, " "))
	rec := JobcompRecord{ArrayTaskID: -1, Fields: fields}
	for _, key := range []string{"JobId", "JobState", "ExitCode", "EndTime"} {
		if _, ok := fields[key]; !ok {
			return JobcompRecord{}, fmt.Errorf("no %s", key)
		}
	}
	var err error
	rec.JobID = fields["JobId"]
	if _, err = atoiNonNeg(rec.JobID); err != nil {
		return JobcompRecord{}, fmt.Errorf("JobId: %w", err)
	}
	if rec.State = State(fields["JobState"]); !validState(string(rec.State)) {
		return JobcompRecord{}, fmt.Errorf("bad JobState %q", rec.State)
	}
	if rec.ExitCode, rec.Signal, err = parseExitCode(fields["ExitCode"]); err != nil {
		return JobcompRecord{}, err
	}
	if rec.Start, err = parseSlurmTime(fields["StartTime"]); err != nil {
		return JobcompRecord{}, err
	}
	if rec.End, err = parseSlurmTime(fields["EndTime"]); err != nil {
		return JobcompRecord{}, err
	}
	if a, ok := fields["ArrayJobId"]; ok {
		t, err := strconv.Atoi(fields["ArrayTaskId"])
		if _, aerr := atoiNonNeg(a); aerr != nil || err != nil || t < 0 {
			return JobcompRecord{}, fmt.Errorf("bad array IDs %q/%q", a, fields["ArrayTaskId"])
		}
		rec.ArrayJobID, rec.ArrayTaskID = a, t
	}
	rec.NodeList, rec.Name, rec.WorkDir = fields["NodeList"], fields["Name"], fields["WorkDir"]
	return rec, nil
}

// splitKeyValues splits "A=1 B=two words C=" into its fields: a word that
// starts with an identifier and "=" begins a field, any other word belongs
// to the value before it.
func splitKeyValues(line string) map[string]string {
	fields := map[string]string{}
	last := ""
	for _, word := range strings.Split(line, " ") {
		if key, value, ok := strings.Cut(word, "="); ok && isIdent(key) {
			fields[key], last = value, key
			continue
		}
		if last != "" {
			fields[last] += " " + word
		}
	}
	return fields
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		letter := r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z'
		if !letter && (i == 0 || (r < '0' || r > '9') && r != '_') {
			return false
		}
	}
	return true
}
