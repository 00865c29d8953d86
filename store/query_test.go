package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestStatusesBeforeCollect(t *testing.T) {
	s := TestStore(t)
	if _, err := s.Statuses(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Statuses() before Collect: %v, want fs.ErrNotExist", err)
	}
	if err := s.Records(func(*Record) error { return nil }); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Records() before Collect: %v, want fs.ErrNotExist", err)
	}
	rep := collect(t, s)
	if got, want := fmt.Sprint(rep), fmt.Sprint(CollectReport{}); got != want {
		t.Errorf("Collect of an empty store: %s, want %s", got, want)
	}
	st, err := s.Statuses()
	if err != nil || len(st) != 0 {
		t.Errorf("Statuses()=%v, %v, want none", st, err)
	}
}

func TestRecordsOrder(t *testing.T) {
	s := TestStore(t)
	wb := newWriter(t, s, "b", "n")
	wa := newWriter(t, s, "a", "n")
	for i := range 10 {
		w := []*Writer{wa, wb}[i%2]
		if err := w.Append(testRecord(20-i, StatusCompleted, i)); err != nil {
			t.Fatal(err)
		}
	}
	wa.Close()
	wb.Close()
	collect(t, s)
	var got []string
	stop := errors.New("stop")
	err := s.Records(func(r *Record) error {
		got = append(got, r.Writer+":"+strings.TrimLeft(r.RunID, "0"))
		if len(got) == 7 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) {
		t.Errorf("Records()=%v, want the error of fn", err)
	}
	if got, want := strings.Join(got, " "), "a:14 a:12 a:10 a:e a:c b:13 b:11"; got != want {
		t.Errorf("Records order %s, want %s", got, want)
	}
}

// TestRecordsStaleIndex changes a segment behind the index's back: Records
// says so rather than return the wrong record, and the next Collect puts the
// index right.
func TestRecordsStaleIndex(t *testing.T) {
	s := TestStore(t)
	line := encode(t, testRecord(1, StatusCompleted, 1)) + "\n"
	writeSegment(t, s, "x", line)
	collect(t, s)
	os.Remove(s.path(collectStateFile))
	writeSegment(t, s, "x", strings.Replace(line, runID(1), runID(2), 1))
	err := s.Records(func(*Record) error { return nil })
	var de *DamageError
	if !errors.As(err, &de) || len(de.Damage) != 1 || de.Damage[0].Records != 1 {
		t.Fatalf("Records()=%v, want a DamageError for one record", err)
	}
	if rep := collect(t, s); rep.Lost != 1 || rep.Runs != 1 {
		t.Errorf("Collect: lost=%d runs=%d, want 1 and 1", rep.Lost, rep.Runs)
	}
	var got []string
	if err := s.Records(func(r *Record) error { got = append(got, r.RunID); return nil }); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(got, " "), runID(2); got != want {
		t.Errorf("Records after Collect: %s, want %s", got, want)
	}
}

func TestFailedAttempts(t *testing.T) {
	s := TestStore(t)
	w := newWriter(t, s, "w", "n")
	for _, r := range []*Record{
		testRecord(1, StatusRunning, 1),
		testRecord(1, StatusFailed, 2),
		testRecord(1, StatusRunning, 3),
		testRecord(1, StatusFailed, 4),
		testRecord(1, StatusCompleted, 5), // made good: still two failed attempts
		testRecord(2, StatusFailed, 1),
		testRecord(3, StatusCancelled, 1), // not a failure
		testRecord(4, StatusCompleted, 1),
	} {
		if err := w.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	writeSegment(t, s, "crashed", encode(t, testRecord(2, StatusFailed, 2))+"\n")
	want := fmt.Sprint(map[string]int{runID(1): 2, runID(2): 2})
	for _, step := range []string{"collect", "again", "rebuilt"} {
		if step == "rebuilt" {
			path := filepath.Join(s.Dir(), "index", "store.sqlite")
			s.forget(path)
			os.Remove(path)
		}
		collect(t, s)
		got, err := s.FailedAttempts()
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != want {
			t.Errorf("%s: FailedAttempts()=%v, want %s", step, got, want)
		}
	}
}

func TestCompletedAmong(t *testing.T) {
	s := TestStore(t)
	w := newWriter(t, s, "w", "n1")
	var ids []string
	wantIDs := map[string]bool{}
	for i := range 1200 {
		ids = append(ids, runID(i))
		st := []Status{StatusCompleted, StatusFailed, StatusRunning}[i%3]
		if i == 1000 {
			continue // only in a crashed segment
		}
		if err := w.Append(testRecord(i, st, i)); err != nil {
			t.Fatal(err)
		}
		if st == StatusCompleted {
			wantIDs[runID(i)] = true
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	writeSegment(t, s, "crashed", encode(t, testRecord(1000, StatusCompleted, 1))+"\n")
	garbage := filepath.Join(s.Dir(), "index", "nodes", "n2.sqlite")
	if err := os.WriteFile(garbage, []byte(strings.Repeat("garbage ", 1000)), 0o666); err != nil {
		t.Fatal(err)
	}
	check := func(step string, ids []string, want map[string]bool) {
		t.Helper()
		got, err := s.CompletedAmong(ids)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := fmt.Sprint(got), fmt.Sprint(want); g != w {
			t.Errorf("%s: CompletedAmong() gives %d runs, want %d", step, len(got), len(want))
		}
	}
	// Before Collect, from the node index alone: the crashed segment's
	// record is not seen yet.
	check("from the node index", ids, wantIDs)
	check("no ids", nil, map[string]bool{})
	check("a few ids", []string{runID(0), runID(1), runID(3), "nonexistent"}, map[string]bool{runID(0): true, runID(3): true})

	collect(t, s)
	wantIDs[runID(1000)] = true
	check("after Collect", ids, wantIDs)
	// Without the node index, the store index has it all.
	os.Remove(filepath.Join(s.Dir(), "index", "nodes", "n1.sqlite"))
	check("from the store index", ids, wantIDs)
}

// TestOddStorePath uses a store directory whose name SQLite would take for
// URI syntax.
func TestOddStorePath(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "we?ird #dir%20&x=y"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w := newWriter(t, s, "w", "n")
	if err := w.Append(testRecord(1, StatusCompleted, 1)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.IndexErr(); err != nil {
		t.Fatal(err)
	}
	rep := collect(t, s)
	if got, want := fmt.Sprint(rep.Completed, rep.Records, rep.Rebuilt), "1 0 []"; got != want {
		t.Errorf("Collect: completed, records read, rebuilt = %s, want %s", got, want)
	}
	done, err := s.CompletedAmong([]string{runID(1)})
	if err != nil || !done[runID(1)] {
		t.Errorf("CompletedAmong()=%v, %v, want run 1", done, err)
	}
}

func TestSnapshotOf(t *testing.T) {
	s := TestStore(t)
	w := newWriter(t, s, "a", "n")
	// Runs 0-5 completed at times 1-6, 6-7 still running, 8 failed.
	for i := range 6 {
		if err := w.Append(testRecord(i, StatusCompleted, i+1)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 6; i < 8; i++ {
		if err := w.Append(testRecord(i, StatusRunning, i+1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Append(testRecord(8, StatusFailed, 9)); err != nil {
		t.Fatal(err)
	}
	w.Close()
	collect(t, s)
	ids := func(status Status, limit int) string {
		t.Helper()
		sn, err := s.SnapshotOf(status, limit)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		if err := sn.Records(func(r *Record) error {
			if r.Status != status {
				t.Errorf("SnapshotOf(%s) gave a record of status %s", status, r.Status)
			}
			got = append(got, strings.TrimLeft(r.RunID, "0"))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return strings.Join(got, " ")
	}
	for _, tt := range []struct {
		status Status
		limit  int
		want   string
	}{
		{StatusCompleted, 0, " 1 2 3 4 5"},
		{StatusCompleted, 2, "4 5"}, // the latest two, in segment order
		{StatusRunning, 0, "6 7"},
		{StatusFailed, 10, "8"},
		{StatusCancelled, 0, ""},
	} {
		if got := ids(tt.status, tt.limit); got != tt.want {
			t.Errorf("SnapshotOf(%s, %d) runs %q, want %q", tt.status, tt.limit, got, tt.want)
		}
	}
}
