package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

// readFile reads a segment file with ReadSegment, returning its records.
func readFile(t testing.TB, path string) ([]*Record, ReadReport) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []*Record
	rep, err := ReadSegment(f, func(r *Record, off int64, n int) error {
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return recs, rep
}

// TestReadSegmentTornEveryOffset cuts the last record of a segment at every
// byte: everything before is read, and the cut record is reported as torn
// and never read.
func TestReadSegmentTornEveryOffset(t *testing.T) {
	var seg bytes.Buffer
	for i := range 3 {
		seg.WriteString(encode(t, testRecord(i, StatusCompleted, i)) + "\n")
	}
	start := seg.Len()
	last := encode(t, testRecord(99, StatusCompleted, 99)) + "\n"
	seg.WriteString(last)
	full := seg.Bytes()

	cuts, tornReported := 0, 0
	defer func() {
		figures(t, "cuts=%d (every byte offset of the last record) records_before_read=%d torn_reported=%d misread=%d",
			cuts, 3*cuts, tornReported, map[bool]int{false: 0, true: 1}[t.Failed()])
	}()
	for cut := start; cut <= len(full); cut++ {
		cuts++
		var ids []string
		rep, err := ReadSegment(bytes.NewReader(full[:cut]), func(r *Record, off int64, n int) error {
			ids = append(ids, r.RunID)
			return nil
		})
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		wantIDs := []string{runID(0), runID(1), runID(2)}
		var wantTorn []Torn
		switch {
		case cut == len(full):
			wantIDs = append(wantIDs, runID(99))
		case cut > start:
			wantTorn = []Torn{{Offset: int64(start), Length: cut - start, Reason: reasonIncomplete}}
		}
		if got, want := strings.Join(ids, ","), strings.Join(wantIDs, ","); got != want {
			t.Fatalf("cut %d: records %s, want %s", cut, got, want)
		}
		if got, want := rep.Records, len(wantIDs); got != want {
			t.Errorf("cut %d: Records=%d, want %d", cut, got, want)
		}
		wantBytes := int64(start)
		if cut == len(full) {
			wantBytes = int64(cut)
		}
		if got, want := rep.Bytes, wantBytes; got != want {
			t.Errorf("cut %d: Bytes=%d, want %d", cut, got, want)
		}
		if got, want := fmt.Sprint(rep.Torn), fmt.Sprint(wantTorn); got != want {
			t.Errorf("cut %d: Torn=%s, want %s", cut, got, want)
		}
		tornReported += len(rep.Torn)
	}
}

// TestReadSegmentBadLines puts a line that is not a record between two good
// ones: it is reported with a reason and skipped, and reading goes on.
func TestReadSegmentBadLines(t *testing.T) {
	good1 := encode(t, testRecord(1, StatusCompleted, 1)) + "\n"
	good2 := encode(t, testRecord(2, StatusFailed, 2)) + "\n"
	tests := []struct {
		name, line, reason string
	}{
		{"garbage", "\x00\x00garbage\x00\n", "invalid JSON"},
		{"half a record", good1[:40] + "\n", "invalid JSON"},
		{"empty line", "\n", "invalid JSON"},
		{"not an object", "[1,2,3]\n", "not a record"},
		{"wrong type", `{"v":1,"run_id":"00000000000000aa","status":"completed","seed":"x"}` + "\n", "not a record"},
		{"no run_id", `{"v":1,"status":"completed"}` + "\n", "without run_id"},
		{"no status", `{"v":1,"run_id":"00000000000000aa"}` + "\n", "without status"},
		{"unknown status", `{"v":1,"run_id":"00000000000000aa","status":"exploded"}` + "\n", `unknown status "exploded"`},
		{"newer format", `{"v":2,"run_id":"00000000000000aa","status":"completed"}` + "\n", "format 2 is newer"},
		{"newer format, new shape", `{"v":3,"run_id":["x"],"status":{}}` + "\n", "format 3 is newer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seg := good1 + tt.line + good2
			var got []string
			rep, err := ReadSegment(strings.NewReader(seg), func(r *Record, off int64, n int) error {
				got = append(got, fmt.Sprintf("%s@%d+%d", r.RunID, off, n))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			want := []string{
				fmt.Sprintf("%s@0+%d", runID(1), len(good1)),
				fmt.Sprintf("%s@%d+%d", runID(2), len(good1)+len(tt.line), len(good2)),
			}
			if g, w := strings.Join(got, " "), strings.Join(want, " "); g != w {
				t.Errorf("records %s, want %s", g, w)
			}
			if got, want := rep.Bytes, int64(len(seg)); got != want {
				t.Errorf("Bytes=%d, want %d", got, want)
			}
			if len(rep.Torn) != 1 {
				t.Fatalf("Torn=%v, want one", rep.Torn)
			}
			if got, want := rep.Torn[0].Offset, int64(len(good1)); got != want {
				t.Errorf("Torn[0].Offset=%d, want %d", got, want)
			}
			if got, want := rep.Torn[0].Length, len(tt.line); got != want {
				t.Errorf("Torn[0].Length=%d, want %d", got, want)
			}
			if !strings.Contains(rep.Torn[0].Reason, tt.reason) {
				t.Errorf("Torn[0].Reason=%q, want it to contain %q", rep.Torn[0].Reason, tt.reason)
			}
		})
	}
}

func TestReadSegmentLongLines(t *testing.T) {
	var seg bytes.Buffer
	var want []int
	for i, size := range []int{10, 3 << 20, 100, 1<<20 - 1, 1 << 20, 5} {
		r := testRecord(i, StatusCompleted, i)
		r.Logs = []string{strings.Repeat("x", size)}
		seg.WriteString(encode(t, r) + "\n")
		want = append(want, size)
	}
	var got []int
	rep, err := ReadSegment(&seg, func(r *Record, off int64, n int) error {
		got = append(got, len(r.Logs[0]))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if g, w := fmt.Sprint(got), fmt.Sprint(want); g != w {
		t.Errorf("log sizes %s, want %s", g, w)
	}
	if len(rep.Torn) != 0 {
		t.Errorf("Torn=%v", rep.Torn)
	}
}

func TestReadSegmentStopsOnError(t *testing.T) {
	seg := encode(t, testRecord(1, StatusCompleted, 1)) + "\n" + encode(t, testRecord(2, StatusCompleted, 2)) + "\n"
	stop := errors.New("stop")
	calls := 0
	_, err := ReadSegment(strings.NewReader(seg), func(*Record, int64, int) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("ReadSegment()=%v after %d calls, want stop after 1", err, calls)
	}
}
