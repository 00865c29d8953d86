package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixture is a store with records of 60 runs in segments of several kinds:
// two writers of node n1, one of node n2, lines appended to a segment after
// its writer's last index update, and a segment no index covers (its writer
// crashed) with a garbage line and a torn last line. want holds the winning
// record of each run, by Record.Beats.
type fixture struct {
	s         *Store
	want      map[string]*Record
	completed map[string]int // completed records per run ID
	torn      []Torn         // want CollectReport.Torn
	unindexed int            // records no index covers
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	fx := &fixture{s: TestStore(t), want: map[string]*Record{}, completed: map[string]int{}}
	writers := map[string]*Writer{
		"a": newWriter(t, fx.s, "a", "n1"),
		"b": newWriter(t, fx.s, "b", "n1"),
		"c": newWriter(t, fx.s, "c", "n2"),
	}
	var crashed, aTail bytes.Buffer
	put := func(where string, r *Record) {
		switch where {
		case "crashed", "a-tail":
			r.Format = RecordFormat
			line := encode(t, r) + "\n"
			if where == "crashed" {
				crashed.WriteString(line)
			} else {
				aTail.WriteString(line)
			}
			fx.unindexed++
		default:
			if err := writers[where].Append(r); err != nil {
				t.Fatal(err)
			}
		}
		if old := fx.want[r.RunID]; old == nil || r.Beats(old) {
			fx.want[r.RunID] = r
		}
		if r.Status == StatusCompleted {
			fx.completed[r.RunID]++
		}
	}
	for i := range 60 {
		switch i % 6 {
		case 0:
			put("a", testRecord(i, StatusRunning, i))
			put("a", testRecord(i, StatusCompleted, i+1))
		case 1:
			put("b", testRecord(i, StatusRunning, i))
			put("crashed", testRecord(i, StatusFailed, i+1))
		case 2: // cancelled, then requeued on the other node
			put("b", testRecord(i, StatusRunning, i))
			put("b", testRecord(i, StatusCancelled, i+1))
			put("c", testRecord(i, StatusRunning, i+2))
			put("c", testRecord(i, StatusCompleted, i+3))
		case 3: // done twice
			put("a", testRecord(i, StatusCompleted, i))
			put("c", testRecord(i, StatusCompleted, i+1))
			if i%4 == 1 {
				put("crashed", testRecord(i, StatusCompleted, i+2))
			}
		case 4:
			put("b", testRecord(i, StatusFailed, i))
			put("a-tail", testRecord(i, StatusFailed, i+1))
		case 5:
			put("c", testRecord(i, StatusRunning, i))
		}
		if i == 30 {
			crashed.WriteString("{garbage\n")
			fx.torn = append(fx.torn, Torn{Segment: "crashed", Offset: int64(crashed.Len() - 9), Length: 9})
		}
	}
	for _, w := range writers {
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	cut := encode(t, testRecord(1000, StatusCompleted, 1))[:50]
	fx.torn = append(fx.torn, Torn{Segment: "crashed", Offset: int64(crashed.Len()), Length: len(cut)})
	crashed.WriteString(cut)
	writeSegment(t, fx.s, "crashed", crashed.String())
	f, err := os.OpenFile(fx.s.segmentPath("a"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(aTail.Bytes()); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return fx
}

// check compares a Collect report and the store's statuses and records
// with what the fixture wrote.
func (fx *fixture) check(t *testing.T, rep CollectReport) {
	t.Helper()
	want := CollectReport{Segments: 4, Runs: len(fx.want)}
	for id, r := range fx.want {
		switch r.Status {
		case StatusCompleted:
			want.Completed++
			want.Duplicates += fx.completed[id] - 1
		case StatusFailed:
			want.Failed++
		case StatusCancelled:
			want.Cancelled++
		case StatusRunning:
			want.Running++
		}
	}
	counts := func(r CollectReport) string {
		return fmt.Sprintf("segments %d runs %d completed %d failed %d cancelled %d running %d duplicates %d",
			r.Segments, r.Runs, r.Completed, r.Failed, r.Cancelled, r.Running, r.Duplicates)
	}
	if got, want := counts(rep), counts(want); got != want {
		t.Errorf("Collect:\n got %s\nwant %s", got, want)
	}
	var torn []string
	for _, tr := range rep.Torn {
		torn = append(torn, fmt.Sprintf("%s@%d+%d", tr.Segment, tr.Offset, tr.Length))
	}
	var wantTorn []string
	for _, tr := range fx.torn {
		wantTorn = append(wantTorn, fmt.Sprintf("%s@%d+%d", tr.Segment, tr.Offset, tr.Length))
	}
	if got, want := strings.Join(torn, " "), strings.Join(wantTorn, " "); got != want {
		t.Errorf("Torn: %s, want %s", got, want)
	}

	st, err := fx.s.Statuses()
	if err != nil {
		t.Fatal(err)
	}
	wantSt := map[string]Status{}
	for id, r := range fx.want {
		wantSt[id] = r.Status
	}
	if !maps.Equal(st, wantSt) {
		t.Errorf("Statuses()=%v\nwant %v", st, wantSt)
	}
	n := 0
	if err := fx.s.Records(func(r *Record) error {
		n++
		if got, want := encode(t, r), encode(t, fx.want[r.RunID]); got != want {
			t.Errorf("Records: run %s:\n got %s\nwant %s", r.RunID, got, want)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if got, want := n, len(fx.want); got != want {
		t.Errorf("Records gave %d records, want %d", got, want)
	}
}

func collect(t *testing.T, s *Store) CollectReport {
	t.Helper()
	rep, err := s.Collect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestCollect(t *testing.T) {
	fx := newFixture(t)
	rep := collect(t, fx.s)
	fx.check(t, rep)
	if got, want := rep.Records, fx.unindexed; got != want {
		t.Errorf("Records=%d, want %d (those no index covers)", got, want)
	}
	if len(rep.Rebuilt) != 0 {
		t.Errorf("Rebuilt=%v, want none", rep.Rebuilt)
	}
}

// dumpIndex lists every row of the store index.
func dumpIndex(t *testing.T, s *Store) string {
	t.Helper()
	db, err := s.existingStoreDB()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, q := range []string{
		`SELECT run_id, status, rank, at, segment, "offset", length FROM runs ORDER BY run_id`,
		`SELECT name, base, indexed FROM segments ORDER BY name`,
		`SELECT segment, "offset", run_id, status FROM attempts ORDER BY segment, "offset"`,
		`SELECT segment, "offset", length, reason FROM torn ORDER BY segment, "offset"`,
		`SELECT node, instance, seq FROM merged ORDER BY node`,
	} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintln(&b, vals...)
		}
		rows.Close()
	}
	return b.String()
}

func TestCollectIdempotent(t *testing.T) {
	fx := newFixture(t)
	first := collect(t, fx.s)
	dump := dumpIndex(t, fx.s)
	second := collect(t, fx.s)
	fx.check(t, second)
	if got, want := second.Records, 0; got != want {
		t.Errorf("second Collect read %d records, want %d", got, want)
	}
	first.Records, second.Records = 0, 0
	if got, want := fmt.Sprint(second), fmt.Sprint(first); got != want {
		t.Errorf("second Collect reports\n%s\nwant\n%s", got, want)
	}
	if got := dumpIndex(t, fx.s); got != dump {
		t.Errorf("second Collect changed the index:\n%s\nwas\n%s", got, dump)
	}
}

// TestCollectRebuild damages or removes indexes; Collect must recover the
// same statuses and counts from what is left and the segments.
func TestCollectRebuild(t *testing.T) {
	nodeIndex := func(s *Store, node string) string { return filepath.Join(s.Dir(), "index", "nodes", node+".sqlite") }
	storeIndex := func(s *Store) string { return filepath.Join(s.Dir(), "index", "store.sqlite") }
	garbage := func(path string) error {
		return os.WriteFile(path, bytes.Repeat([]byte("not a database\x00\xff"), 500), 0o666)
	}
	truncate := func(path string) error {
		info, err := os.Stat(path)
		if err != nil {
			return err
		}
		return os.Truncate(path, info.Size()/2)
	}
	tests := []struct {
		name        string
		damage      func(s *Store) error
		wantRebuilt []string
		movedAside  string // a node whose index is moved aside
		stays       bool   // the damage stays, and is reported again
	}{
		{"no store index", func(s *Store) error { return os.Remove(storeIndex(s)) }, nil, "", false},
		{"no node index n2", func(s *Store) error { return os.Remove(nodeIndex(s, "n2")) }, []string{"n2"}, "", false},
		{"no indexes at all", func(s *Store) error {
			os.Remove(storeIndex(s)) // if any
			return errors.Join(os.Remove(nodeIndex(s, "n1")), os.Remove(nodeIndex(s, "n2")))
		}, nil, "", false},
		{"garbage store index", func(s *Store) error { s.forget(storeIndex(s)); return garbage(storeIndex(s)) }, []string{"store"}, "", false},
		{"truncated store index", func(s *Store) error { s.forget(storeIndex(s)); return truncate(storeIndex(s)) }, []string{"store"}, "", false},
		{"empty store index", func(s *Store) error { s.forget(storeIndex(s)); return os.Truncate(storeIndex(s), 0) }, nil, "", false},
		{"garbage node index", func(s *Store) error { return garbage(nodeIndex(s, "n1")) }, []string{"n1"}, "n1", false},
		{"truncated node index", func(s *Store) error { return truncate(nodeIndex(s, "n2")) }, []string{"n2"}, "n2", false},
		{"empty node index", func(s *Store) error { return os.Truncate(nodeIndex(s, "n1"), 0) }, []string{"n1"}, "", true},
		{"node index of another schema", func(s *Store) error {
			db, err := openIndex(nodeIndex(s, "n1"))
			if err != nil {
				return err
			}
			defer db.Close()
			_, err = db.Exec("UPDATE meta SET value = '2' WHERE key = 'schema'")
			return err
		}, []string{"n1"}, "n1", false},
		{"garbage everywhere", func(s *Store) error {
			s.forget(storeIndex(s))
			return errors.Join(garbage(nodeIndex(s, "n1")), garbage(nodeIndex(s, "n2")), garbage(storeIndex(s)))
		}, []string{"store", "n1", "n2"}, "n1", false},
	}
	cases, repaired := 0, 0
	defer func() {
		figures(t, "damages=%d cases=%d repaired_without_loss=%d (node and store indexes deleted, truncated, emptied, garbage, other schema)",
			len(tests), cases, repaired)
	}()
	for _, tt := range tests {
		for _, when := range []string{"after a collect", "before any collect"} {
			cases++
			ok := t.Run(tt.name+"/"+when, func(t *testing.T) {
				fx := newFixture(t)
				if when == "after a collect" {
					collect(t, fx.s)
				} else if strings.Contains(tt.name, "store index") {
					t.Skip("no store index to damage")
				}
				if err := tt.damage(fx.s); err != nil {
					t.Fatal(err)
				}
				rep := collect(t, fx.s)
				fx.check(t, rep)
				wantRebuilt := tt.wantRebuilt
				if when == "before any collect" && strings.HasPrefix(tt.name, "no node index") {
					wantRebuilt = nil // Collect never saw the node index
				}
				if got, want := strings.Join(rep.Rebuilt, " "), strings.Join(wantRebuilt, " "); got != want {
					t.Errorf("Rebuilt=%q, want %q", got, want)
				}
				if tt.movedAside != "" {
					if _, err := os.Stat(nodeIndex(fx.s, tt.movedAside) + ".corrupt"); err != nil {
						t.Errorf("broken node index not moved aside: %v", err)
					}
				}
				// Once repaired, the store stays put.
				dump := dumpIndex(t, fx.s)
				rep = collect(t, fx.s)
				fx.check(t, rep)
				if len(rep.Rebuilt) != 0 && !tt.stays {
					t.Errorf("Collect after the repair: Rebuilt=%q, want none", rep.Rebuilt)
				}
				if got := dumpIndex(t, fx.s); got != dump {
					t.Errorf("Collect after the repair changed the index")
				}
			})
			if ok {
				repaired++
			}
		}
	}
}

// TestCollectAfterBrokenNodeIndex checks that writers of a node whose index
// was broken, and moved aside by Collect, go on with a new one.
func TestCollectAfterBrokenNodeIndex(t *testing.T) {
	s := TestStore(t)
	w := newWriter(t, s, "w", "n")
	if err := w.Append(testRecord(1, StatusCompleted, 1)); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(s.Dir(), "index", "nodes", "n.sqlite")
	s.forget(path)
	if err := os.WriteFile(path, bytes.Repeat([]byte{0xff}, 8192), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := w.Append(testRecord(2, StatusCompleted, 1)); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatalf("Flush with a broken node index: %v", err)
	}
	if w.IndexErr() == nil {
		t.Errorf("IndexErr()=nil with a broken node index")
	}
	rep := collect(t, s)
	if got, want := fmt.Sprint(rep.Runs, rep.Rebuilt), "2 [n]"; got != want {
		t.Errorf("Collect: runs, rebuilt = %s, want %s", got, want)
	}
	if err := w.Append(testRecord(3, StatusCompleted, 1)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.IndexErr(); err != nil {
		t.Errorf("IndexErr()=%v after the index was moved aside", err)
	}
	rep = collect(t, s)
	if got, want := fmt.Sprint(rep.Runs, rep.Records, rep.Rebuilt), "3 0 []"; got != want {
		t.Errorf("Collect: runs, records read, rebuilt = %s, want %s", got, want)
	}
	// The new node index covers only the end of the segment; without the
	// store index, Collect reads the rest from the segment.
	s.forget(filepath.Join(s.Dir(), "index", "store.sqlite"))
	os.Remove(filepath.Join(s.Dir(), "index", "store.sqlite"))
	rep = collect(t, s)
	if got, want := fmt.Sprint(rep.Runs, rep.Records, rep.Rebuilt), "3 3 []"; got != want {
		t.Errorf("Collect: runs, records read, rebuilt = %s, want %s", got, want)
	}
}

// TestCollectTornTail cuts the last line of a segment: Collect indexes what
// comes before, reports the cut line, and picks the record up once the line
// is complete.
func TestCollectTornTail(t *testing.T) {
	before := encode(t, testRecord(1, StatusCompleted, 1)) + "\n"
	last := encode(t, testRecord(2, StatusCompleted, 2)) + "\n"
	for cut := 1; cut < len(last); cut += 1 + cut/4 {
		s := TestStore(t)
		writeSegment(t, s, "x", before+last[:cut])
		rep := collect(t, s)
		wantTorn := fmt.Sprint([]Torn{{Segment: "x", Offset: int64(len(before)), Length: cut, Reason: reasonIncomplete}})
		if got, want := fmt.Sprint(rep.Runs, " ", rep.Torn), "1 "+wantTorn; got != want {
			t.Fatalf("cut %d: runs, torn = %s, want %s", cut, got, want)
		}
		// The writer finishes its line.
		f, err := os.OpenFile(s.segmentPath("x"), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(last[cut:])
		f.Close()
		rep = collect(t, s)
		if got, want := fmt.Sprint(rep.Runs, rep.Records, len(rep.Torn)), "2 1 0"; got != want {
			t.Fatalf("cut %d, completed: runs, records read, torn = %s, want %s", cut, got, want)
		}
	}
}

// TestCollectShrunkSegment replaces a segment by a shorter one: the indexes
// that cover it are stale, and Collect verifies the segment, finds the
// records past its new end lost, and indexes the segment from its bytes.
func TestCollectShrunkSegment(t *testing.T) {
	s := TestStore(t)
	w := newWriter(t, s, "w", "n")
	for i := range 4 {
		if err := w.Append(testRecord(i, StatusCompleted, i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	collect(t, s)
	orig, err := os.ReadFile(s.segmentPath("w"))
	if err != nil {
		t.Fatal(err)
	}
	var keep bytes.Buffer
	for i := range 2 {
		keep.WriteString(encode(t, testRecord(i, StatusCompleted, i)) + "\n")
	}
	writeSegment(t, s, "w", keep.String())
	rep := collect(t, s)
	if got, want := fmt.Sprint(rep.Runs, rep.Records, rep.Rebuilt, rep.Lost), "2 0 [] 2"; got != want {
		t.Errorf("Collect: runs, records read, rebuilt, lost = %s, want %s", got, want)
	}
	// The lost records are past the new end, and took the bytes of the
	// writer's last two lines.
	lines := bytes.SplitAfter(orig, []byte("\n"))
	lost := int64(len(lines[2]) + len(lines[3]))
	if got, want := fmt.Sprint(rep.Damaged), fmt.Sprint([]Damage{{Segment: "w", Offset: int64(keep.Len()),
		Length: lost, Records: 2, Runs: 2, RunIDs: []string{runID(2), runID(3)}}}); got != want {
		t.Errorf("Damaged=%s, want %s", got, want)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), "index", "nodes", "n.sqlite")); err != nil {
		t.Errorf("a stale (not broken) node index was moved: %v", err)
	}
}

func TestCollectDuplicates(t *testing.T) {
	s := TestStore(t)
	w1 := newWriter(t, s, "w1", "n1")
	w2 := newWriter(t, s, "w2", "n2")
	for _, a := range []struct {
		w      *Writer
		run    int
		st     Status
		at     int
		commit bool
	}{
		{w1, 1, StatusCompleted, 1, false},
		{w2, 1, StatusCompleted, 2, false}, // 1 duplicate
		{w1, 2, StatusFailed, 1, true},
		{w1, 2, StatusCompleted, 2, false},
		{w2, 2, StatusCompleted, 3, true},
		{w1, 2, StatusCompleted, 4, false}, // 2 duplicates
		{w1, 3, StatusFailed, 1, false},
		{w2, 3, StatusFailed, 2, false}, // failures are not duplicates
	} {
		if err := a.w.Append(testRecord(a.run, a.st, a.at)); err != nil {
			t.Fatal(err)
		}
		if a.commit {
			a.w.Flush()
		}
	}
	w1.Close()
	w2.Close()
	for i, step := range []string{"first", "again", "without store index", "without any index"} {
		switch step {
		case "without store index":
			s.forget(filepath.Join(s.Dir(), "index", "store.sqlite"))
			os.Remove(filepath.Join(s.Dir(), "index", "store.sqlite"))
		case "without any index":
			s.forget(filepath.Join(s.Dir(), "index", "store.sqlite"))
			os.Remove(filepath.Join(s.Dir(), "index", "store.sqlite"))
			os.Remove(filepath.Join(s.Dir(), "index", "nodes", "n1.sqlite"))
		}
		rep := collect(t, s)
		if got, want := fmt.Sprint(rep.Completed, rep.Failed, rep.Duplicates), "2 1 3"; got != want {
			t.Errorf("%d %s: completed, failed, duplicates = %s, want %s", i, step, got, want)
		}
	}
}

func TestCollectCancelled(t *testing.T) {
	fx := newFixture(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := fx.s.Collect(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Collect(cancelled)=%v, want context.Canceled", err)
	}
	// A later Collect finishes the job.
	fx.check(t, collect(t, fx.s))
}

// BenchmarkCollect measures a Collect of 20,000 records in 4 segments that
// starts without a store index: "merge" takes the records from the node
// indexes, "scan" (without them) reads the segments.
func BenchmarkCollect(b *testing.B) {
	const segments, perSegment = 4, 5000
	for _, mode := range []string{"merge", "scan"} {
		b.Run(mode, func(b *testing.B) {
			s := TestStore(b)
			for k := range segments {
				w := newWriter(b, s, fmt.Sprintf("w%d", k), fmt.Sprintf("n%d", k%2))
				for i := range perSegment {
					if err := w.Append(testRecord(k*perSegment+i, StatusCompleted, i)); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
			if mode == "scan" {
				nodes, _ := filepath.Glob(filepath.Join(s.Dir(), "index", "nodes", "*"))
				for _, n := range nodes {
					s.forget(n)
					os.Remove(n)
				}
			}
			storeIndex := filepath.Join(s.Dir(), "index", "store.sqlite")
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				s.forget(storeIndex)
				os.Remove(storeIndex)
				b.StartTimer()
				rep, err := s.Collect(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				if rep.Runs != segments*perSegment {
					b.Fatalf("Runs=%d", rep.Runs)
				}
			}
			b.ReportMetric(float64(b.N*segments*perSegment)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// TestCollectIncremental collects while writers go on, so that each Collect
// merges part of the node indexes; a node index is also recreated half way.
// The statuses and duplicates must match those of all records written.
func TestCollectIncremental(t *testing.T) {
	s := TestStore(t)
	w1 := newWriter(t, s, "w1", "n1")
	w2 := newWriter(t, s, "w2", "n2")
	defer w1.Close()
	defer w2.Close()
	want := map[string]*Record{}
	completed := map[string]int{}
	for round := range 6 {
		for i := range 30 {
			// Each round ends runs begun in the round before (some of
			// them a second time), and begins new ones.
			run := round*20 + i
			st := StatusRunning
			switch {
			case i < 10, 20 <= i && i < 23:
				st = StatusCompleted
			case i < 15:
				st = StatusFailed
			}
			r := testRecord(run, st, round*100+i)
			w := []*Writer{w1, w2}[i%2]
			if err := w.Append(r); err != nil {
				t.Fatal(err)
			}
			if old := want[r.RunID]; old == nil || r.Beats(old) {
				want[r.RunID] = r
			}
			if st == StatusCompleted {
				completed[r.RunID]++
			}
		}
		for _, w := range []*Writer{w1, w2} {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
		if round == 3 {
			path := filepath.Join(s.Dir(), "index", "nodes", "n2.sqlite")
			s.forget(path)
			os.Remove(path)
		}
		rep := collect(t, s)
		st, err := s.Statuses()
		if err != nil {
			t.Fatal(err)
		}
		wantSt := map[string]Status{}
		dups := 0
		for id, r := range want {
			wantSt[id] = r.Status
			if completed[id] > 1 {
				dups += completed[id] - 1
			}
		}
		if !maps.Equal(st, wantSt) {
			t.Errorf("round %d: Statuses()=%v\nwant %v", round, st, wantSt)
		}
		if round > 0 && dups == 0 {
			t.Fatalf("round %d: no duplicates to count", round)
		}
		if got, want := rep.Duplicates, dups; got != want {
			t.Errorf("round %d: Duplicates=%d, want %d", round, got, want)
		}
	}
}

// TestCollectCrashBeforeIndexUpdate has a writer's last lines reach the
// segment (fsynced) but not the node index, as when the process dies between
// the two: Collect reads them from the segment.
func TestCollectCrashBeforeIndexUpdate(t *testing.T) {
	s := TestStore(t)
	w := newWriter(t, s, "w", "n")
	for i := range 5 {
		if err := w.Append(testRecord(i, StatusRunning, i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	indexed := s.segmentSize("w")
	// The lines of the commit whose index update never happened.
	var tail bytes.Buffer
	for i := range 3 {
		r := testRecord(i, StatusCompleted, i+10)
		r.Format, r.Writer = RecordFormat, "w"
		tail.WriteString(encode(t, r) + "\n")
	}
	f, err := os.OpenFile(s.segmentPath("w"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(tail.Bytes())
	f.Close()

	db, err := openIndex(filepath.Join(s.Dir(), "index", "nodes", "n.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	covered, err := coveredSegments(db, "main")
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := covered["w"], indexed; got != want {
		t.Fatalf("node index covers %d bytes, want %d", got, want)
	}

	rep := collect(t, s)
	if got, want := fmt.Sprint(rep.Records, rep.Completed, rep.Running), "3 3 2"; got != want {
		t.Errorf("Collect: records read, completed, running = %s, want %s", got, want)
	}
	rep = collect(t, s)
	if got, want := fmt.Sprint(rep.Records, rep.Completed, rep.Running), "0 3 2"; got != want {
		t.Errorf("second Collect: records read, completed, running = %s, want %s", got, want)
	}
}
