package launcher

import (
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"
)

// Log field names, fixed so that JSON logs can be queried.
const (
	fieldStore = "store"
	fieldRunID = "run_id"
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
