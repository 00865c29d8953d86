package slurm

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ParseError is a line of scheduler output that a parser could not read.
// The parsers of command output stop at the first one: output that does not
// match the requested format means the tool or its version is not what this
// package expects, and guessing would misreport jobs.
type ParseError struct {
	Source string // "squeue", "sacct", "sbatch", "scontrol show config", "jobcomp"
	Line   int    // 1-based
	Text   string
	Err    error
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s output line %d: %v: %q", e.Source, e.Line, e.Err, clip(e.Text, 160))
}

func (e *ParseError) Unwrap() error { return e.Err }

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// eachLine calls fn with every line of r (without its line ending) and its
// 1-based number. Lines may be of any length: a pending array range can be
// megabytes long.
func eachLine(r io.Reader, fn func(n int, line string) error) error {
	br := bufio.NewReader(r)
	for n := 1; ; n++ {
		line, err := br.ReadString('\n')
		if line != "" {
			if ferr := fn(n, strings.TrimRight(line, "\r\n")); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
