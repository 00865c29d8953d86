package store

import (
	"bytes"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"
)

func TestIndexJournalMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.sqlite")
	db, err := openIndex(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if got, want := mode, "delete"; got != want {
		t.Errorf("journal_mode=%q, want %q", got, want)
	}
	var version string
	if err := db.QueryRow("SELECT value FROM meta WHERE key = 'schema'").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if got, want := version, indexSchema; got != want {
		t.Errorf("schema version %q, want %q", got, want)
	}
}

// TestIndexFromWAL opens an index that was left in WAL mode: the index
// switches it back to a rollback journal.
func TestIndexFromWAL(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.sqlite")
	wal, err := sql.Open("sqlite3", path+"?_journal_mode=WAL")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wal.Exec(schemaSQL); err != nil {
		t.Fatal(err)
	}
	wal.Close()
	db, err := openIndex(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if got, want := mode, "delete"; got != want {
		t.Errorf("journal_mode=%q, want %q", got, want)
	}
}

func TestIndexOtherSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.sqlite")
	db, err := openIndex(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("UPDATE meta SET value = '99' WHERE key = 'schema'"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err := openIndex(path); err == nil || !strings.Contains(err.Error(), `"99"`) {
		if err == nil {
			db.Close()
		}
		t.Errorf("openIndex of a schema 99 index: %v, want an error naming the version", err)
	}
}

func TestIsBusy(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{sqlite3.Error{Code: sqlite3.ErrBusy}, true},
		{fmt.Errorf("wrapped: %w", sqlite3.Error{Code: sqlite3.ErrLocked}), true},
		{fmt.Errorf("database is locked"), true},
		{sqlite3.Error{Code: sqlite3.ErrCorrupt}, false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := isBusy(tt.err); got != tt.want {
			t.Errorf("isBusy(%v)=%v, want %v", tt.err, got, tt.want)
		}
	}
}

// TestDedupRules feeds the records of one run ID in a given order, through a
// writer and its node index, and through Collect reading a segment that no
// index covers; the winner must be the same, and agree with Record.Beats.
func TestDedupRules(t *testing.T) {
	type rec struct {
		st Status
		at int // end (or start) time
	}
	tests := []struct {
		name string
		recs []rec
		want rec
	}{
		{"completed beats failed", []rec{{StatusCompleted, 1}, {StatusFailed, 2}}, rec{StatusCompleted, 1}},
		{"completed beats earlier failed", []rec{{StatusFailed, 1}, {StatusCompleted, 2}}, rec{StatusCompleted, 2}},
		{"later failed beats earlier failed", []rec{{StatusFailed, 1}, {StatusFailed, 2}}, rec{StatusFailed, 2}},
		{"later failed, written first", []rec{{StatusFailed, 2}, {StatusFailed, 1}}, rec{StatusFailed, 2}},
		{"running loses to failed", []rec{{StatusRunning, 5}, {StatusFailed, 1}}, rec{StatusFailed, 1}},
		{"running loses to cancelled", []rec{{StatusCancelled, 1}, {StatusRunning, 9}}, rec{StatusCancelled, 1}},
		{"failed beats cancelled", []rec{{StatusFailed, 1}, {StatusCancelled, 2}}, rec{StatusFailed, 1}},
		{"start then end", []rec{{StatusRunning, 1}, {StatusCompleted, 2}}, rec{StatusCompleted, 2}},
		{"later running beats earlier", []rec{{StatusRunning, 1}, {StatusRunning, 3}, {StatusRunning, 2}}, rec{StatusRunning, 3}},
		{"completed twice", []rec{{StatusCompleted, 3}, {StatusCompleted, 4}}, rec{StatusCompleted, 4}},
	}
	for _, tt := range tests {
		records := func() []*Record {
			var out []*Record
			for _, r := range tt.recs {
				out = append(out, testRecord(1, r.st, r.at))
			}
			return out
		}
		// The model: Record.Beats.
		var model *Record
		for _, r := range records() {
			if model == nil || r.Beats(model) {
				model = r
			}
		}
		if got, want := (rec{model.Status, int(model.When().Sub(t0) / time.Second)}), tt.want; got != want {
			t.Fatalf("%s: Record.Beats picks %v, want %v", tt.name, got, want)
		}

		ways := map[string]func(t *testing.T, s *Store){
			"writer": func(t *testing.T, s *Store) {
				w := newWriter(t, s, "w", "n")
				for _, r := range records() {
					if err := w.Append(r); err != nil {
						t.Fatal(err)
					}
					// Separate commits, so that the node index sees each.
					if err := w.Flush(); err != nil {
						t.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
			},
			"segment": func(t *testing.T, s *Store) {
				var b bytes.Buffer
				for _, r := range records() {
					b.WriteString(encode(t, r) + "\n")
				}
				writeSegment(t, s, "raw", b.String())
			},
			"one segment each": func(t *testing.T, s *Store) {
				for i, r := range records() {
					w := newWriter(t, s, fmt.Sprintf("w%d", i), fmt.Sprintf("n%d", i%2))
					if err := w.Append(r); err != nil {
						t.Fatal(err)
					}
					if err := w.Close(); err != nil {
						t.Fatal(err)
					}
				}
			},
		}
		for way, write := range ways {
			t.Run(tt.name+"/"+way, func(t *testing.T) {
				s := TestStore(t)
				write(t, s)
				if _, err := s.Collect(t.Context()); err != nil {
					t.Fatal(err)
				}
				var got []rec
				if err := s.Records(func(r *Record) error {
					got = append(got, rec{r.Status, int(r.When().Sub(t0) / time.Second)})
					return nil
				}); err != nil {
					t.Fatal(err)
				}
				if len(got) != 1 || got[0] != tt.want {
					t.Errorf("winner %v, want %v", got, tt.want)
				}
			})
		}
	}
}

// writeSegment writes a segment file directly, as a writer that crashed
// before updating any index would leave it.
func writeSegment(t testing.TB, s *Store, name, content string) {
	t.Helper()
	if err := os.WriteFile(s.segmentPath(name), []byte(content), 0o666); err != nil {
		t.Fatal(err)
	}
}

const (
	helperDir     = "METALAB_STORE_HELPER_DIR"
	helperWriter  = "METALAB_STORE_HELPER_WRITER"
	helperRecords = 300
)

// TestHelperProcess is not a test: TestNodeIndexProcesses runs the test
// binary as several processes that write to one node index through it.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(helperDir)
	if dir == "" {
		t.Skip("helper process of TestNodeIndexProcesses")
	}
	k, _ := strconv.Atoi(os.Getenv(helperWriter))
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	w, err := s.NewWriter(WriterOptions{Name: fmt.Sprintf("p%d", k), Node: "shared", FlushInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for i := range helperRecords {
		if err := w.Append(testRecord(k*helperRecords+i, StatusCompleted, i)); err != nil {
			t.Fatal(err)
		}
		if i%20 == 0 {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if err := w.IndexErr(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.IndexErr(); err != nil {
		t.Fatal(err)
	}
}

// TestNodeIndexProcesses has several processes write one node index at
// once, as the workers of a job on one node do, while Collect reads it: none
// may see the database locked, and no row may be lost.
func TestNodeIndexProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	s := TestStore(t)
	const procs = 32 // as many as the CPUs of a big node
	cmds := make([]*exec.Cmd, procs)
	outs := make([]bytes.Buffer, procs)
	for k := range procs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), helperDir+"="+s.Dir(), helperWriter+"="+strconv.Itoa(k))
		cmd.Stdout, cmd.Stderr = &outs[k], &outs[k]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds[k] = cmd
	}
	// Collect meanwhile, as `metalab status` would.
	stop := make(chan struct{})
	collected := make(chan int)
	go func() {
		n := 0
		defer func() { collected <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.Collect(t.Context()); err != nil {
				t.Errorf("Collect during the writes: %v", err)
				return
			}
			n++
		}
	}()
	for k, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Errorf("process %d: %v\n%s", k, err, outs[k].String())
		}
	}
	close(stop)
	collects := <-collected
	t.Logf("%d collects during the writes", collects)
	if t.Failed() {
		return
	}

	db, err := openIndex(filepath.Join(s.Dir(), "index", "nodes", "shared.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var runs int
	if err := db.QueryRow("SELECT COUNT(*) FROM runs").Scan(&runs); err != nil {
		t.Fatal(err)
	}
	if got, want := runs, procs*helperRecords; got != want {
		t.Errorf("node index has %d runs, want %d", got, want)
	}
	covered, err := coveredSegments(db, "main")
	if err != nil {
		t.Fatal(err)
	}
	for k := range procs {
		name := fmt.Sprintf("p%d", k)
		if got, want := covered[name], s.segmentSize(name); got != want {
			t.Errorf("node index covers %d bytes of %s, want all %d", got, name, want)
		}
	}
	rep, err := s.Collect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rep.Completed, procs*helperRecords; got != want {
		t.Errorf("Collect: Completed=%d, want %d", got, want)
	}
	if got, want := rep.Records, 0; got != want {
		t.Errorf("Collect read %d records from segments, want %d", got, want)
	}
	figures(t, "procs=%d records=%d indexed=%d lost=%d locked_errors=0 collects_meanwhile=%d",
		procs, procs*helperRecords, runs, procs*helperRecords-runs, collects)
}
