package store

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
)

// Torn describes a line of a segment that is not a record.
type Torn struct {
	Segment string // segment name; empty from ReadSegment
	Offset  int64  // of the line's first byte
	Length  int    // of the line, newline included if it has one
	Reason  string
}

// ReadReport summarises a [ReadSegment] call.
type ReadReport struct {
	Records int
	Bytes   int64 // offset just past the last complete line
	Torn    []Torn
}

// reasonIncomplete is the Reason of a last line without a newline: a write
// that a crash cut short, or one still in progress.
const reasonIncomplete = "incomplete last line (no newline)"

// ReadSegment reads a segment's records and calls fn with each, its offset
// and its length in bytes (newline included); fn may keep rec. A line is a
// record only when it ends in a newline and decodes into a [Record] with a
// run ID, a known status and a format this code reads. Other lines are
// reported in the result's Torn and skipped; a last line without a newline
// ends the reading, and Bytes stops before it. An error from fn or from r
// ends the reading and is returned.
func ReadSegment(r io.Reader, fn func(rec *Record, off int64, n int) error) (ReadReport, error) {
	return readSegment(r, 0, fn, nil)
}

// readSegment is ReadSegment for a reader positioned at offset base of the
// segment. torn, when not nil, is called with each complete line that is
// not a record (an incomplete last line is only in the report).
func readSegment(r io.Reader, base int64, fn func(*Record, int64, int) error, torn func(Torn) error) (ReadReport, error) {
	rep := ReadReport{Bytes: base}
	br := bufio.NewReaderSize(r, 1<<20)
	var long []byte
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A line longer than the buffer: assemble it.
			long = append(long[:0], line...)
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if n := len(line); n > 0 && line[n-1] == '\n' {
			off := rep.Bytes
			rep.Bytes += int64(n)
			rec, reason := decodeLine(line)
			if reason != "" {
				t := Torn{Offset: off, Length: n, Reason: reason}
				rep.Torn = append(rep.Torn, t)
				if torn != nil {
					if err := torn(t); err != nil {
						return rep, err
					}
				}
			} else {
				rep.Records++
				if err := fn(rec, off, n); err != nil {
					return rep, err
				}
			}
		} else if n > 0 && err == io.EOF {
			rep.Torn = append(rep.Torn, Torn{Offset: rep.Bytes, Length: n, Reason: reasonIncomplete})
		}
		if err == io.EOF {
			return rep, nil
		}
		if err != nil {
			return rep, err
		}
	}
}

// recordHead is the part of a record that tells whether the rest can be
// read.
type recordHead struct {
	Format int `json:"v"`
}

// decodeLine decodes one line into a record, or says why it is not one.
func decodeLine(line []byte) (*Record, string) {
	rec := new(Record)
	err := json.Unmarshal(line, rec)
	if err != nil {
		var h recordHead
		if json.Unmarshal(line, &h) == nil && h.Format > RecordFormat {
			err = nil // reported below
		} else if json.Valid(line) {
			return nil, "not a record: " + err.Error()
		} else {
			return nil, "invalid JSON: " + err.Error()
		}
		rec.Format = h.Format
	}
	switch {
	case rec.Format > RecordFormat:
		return nil, fmt.Sprintf("record format %d is newer than this metalab reads (%d)", rec.Format, RecordFormat)
	case rec.RunID == "":
		return nil, "record without run_id"
	case rec.Status == "":
		return nil, "record without status"
	case !rec.Status.Valid():
		return nil, fmt.Sprintf("unknown status %q", rec.Status)
	}
	return rec, ""
}
