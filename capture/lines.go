package capture

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// Default limits on what one run may capture; see [Limits].
const (
	DefaultMaxLine         = 16 << 20
	DefaultMaxCaptureSize  = 64 << 20
	DefaultMaxArtifactSize = 1 << 30
)

// Limits bound what one run can make metalab hold or copy, so that its
// memory and disk use do not depend on what a run writes. The zero value
// of a field means its default.
type Limits struct {
	// MaxLine is the longest capture line, newline excluded
	// (DefaultMaxLine). A longer line is skipped without being held in
	// memory, and fails the run.
	MaxLine int
	// MaxCaptureSize is how many bytes of capture lines one run may send
	// in all (DefaultMaxCaptureSize); past it the run fails and the rest
	// is not read.
	MaxCaptureSize int64
	// MaxArtifactSize is the largest artifact file (DefaultMaxArtifactSize).
	MaxArtifactSize int64
}

// WithDefaults returns l with every zero field set to its default.
func (l Limits) WithDefaults() Limits {
	if l.MaxLine <= 0 {
		l.MaxLine = DefaultMaxLine
	}
	if l.MaxCaptureSize <= 0 {
		l.MaxCaptureSize = DefaultMaxCaptureSize
	}
	if l.MaxArtifactSize <= 0 {
		l.MaxArtifactSize = DefaultMaxArtifactSize
	}
	return l
}

// ErrLineTooLong is returned by [LineReader.Next] for a line longer than
// the reader's limit; the line has been read past and dropped.
var ErrLineTooLong = errors.New("capture line too long")

// LineReader reads newline-terminated lines, holding at most max bytes of
// one: a longer line is read to its end in pieces and dropped. A run that
// writes a 300 MB line costs metalab max bytes of memory, not 300 MB.
type LineReader struct {
	br   *bufio.Reader
	max  int
	line []byte
}

// NewLineReader reads lines of at most max bytes (newline excluded) from r.
func NewLineReader(r io.Reader, max int) *LineReader {
	return &LineReader{br: bufio.NewReaderSize(r, 64<<10), max: max}
}

// Next returns the next line without its line ending ("\n" or "\r\n") and
// the number of bytes it took in the input, newline included. The line is
// valid until the next call. A last line without a newline is returned
// too. At the end it returns io.EOF; for a line over the limit it returns
// [ErrLineTooLong] with n set, and the next call goes on after it.
func (lr *LineReader) Next() (line []byte, n int64, err error) {
	lr.line = lr.line[:0]
	long := false
	for {
		chunk, err := lr.br.ReadSlice('\n')
		n += int64(len(chunk))
		if !long {
			if len(lr.line)+len(chunk) > lr.max+2 { // room for "\r\n"
				long = true
				// Let the collector have it: a line near the limit is
				// rare, and its buffer should not stay for the run.
				lr.line = nil
			} else {
				lr.line = append(lr.line, chunk...)
			}
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && n == 0:
			return nil, 0, io.EOF
		case err != nil && err != io.EOF:
			return nil, n, err
		}
		if long {
			return nil, n, fmt.Errorf("%w: %d bytes, the limit is %s", ErrLineTooLong, n, Size(int64(lr.max)))
		}
		line = bytes.TrimRight(lr.line, "\r\n")
		if len(line) > lr.max {
			return nil, n, fmt.Errorf("%w: %d bytes, the limit is %s", ErrLineTooLong, n, Size(int64(lr.max)))
		}
		return line, n, nil
	}
}

// Size writes a byte count for a message: 16 MiB, 1 GiB, 300 B.
func Size(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}
