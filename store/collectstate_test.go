package store

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/metalab-hpc/metalab/internal/tempname"
)

// TestCollectAfterUnchanged checks that a Collect which finds the indexes
// as the last one left them (and so skips their checks and merges, and
// reads the counts the store index keeps) still sees every new record,
// whether a node index has it or only its segment, and reports what a
// Collect without the saved state reports.
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

// TestForgedCollectState: the saved state is not believed for counts. A
// state file that matches the store index's stamp but claims other counts
// (in the format of old metalabs, which took them from it), or that claims
// segments and node indexes as they are not, leaves Collect's report as it
// is without the file.
func TestForgedCollectState(t *testing.T) {
	fx := newFixture(t)
	want := collect(t, fx.s)
	want.Records = 0
	stamp, ok := stampOf(fx.s.path(storeIndex))
	if !ok {
		t.Fatal("no store index stamp")
	}
	st, err := json.Marshal(stamp)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		state string
	}{
		{"old format, 600 failed", `{"store": ` + string(st) + `, "nodes": {}, "summary": {"Runs": 600, "Failed": 600}}`},
		{"counts at the top", `{"store": ` + string(st) + `, "nodes": {}, "Runs": 600, "Failed": 600, "Completed": 0}`},
		{"segments that do not exist", `{"store": ` + string(st) + `, "nodes": {}, "segments": {"zz": {"size": 1, "mtime_ns": 1}}}`},
		{"garbage", `{"store": 12`},
	}
	truthful := 0
	for _, tt := range tests {
		ok := t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(fx.s.path(collectStateFile), []byte(tt.state), 0o644); err != nil {
				t.Fatal(err)
			}
			got := collect(t, fx.s)
			got.Records = 0
			if got, want := fmt.Sprint(got), fmt.Sprint(want); got != want {
				t.Errorf("Collect with a forged state reports\n%s\nwant\n%s", got, want)
			}
			fx.check(t, got)
		})
		if ok {
			truthful++
		}
	}
	figures(t, "forged_states=%d reports_unchanged=%d (true counts: %d runs, %d failed)", len(tests), truthful, want.Runs, want.Failed)
}

// TestCollectCountsKept: the counts a Collect keeps in the store index are
// dropped by any change of the runs, so that a Collect never reports
// counts older than the index; and an index changed by a metalab that does
// not know to drop them (it adds records, and so moves the coverage) is
// counted again.
func TestCollectCountsKept(t *testing.T) {
	fx := newFixture(t)
	first := collect(t, fx.s)
	w := newWriter(t, fx.s, "late", "n9")
	if err := w.Append(testRecord(500, StatusFailed, 1)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(collect(t, fx.s).Failed), fmt.Sprint(first.Failed+1); got != want {
		t.Errorf("Collect after a new failed run: failed=%s, want %s", got, want)
	}

	r := testRecord(501, StatusCompleted, 1)
	r.Format = RecordFormat
	line := encode(t, r) + "\n"
	f, err := os.OpenFile(fx.s.segmentPath("late"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := f.Stat()
	f.WriteString(line)
	f.Close()
	db, err := fx.s.existingStoreDB()
	if err != nil {
		t.Fatal(err)
	}
	err = inTx(db, func(tx *sql.Tx) error {
		if err := upsertRows(tx, "late", []indexRow{{runID: r.RunID, status: r.Status, at: unixNanos(r.When()), off: info.Size(), n: len(line)}}, 0); err != nil {
			return err
		}
		_, err := tx.Exec(coverSegmentSQL, "late", info.Size()+int64(len(line)))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(collect(t, fx.s).Completed), fmt.Sprint(first.Completed+1); got != want {
		t.Errorf("Collect after an index update that kept the counts: completed=%s, want %s", got, want)
	}
}

// TestCollectStateTempOfDeadProcess: a temporary file of the collect state
// that a killed process left is removed by the next write; one of a live
// process is not.
func TestCollectStateTempOfDeadProcess(t *testing.T) {
	s := TestStore(t)
	dir := filepath.Dir(s.path(collectStateFile))
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := strings.Replace(tempname.Pattern(stateTempPrefix, "tmp"), "."+strconv.Itoa(os.Getpid())+".", "."+strconv.Itoa(cmd.Process.Pid)+".", 1)
	dead = filepath.Join(dir, strings.TrimSuffix(dead, "*")+"x")
	live := filepath.Join(dir, strings.TrimSuffix(tempname.Pattern(stateTempPrefix, "tmp"), "*")+"y")
	for _, p := range []string{dead, live} {
		if err := os.WriteFile(p, []byte("{"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	collect(t, s)
	if _, err := os.Stat(dead); err == nil {
		t.Errorf("%s of a dead process is left", filepath.Base(dead))
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("%s of this process was removed: %v", filepath.Base(live), err)
	}
	if _, err := os.Stat(s.path(collectStateFile)); err != nil {
		t.Errorf("no collect state: %v", err)
	}
}
