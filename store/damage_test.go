package store

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// damageRuns is the number of runs of newDamageStore.
const damageRuns = 20

// newDamageStore writes a store as a sweep does: runs 0..19, each a start
// record and then an end record, by writer w of node n1, so that line 2i of
// segment w is run i's start and line 2i+1 its end. Another writer, v of
// node n2, holds a failed attempt of run 3 and an earlier completed record
// of run 4, which must take over when their records in w are lost. It
// returns the lines of w.
func newDamageStore(t *testing.T) (*Store, [][]byte) {
	t.Helper()
	s := TestStore(t)
	v := newWriter(t, s, "v", "n2")
	for _, r := range []*Record{testRecord(3, StatusFailed, 1), testRecord(4, StatusCompleted, 2)} {
		if err := v.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	w := newWriter(t, s, "w", "n1")
	for i := range damageRuns {
		for _, r := range []*Record{testRecord(i, StatusRunning, 10+2*i), testRecord(i, StatusCompleted, 11+2*i)} {
			if err := w.Append(r); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(s.segmentPath("w"))
	if err != nil {
		t.Fatal(err)
	}
	return s, bytes.SplitAfter(b, []byte("\n"))[:2*damageRuns]
}

// lineOffsets are the offsets of lines, and the end of the last one.
func lineOffsets(lines [][]byte) []int {
	offs := []int{0}
	for _, l := range lines {
		offs = append(offs, offs[len(offs)-1]+len(l))
	}
	return offs
}

// survivors reads every segment of s as it is now and picks each run's
// winning record by Record.Beats, leaving out the start records that began
// an attempt whose end was lost in one of ds: what the store must say once
// repaired.
func survivors(t *testing.T, s *Store, ds []Damage) map[string]*Record {
	t.Helper()
	want := map[string]*Record{}
	paths, _ := filepath.Glob(filepath.Join(s.Dir(), "segments", "*.jsonl"))
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		seg := strings.TrimSuffix(filepath.Base(p), ".jsonl")
		_, err = ReadSegment(f, func(r *Record, off int64, n int) error {
			for _, d := range ds {
				if r.Status == StatusRunning && d.Segment == seg && off < d.Offset+d.Length && slices.Contains(d.RunIDs, r.RunID) {
					return nil
				}
			}
			if old := want[r.RunID]; old == nil || r.Beats(old) {
				want[r.RunID] = r
			}
			return nil
		})
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return want
}

// TestDamagedSegment damages segment w in the ways disks and people do, and
// checks that readers skip and report the damage; that Collect finds it
// (told by a reader, or by itself), drops the lost records and reports the
// runs lost; that every reader then works; and that the repair survives
// another Collect and a rebuild of the store index from the node indexes,
// which still hold the lost records.
func TestDamagedSegment(t *testing.T) {
	zeros := func(from, to int) func([]byte, []int) []byte {
		return func(b []byte, _ []int) []byte {
			copy(b[from:to], make([]byte, to-from))
			return b
		}
	}
	type want struct {
		offset, length int // of the damaged range; length -1: not checked
		records, runs  int
	}
	tests := []struct {
		name   string
		damage func(seg []byte, off []int) []byte // off: line offsets before the damage
		want   func(off []int) want
		lost   int
		status map[int]Status // of damaged runs after the repair; "" for none
	}{
		{
			name: "zeros in the middle",
			damage: func(b []byte, off []int) []byte {
				return zeros(off[6]+40, off[9]+40)(b, off)
			},
			want:   func(off []int) want { return want{off[6], off[10] - off[6], 2, 2} },
			lost:   2,
			status: map[int]Status{3: StatusFailed, 4: StatusCompleted},
		},
		{
			name: "a garbage line in place of records",
			damage: func(b []byte, off []int) []byte {
				g := bytes.Repeat([]byte("#"), off[12]-off[10]-1)
				copy(b[off[10]:], append(g, '\n'))
				return b
			},
			want:   func(off []int) want { return want{off[10], off[12] - off[10], 1, 1} },
			lost:   1,
			status: map[int]Status{5: ""},
		},
		{
			name: "a shorter garbage line in place of records",
			damage: func(b []byte, off []int) []byte {
				return slices.Concat(b[:off[10]], []byte("garbage\n"), b[off[12]:])
			},
			want:   func(off []int) want { return want{off[10], -1, 1, 1} },
			lost:   1,
			status: map[int]Status{5: ""},
		},
		{
			name: "a record truncated in the middle",
			damage: func(b []byte, off []int) []byte {
				mid := (off[13] + off[14]) / 2
				return slices.Concat(b[:mid], b[off[14]:])
			},
			want:   func(off []int) want { return want{off[13], -1, 1, 1} },
			lost:   1,
			status: map[int]Status{6: "", 7: StatusCompleted},
		},
		{
			name: "damage spanning two records",
			damage: func(b []byte, off []int) []byte {
				copy(b[off[17]+30:off[19]+30], bytes.Repeat([]byte(`"#`), off[19]-off[17]))
				return b
			},
			want:   func(off []int) want { return want{off[17], off[20] - off[17], 2, 2} },
			lost:   2,
			status: map[int]Status{8: "", 9: ""},
		},
		{
			name:   "damage at the start",
			damage: func(b []byte, off []int) []byte { return zeros(0, off[2]+10)(b, off) },
			want:   func(off []int) want { return want{0, off[3], 1, 1} },
			lost:   1,
			status: map[int]Status{0: "", 1: StatusCompleted},
		},
		{
			name: "a garbage line inserted",
			damage: func(b []byte, off []int) []byte {
				return slices.Concat(b[:off[22]], []byte("{\"oops\n"), b[off[22]:])
			},
			want:   func(off []int) want { return want{off[22], 7, 0, 0} },
			lost:   0,
			status: map[int]Status{11: StatusCompleted, 12: StatusCompleted},
		},
	}
	found, lostRuns := 0, 0
	for _, tt := range tests {
		for _, mode := range []string{"reader first", "collect first"} {
			t.Run(tt.name+"/"+mode, func(t *testing.T) {
				s, lines := newDamageStore(t)
				collect(t, s)
				off := lineOffsets(lines)
				seg, err := os.ReadFile(s.segmentPath("w"))
				if err != nil {
					t.Fatal(err)
				}
				writeSegment(t, s, "w", string(tt.damage(seg, off)))

				if mode == "reader first" {
					// Without the saved state, Collect would not notice
					// a segment rewritten in place: only the reader can.
					os.Remove(s.path(collectStateFile))
					n := 0
					err := s.Records(func(*Record) error { n++; return nil })
					var de *DamageError
					if !errors.As(err, &de) {
						t.Fatalf("Records()=%v, want a *DamageError", err)
					}
					skipped := 0
					for _, d := range de.Damage {
						skipped += d.Records
						if d.Segment != "w" {
							t.Errorf("DamageError names segment %q, want w", d.Segment)
						}
					}
					if got, want := n+skipped, damageRuns; got != want {
						t.Errorf("Records gave %d records and skipped %d, want %d in all", n, skipped, want)
					}
					if !de.Noted {
						t.Errorf("DamageError.Noted=false: the reader left no note for Collect")
					}
					if got := de.Error(); !strings.Contains(got, "segment w is damaged at byte") && !strings.Contains(got, "damaged ranges") {
						t.Errorf("DamageError says %q", got)
					}
				}

				rep := collect(t, s)
				w := tt.want(off)
				if got, want := rep.Lost, tt.lost; got != want {
					t.Errorf("Collect: Lost=%d, want %d", got, want)
				}
				if len(rep.Damaged) != 1 {
					t.Fatalf("Collect: Damaged=%v, want one range", rep.Damaged)
				}
				d := rep.Damaged[0]
				if w.length < 0 {
					w.length = int(d.Length)
				}
				if got, want := fmt.Sprint(d.Segment, d.Offset, d.Length, d.Records, d.Runs), fmt.Sprint("w", w.offset, w.length, w.records, w.runs); got != want {
					t.Errorf("Collect: damaged segment, offset, length, records, runs = %s, want %s", got, want)
				}
				found++
				lostRuns += rep.Lost

				check := func(when string) {
					t.Helper()
					want := survivors(t, s, rep.Damaged)
					for i, st := range tt.status {
						if got := want[runID(i)]; st == "" && got != nil || st != "" && (got == nil || got.Status != st) {
							t.Fatalf("%s: the oracle has run %d as %v, the test wants %q", when, i, got, st)
						}
					}
					st, err := s.Statuses()
					if err != nil {
						t.Fatal(err)
					}
					wantSt := map[string]Status{}
					for id, r := range want {
						wantSt[id] = r.Status
					}
					if !maps.Equal(st, wantSt) {
						t.Errorf("%s: Statuses()=%v\nwant %v", when, st, wantSt)
					}
					n := 0
					if err := s.Records(func(r *Record) error {
						n++
						if got, want := encode(t, r), encode(t, want[r.RunID]); got != want {
							t.Errorf("%s: Records: run %s:\n got %s\nwant %s", when, r.RunID, got, want)
						}
						return nil
					}); err != nil {
						t.Errorf("%s: Records()=%v, want nil", when, err)
					}
					if got, want := n, len(want); got != want {
						t.Errorf("%s: Records gave %d records, want %d", when, got, want)
					}
					ids := slices.Collect(maps.Keys(want))
					for i := range damageRuns {
						ids = append(ids, runID(i))
					}
					done, err := s.CompletedAmong(ids)
					if err != nil {
						t.Fatal(err)
					}
					for _, id := range ids {
						if got, want := done[id], want[id] != nil && want[id].Status == StatusCompleted; got != want {
							t.Errorf("%s: CompletedAmong says run %s completed=%t, want %t", when, id, got, want)
						}
					}
				}
				check("after the repair")
				if notes := s.suspects(); len(notes) != 0 {
					t.Errorf("notes left after Collect: %v", notes)
				}

				dump := dumpIndex(t, s)
				again := collect(t, s)
				if got, want := fmt.Sprint(again.Lost, again.Damaged), fmt.Sprint(0, rep.Damaged); got != want {
					t.Errorf("Collect after the repair: lost, damaged = %s, want %s", got, want)
				}
				if got := dumpIndex(t, s); got != dump {
					t.Errorf("Collect after the repair changed the index:\n%s\nwas\n%s", got, dump)
				}

				// Node index n1 still has the lost records; a store index
				// rebuilt from it must not take them back.
				s.forget(s.path(storeIndex))
				if err := os.Remove(s.path(storeIndex)); err != nil {
					t.Fatal(err)
				}
				rebuilt := collect(t, s)
				check("after a rebuild of the store index")
				if got, want := fmt.Sprint(rebuilt.Runs, rebuilt.Completed, rebuilt.Failed, rebuilt.Running), fmt.Sprint(rep.Runs, rep.Completed, rep.Failed, rep.Running); got != want {
					t.Errorf("Collect after a rebuild: runs, completed, failed, running = %s, want %s", got, want)
				}
			})
		}
	}
	figures(t, "cases=%d damaged_ranges_found=%d runs_lost=%d", 2*len(tests), found, lostRuns)
}

// TestVerifyFindsSilentDamage damages a segment so that no cheap check can
// tell (same size, and the modification time put back): plain Collect
// misses it, Verify finds it.
func TestVerifyFindsSilentDamage(t *testing.T) {
	s, lines := newDamageStore(t)
	collect(t, s)
	off := lineOffsets(lines)
	path := s.segmentPath("w")
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	seg, _ := os.ReadFile(path)
	copy(seg[off[15]:off[16]-1], bytes.Repeat([]byte{0}, off[16]-1-off[15]))
	writeSegment(t, s, "w", string(seg))
	if err := os.Chtimes(path, info.ModTime(), info.ModTime()); err != nil {
		t.Fatal(err)
	}
	if rep := collect(t, s); rep.Lost != 0 || len(rep.Damaged) != 0 {
		t.Fatalf("Collect found lost=%d damaged=%v, want the damage unseen", rep.Lost, rep.Damaged)
	}
	rep, err := s.Verify(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprint([]Damage{{Segment: "w", Offset: int64(off[15]), Length: int64(off[16] - off[15]), Records: 1, Runs: 1, RunIDs: []string{runID(7)}}})
	if got := fmt.Sprint(rep.Damaged); rep.Lost != 1 || got != want {
		t.Errorf("Verify: lost=%d damaged=%s, want 1 and %s", rep.Lost, got, want)
	}
	if err := s.Records(func(*Record) error { return nil }); err != nil {
		t.Errorf("Records after Verify: %v", err)
	}
}

// TestForgedNote: a note that names a sound segment costs a read and
// changes nothing.
func TestForgedNote(t *testing.T) {
	s, _ := newDamageStore(t)
	collect(t, s)
	dump := dumpIndex(t, s)
	if err := s.noteSuspect("w", []Damage{{Segment: "w", Offset: 0, Length: 100, Records: 5}}); err != nil {
		t.Fatal(err)
	}
	rep := collect(t, s)
	if rep.Lost != 0 || len(rep.Damaged) != 0 {
		t.Errorf("Collect after a forged note: lost=%d damaged=%v, want none", rep.Lost, rep.Damaged)
	}
	if got := dumpIndex(t, s); got != dump {
		t.Errorf("a forged note changed the index:\n%s\nwas\n%s", got, dump)
	}
	if notes := s.suspects(); len(notes) != 0 {
		t.Errorf("notes left after Collect: %v", notes)
	}
}

func TestDamageErrorMessage(t *testing.T) {
	tests := []struct {
		name string
		e    DamageError
		want string
	}{
		{"one range", DamageError{Dir: "/st", Damage: []Damage{{Segment: "w", Offset: 10, Length: 300, Records: 2, Runs: 2, RunIDs: []string{"a", "b"}}}},
			"store /st: segment w is damaged at byte 10 (300 bytes): 2 records could not be read and were skipped (runs a, b)"},
		{"one record", DamageError{Dir: "/st", Damage: []Damage{{Segment: "w", Offset: 0, Length: 30, Records: 1, Runs: 1, RunIDs: []string{"a"}}}},
			"store /st: segment w is damaged at byte 0 (30 bytes): 1 record could not be read and was skipped (run a)"},
		{"two ranges", DamageError{Dir: "/st", Damage: []Damage{
			{Segment: "w", Offset: 0, Length: 30, Records: 1, Runs: 1, RunIDs: []string{"a"}},
			{Segment: "x", Offset: 5, Length: 9, Records: 12, Runs: 12, RunIDs: strings.Split("b c d e f g h i j k l m", " ")},
		}}, "store /st: 13 records could not be read in 2 damaged ranges and were skipped:\n" +
			"  segment w at byte 0 (30 bytes): 1 record lost (run a)\n" +
			"  segment x at byte 5 (9 bytes): 12 records lost (runs b, c, d, e, f, g, h, i, j, k, and 2 more)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.e.Error(); got != tt.want {
				t.Errorf("Error()=\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestCollectCutWithoutLoss cuts a segment's last line, which only a torn
// line followed and no index row points at: the store index's coverage
// comes down to the new end, once, and no run is lost.
func TestCollectCutWithoutLoss(t *testing.T) {
	s := TestStore(t)
	line := encode(t, testRecord(1, StatusCompleted, 1)) + "\n"
	writeSegment(t, s, "x", line+"{garbage}\n")
	collect(t, s)
	writeSegment(t, s, "x", line+"{gar")
	rep := collect(t, s)
	if rep.Lost != 0 || len(rep.Damaged) != 0 || rep.Runs != 1 {
		t.Errorf("Collect: lost=%d damaged=%v runs=%d, want 0, none, 1", rep.Lost, rep.Damaged, rep.Runs)
	}
	if got, want := fmt.Sprint(rep.Torn), fmt.Sprint([]Torn{{Segment: "x", Offset: int64(len(line)), Length: 4, Reason: reasonIncomplete}}); got != want {
		t.Errorf("Collect: Torn=%s, want only the cut line %s", got, want)
	}
	dump := dumpIndex(t, s)
	collect(t, s)
	if got := dumpIndex(t, s); got != dump {
		t.Errorf("the next Collect changed the index:\n%s\nwas\n%s", got, dump)
	}
	if got, want := s.segmentSize("x"), int64(len(line)+4); got != want {
		t.Fatalf("segment size %d, want %d", got, want)
	}
	db, _ := s.existingStoreDB()
	var indexed int64
	if err := db.QueryRow(`SELECT indexed FROM segments WHERE name = 'x'`).Scan(&indexed); err != nil || indexed != int64(len(line)) {
		t.Errorf("store index covers %d bytes of x (%v), want %d", indexed, err, len(line))
	}
}
