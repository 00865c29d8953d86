package store

import (
	"bytes"
	"testing"
)

// FuzzReadSegment reads arbitrary bytes as a segment: it never panics, every
// record it returns is a whole line ending in a newline with a run ID and a
// known status, and cutting the input where the report says the complete
// lines end reads the same records.
func FuzzReadSegment(f *testing.F) {
	f.Add([]byte(`{"v":1,"run_id":"0123456789abcdef","status":"completed","writer":"w"}` + "\n"))
	f.Add([]byte(`{"v":1,"run_id":"0123456789abcdef","status":"running"}` + "\n" + `{"v":1,"run_id":"01234`))
	f.Add([]byte(`{"v":9,"run_id":"x","status":"completed"}` + "\nnot json\n\n{}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var ids []string
		rep, err := ReadSegment(bytes.NewReader(data), func(r *Record, off int64, n int) error {
			if off < 0 || n <= 0 || off+int64(n) > int64(len(data)) || data[off+int64(n)-1] != '\n' {
				t.Fatalf("record at %d+%d is not a whole line of the %d bytes", off, n, len(data))
			}
			if r.RunID == "" || !r.Status.Valid() || r.Format > RecordFormat {
				t.Fatalf("record %+v should have been refused", r)
			}
			ids = append(ids, r.RunID)
			return nil
		})
		if err != nil {
			t.Fatalf("ReadSegment: %v", err)
		}
		if rep.Bytes > int64(len(data)) || rep.Records != len(ids) {
			t.Fatalf("report %+v for %d bytes and %d records", rep, len(data), len(ids))
		}
		again := 0
		rep2, _ := ReadSegment(bytes.NewReader(data[:rep.Bytes]), func(*Record, int64, int) error { again++; return nil })
		if again != len(ids) || rep2.Bytes != rep.Bytes {
			t.Fatalf("the complete lines alone read %d records up to %d, want %d up to %d", again, rep2.Bytes, len(ids), rep.Bytes)
		}
	})
}
