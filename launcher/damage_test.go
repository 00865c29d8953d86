package launcher

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/metalab-hpc/metalab/store"
)

// damagedStore is a store of 10 completed runs in segment w, collected,
// whose end record of run 4 (line 9, of 20) was then overwritten with
// zeros; silently, with the segment's modification time put back, or not.
func damagedStore(t *testing.T, silently bool) *store.Store {
	t.Helper()
	st := store.TestStore(t)
	if err := st.Init(store.Manifest{Experiment: "e", Version: "1", Identity: "x"}); err != nil {
		t.Fatal(err)
	}
	w, err := st.NewWriter(store.WriterOptions{Name: "w"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range 10 {
		id := fmt.Sprintf("%016x", i)
		for _, s := range []store.Status{store.StatusRunning, store.StatusCompleted} {
			r := &Record{RunID: id, Status: s, Started: start}
			if s == store.StatusCompleted {
				r.Ended = start.Add(time.Second)
			}
			if err := w.Append(r); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Collect(context.Background()); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(st.Dir(), "segments", "w.jsonl")
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(b, []byte("\n"))
	off := len(bytes.Join(lines[:9], nil))
	copy(b[off:], make([]byte, len(lines[9])))
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if silently {
		if err := os.Chtimes(path, info.ModTime(), info.ModTime()); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// TestStreamDamaged: the streamed exports write every record they can read
// of a damaged store, and then return the damage.
func TestStreamDamaged(t *testing.T) {
	for name, stream := range map[string]func(*store.Store, []store.Status, *bytes.Buffer) error{
		"csv": func(st *store.Store, s []store.Status, b *bytes.Buffer) error {
			return streamCSV(st, s, experimentFilter{}, b)
		},
		"jsonl": func(st *store.Store, s []store.Status, b *bytes.Buffer) error {
			return streamJSONL(st, s, experimentFilter{}, b)
		},
	} {
		t.Run(name, func(t *testing.T) {
			st := damagedStore(t, true)
			var out bytes.Buffer
			err := stream(st, nil, &out)
			var de *store.DamageError
			if !errors.As(err, &de) || len(de.Damage) != 1 || de.Damage[0].Records != 1 {
				t.Fatalf("stream()=%v, want a DamageError for one record", err)
			}
			if got, want := strings.Count(out.String(), "completed"), 9; got != want {
				t.Errorf("stream wrote %d completed runs, want the %d readable", got, want)
			}
		})
	}
}

// TestDamageExit: a damaged store makes a reader exit 3 with a hint naming
// the command that repairs it, which is collect when the reader could leave
// its note, and collect --verify when it could not.
func TestDamageExit(t *testing.T) {
	de := &store.DamageError{Dir: "st", Damage: []store.Damage{{Segment: "w", Offset: 10, Length: 20, Records: 1, Runs: 1}}}
	tests := []struct {
		noted bool
		want  string
	}{
		{true, "'prog collect --store st' repairs the indexes"},
		{false, "'prog collect --verify --store st' repairs the indexes"},
	}
	for _, tt := range tests {
		de.Noted = tt.noted
		err := damageExit("prog", "st", fmt.Errorf("reading: %w", de))
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != ExitDamaged || !strings.HasPrefix(ee.Hint(), tt.want) {
			t.Errorf("damageExit(noted=%t)=%#v, want exit %d and a hint that begins %q", tt.noted, err, ExitDamaged, tt.want)
		}
	}
	if err := damageExit("prog", "st", nil); err != nil {
		t.Errorf("damageExit(nil)=%v", err)
	}
	other := errors.New("other")
	if err := damageExit("prog", "st", other); err != other {
		t.Errorf("damageExit(other)=%v, want it unchanged", err)
	}
}

// TestResultsDamaged: results prints what it reads, exits 3; after the
// hinted collect, it succeeds, without the lost run.
func TestResultsDamaged(t *testing.T) {
	st := damagedStore(t, true)
	a := &App{Name: "metalab"}
	var out, errOut bytes.Buffer
	err := a.runResults(resultsOptions{Store: st.Dir(), Format: "csv"}, &out, &errOut)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != ExitDamaged {
		t.Fatalf("runResults()=%v, want exit %d", err, ExitDamaged)
	}
	if got, want := strings.Count(out.String(), ",completed,"), 9; got != want {
		t.Errorf("results printed %d rows, want %d", got, want)
	}
	out.Reset()
	if err := a.runCollect(context.Background(), NewLogger(&errOut, 0), collectOptions{Store: st.Dir()}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "repaired the indexes: 1 run lost") {
		t.Errorf("collect printed:\n%s", out.String())
	}
	out.Reset()
	errOut.Reset()
	if err := a.runResults(resultsOptions{Store: st.Dir(), Format: "table"}, &out, &errOut); err != nil || errOut.Len() > 0 {
		t.Errorf("runResults() after collect: %v\n%s", err, errOut.String())
	}
	if got, want := strings.Count(out.String(), "completed"), 9; got != want {
		t.Errorf("results after collect printed %d completed runs, want %d", got, want)
	}
}

// TestResultsRepairs: damage that results' own collect finds (the segment
// was rewritten in place) is repaired before reading, with a warning.
func TestResultsRepairs(t *testing.T) {
	st := damagedStore(t, false)
	a := &App{Name: "metalab"}
	var out, errOut bytes.Buffer
	if err := a.runResults(resultsOptions{Store: st.Dir(), Format: "table"}, &out, &errOut); err != nil {
		t.Fatalf("runResults()=%v", err)
	}
	if got, want := strings.Count(out.String(), "completed"), 9; got != want {
		t.Errorf("results printed %d completed runs, want %d", got, want)
	}
	if !strings.Contains(errOut.String(), "metalab: warning: 1 run lost its records to a damaged segment") {
		t.Errorf("results stderr:\n%s\nwant a warning about the lost run", errOut.String())
	}
}
