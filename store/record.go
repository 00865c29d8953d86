package store

import (
	"time"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/params"
)

// RecordFormat is the version of the record encoding this code writes.
const RecordFormat = 1

// Status is the state of one run as recorded in the store.
type Status string

const (
	// StatusRunning: the run started; no end record was written (yet).
	StatusRunning Status = "running"
	// StatusCompleted: the operation returned without error.
	StatusCompleted Status = "completed"
	// StatusFailed: the operation returned an error, panicked, exited
	// non-zero, timed out or was killed by a signal.
	StatusFailed Status = "failed"
	// StatusCancelled: the run was interrupted by a cancellation (Ctrl-C,
	// SIGTERM, a time limit) and will run again on resume.
	StatusCancelled Status = "cancelled"
)

// Rank orders statuses for deduplication: among several records of one run
// ID, the highest rank wins, and among equal ranks the later end (or start)
// time wins.
func (s Status) Rank() int {
	switch s {
	case StatusCompleted:
		return 4
	case StatusFailed:
		return 3
	case StatusCancelled:
		return 2
	case StatusRunning:
		return 1
	}
	return 0
}

// Valid reports whether s is one of the known statuses.
func (s Status) Valid() bool { return s.Rank() > 0 }

// LogRef locates a run's output inside a shared log file of its worker.
type LogRef struct {
	File   string `json:"file"` // relative to the store directory
	Offset int64  `json:"offset"`
	Length int64  `json:"length"`
}

// Record is one line of a segment: the start or the end of one run.
type Record struct {
	Format     int          `json:"v"`
	RunID      string       `json:"run_id"`
	Status     Status       `json:"status"`
	Experiment string       `json:"experiment"`
	Version    string       `json:"version"`
	Params     params.Point `json:"params"`
	SeedBase   int64        `json:"seed_base"`
	Replicate  int          `json:"replicate"`
	Seed       uint64       `json:"seed"`
	// Code is the fingerprint of the code that ran (see [Code]); empty in
	// the records of a metalab before code fingerprints.
	Code string `json:"code,omitempty"`

	capture.Result

	Error      string  `json:"error,omitempty"`
	Stack      string  `json:"stack,omitempty"`
	ExitCode   *int    `json:"exit_code,omitempty"`
	Signal     string  `json:"signal,omitempty"`
	StderrTail string  `json:"stderr_tail,omitempty"`
	Stdout     *LogRef `json:"stdout,omitempty"`
	Stderr     *LogRef `json:"stderr,omitempty"`

	Started   time.Time `json:"started"`
	Ended     time.Time `json:"ended,omitzero"`
	Host      string    `json:"host,omitempty"`
	PID       int       `json:"pid,omitempty"`
	Writer    string    `json:"writer,omitempty"` // segment name, without extension
	PeakRSSKB int64     `json:"peak_rss_kb,omitempty"`

	SlurmJobID      string `json:"slurm_job_id,omitempty"`
	SlurmArrayJobID string `json:"slurm_array_job_id,omitempty"`
	SlurmTaskID     string `json:"slurm_array_task_id,omitempty"`
	SlurmRestart    int    `json:"slurm_restart_count,omitempty"`
}

// Duration is the run's wall time, or 0 for a run that has not ended.
func (r *Record) Duration() time.Duration {
	if r.Ended.IsZero() || r.Started.IsZero() {
		return 0
	}
	return r.Ended.Sub(r.Started)
}

// Beats reports whether r should replace old as the record of their run ID.
func (r *Record) Beats(old *Record) bool {
	if a, b := r.Status.Rank(), old.Status.Rank(); a != b {
		return a > b
	}
	return r.When().After(old.When())
}

// When is the record's end time, or its start time when it has none.
func (r *Record) When() time.Time {
	if !r.Ended.IsZero() {
		return r.Ended
	}
	return r.Started
}
