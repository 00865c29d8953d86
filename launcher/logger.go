package launcher

import (
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"
)

// Log field names, fixed so that JSON logs can be queried.
const (
	fieldStore   = "store"
	fieldRunID   = "run_id"
	fieldError   = "error"
	fieldAttempt = "attempt" // 1 for a run's first try
	fieldWorkers = "workers"
	fieldStopAt  = "stop_at" // when a task stops starting runs

	// A process named in a message (the holder of a lock).
	fieldHost  = "host"
	fieldPID   = "pid"
	fieldEntry = "entry"

	// A worker's shard.
	fieldSubmission = "submission"
	fieldArray      = "array"
	fieldTask       = "task"
	fieldEnd        = "end"    // when the task's time is up
	fieldMargin     = "margin" // before the end, when no run starts any more

	// Counts of runs.
	fieldRuns       = "runs"
	fieldCompleted  = "completed"
	fieldFailed     = "failed"
	fieldCancelled  = "cancelled"
	fieldSkipped    = "skipped"
	fieldNotStarted = "not_started"
	fieldToRun      = "to_run"
	fieldDuplicates = "duplicates"
)

// NewLogger returns the logger metalab uses: human-readable on a terminal,
// JSON lines otherwise (a batch job's log is read by tools).
func NewLogger(w io.Writer, level zerolog.Level) zerolog.Logger {
	if isTerminal(w) {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

func defaultLogger(l *zerolog.Logger) zerolog.Logger {
	if l != nil {
		return *l
	}
	return NewLogger(os.Stderr, zerolog.InfoLevel)
}
