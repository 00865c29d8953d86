package store

import (
	"fmt"
	"os"
	"testing"
)

// TestCollectAfterUnchanged checks that a Collect which finds the indexes
// as the last one left them (and so skips their checks, merges and counts)
// still sees every new record, whether a node index has it or only its
// segment, and reports what a Collect without the saved state reports.
func TestCollectAfterUnchanged(t *testing.T) {
	fx := newFixture(t)
	first := collect(t, fx.s)
	if _, err := os.Stat(fx.s.path(collectStateFile)); err != nil {
		t.Fatalf("Collect saved no state: %v", err)
	}
	second := collect(t, fx.s)
	second.Records, first.Records = 0, 0 // records read from segments
	if got, want := fmt.Sprint(second), fmt.Sprint(first); got != want {
		t.Fatalf("Collect of an unchanged store reports\n%s\nwant\n%s", got, want)
	}

	steps := []struct {
		name string
		add  func(i int)
	}{
		{"node index updated", func(i int) {
			w := newWriter(t, fx.s, fmt.Sprintf("new-%d", i), "n1")
			if err := w.Append(testRecord(1000+i, StatusCompleted, 1)); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
		}},
		{"segment only", func(i int) {
			f, err := os.OpenFile(fx.s.segmentPath("c"), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			r := testRecord(1000+i, StatusFailed, 1)
			r.Format = RecordFormat
			if _, err := f.WriteString(encode(t, r) + "\n"); err != nil {
				t.Fatal(err)
			}
		}},
	}
	runs := first.Runs
	for i, step := range steps {
		step.add(i)
		runs++
		rep := collect(t, fx.s)
		if got, want := rep.Runs, runs; got != want {
			t.Fatalf("after %s: Collect reports %d runs, want %d", step.name, got, want)
		}
		again := collect(t, fx.s)
		if err := os.Remove(fx.s.path(collectStateFile)); err != nil {
			t.Fatal(err)
		}
		full := collect(t, fx.s)
		again.Records, full.Records = 0, 0
		if got, want := fmt.Sprint(again), fmt.Sprint(full); got != want {
			t.Errorf("after %s: Collect with saved state reports\n%s\nwithout\n%s", step.name, got, want)
		}
	}
}
