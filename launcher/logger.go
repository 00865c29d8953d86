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
	fieldCode       = "code" // a code fingerprint

	// A progress record (--log-format json).
	fieldDone    = "done"
	fieldRunning = "running"
	fieldElapsed = "elapsed"
	fieldETA     = "eta"

	// The closing error of a command (--log-format json).
	fieldExitCode = "exit_code"
	fieldHint     = "hint"
)

// NewLogger returns the logger metalab uses by default: lines of text,
// in colour and with the time of day on a terminal, plain and with the date
// otherwise. Piped, it used to write JSON while the progress lines and
// the closing error were text, and a batch log mixed both; now stderr
// holds one kind of line, and [NewJSONLogger] (--log-format json) makes
// all of it JSON. On a terminal, a log line never lands on the line of a
// progress bar.
func NewLogger(w io.Writer, level zerolog.Level) zerolog.Logger {
	cw := zerolog.ConsoleWriter{Out: lineWriter(w), TimeFormat: time.TimeOnly}
	if !isTerminal(w) {
		cw.NoColor, cw.TimeFormat = true, time.RFC3339
	}
	return zerolog.New(cw).Level(level).With().Timestamp().Logger()
}

// NewJSONLogger returns a logger that writes one JSON object a line, for
// tools that read a sweep's log.
func NewJSONLogger(w io.Writer, level zerolog.Level) zerolog.Logger {
	return zerolog.New(lineWriter(w)).Level(level).With().Timestamp().Logger()
}

func defaultLogger(l *zerolog.Logger) zerolog.Logger {
	if l != nil {
		return *l
	}
	return NewLogger(os.Stderr, zerolog.InfoLevel)
}
