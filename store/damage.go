package store

import (
	"bufio"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Damage is a range of a segment whose bytes no longer hold the records
// that were indexed there: a block overwritten by zeros (a failing disk, a
// filesystem repaired after a crash), lines replaced by garbage, or
// records shifted by bytes inserted before them.
type Damage struct {
	Segment string `json:"segment"`
	Offset  int64  `json:"offset"`
	Length  int64  `json:"length"`
	// Records counts the indexed records lost in the range.
	Records int `json:"records"`
	// Runs counts the runs whose winning record was among them; RunIDs
	// are their IDs.
	Runs   int      `json:"runs"`
	RunIDs []string `json:"run_ids,omitempty"`
}

// maxDamageIDs run IDs are shown per damaged range.
const maxDamageIDs = 10

func (d Damage) String() string {
	return fmt.Sprintf("segment %s at byte %d (%d bytes): %s lost%s",
		d.Segment, d.Offset, d.Length, plural(d.Records, "record"), idList(d.RunIDs))
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// idList is " (runs a, b, ...)", at most maxDamageIDs of them, or "".
func idList(ids []string) string {
	switch {
	case len(ids) == 0:
		return ""
	case len(ids) == 1:
		return " (run " + ids[0] + ")"
	case len(ids) > maxDamageIDs:
		return fmt.Sprintf(" (runs %s, and %d more)", strings.Join(ids[:maxDamageIDs], ", "), len(ids)-maxDamageIDs)
	}
	return " (runs " + strings.Join(ids, ", ") + ")"
}

// DamageError is returned by the readers of records ([Snapshot.Records],
// [Snapshot.Lines], [Store.Records]) after a pass that met records it could
// not read because their segment was damaged after they were indexed. The
// reader skipped them and delivered every other record; the caller decides
// whether what it got is good enough.
//
// The reader also left a note in the store's index directory (Noted), so
// that the next [Store.Collect] re-reads those segments and repairs the
// indexes: it drops the lost records, and their runs are pending again.
// Without the note (a store the reader cannot write), [Store.Verify] finds
// the damage by reading every segment.
type DamageError struct {
	Dir    string
	Damage []Damage
	Noted  bool
}

func (e *DamageError) Error() string {
	n := 0
	for _, d := range e.Damage {
		n += d.Records
	}
	if len(e.Damage) == 1 {
		d := e.Damage[0]
		return fmt.Sprintf("store %s: segment %s is damaged at byte %d (%d bytes): %s could not be read and %s skipped%s",
			e.Dir, d.Segment, d.Offset, d.Length, plural(n, "record"), map[bool]string{true: "was", false: "were"}[n == 1], idList(d.RunIDs))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "store %s: %s could not be read in %d damaged ranges and were skipped:", e.Dir, plural(n, "record"), len(e.Damage))
	for _, d := range e.Damage {
		b.WriteString("\n  " + d.String())
	}
	return b.String()
}

// badLocations gathers the locations a pass of a Snapshot could not read.
// The read and the decode of a pass run in different goroutines, so they
// arrive out of order.
type badLocations struct {
	mu  sync.Mutex
	idx []int
}

func (b *badLocations) add(i int) {
	b.mu.Lock()
	b.idx = append(b.idx, i)
	b.mu.Unlock()
}

// damageError turns the bad locations of a pass into ranges: neighbouring
// locations of one segment make one range. It leaves a note per damaged
// segment for the next Collect. nil when the pass read everything.
func (sn *Snapshot) damageError(bad *badLocations) error {
	if len(bad.idx) == 0 {
		return nil
	}
	slices.Sort(bad.idx)
	idx := slices.Compact(bad.idx)
	var ds []Damage
	prev := -2
	for _, i := range idx {
		l := &sn.locs[i]
		if i == prev+1 && sn.locs[prev].seg == l.seg {
			d := &ds[len(ds)-1]
			d.Length = l.off + int64(l.n) - d.Offset
			d.Records++
			d.Runs++
		} else {
			ds = append(ds, Damage{Segment: sn.segs[l.seg], Offset: l.off, Length: int64(l.n), Records: 1, Runs: 1})
		}
		d := &ds[len(ds)-1]
		d.RunIDs = append(d.RunIDs, sn.runID(l))
		prev = i
	}
	noted := true
	for i := 0; i < len(ds); {
		j := i
		for j < len(ds) && ds[j].Segment == ds[i].Segment {
			j++
		}
		if sn.s.noteSuspect(ds[i].Segment, ds[i:j]) != nil {
			noted = false
		}
		i = j
	}
	return &DamageError{Dir: sn.s.dir, Damage: ds, Noted: noted}
}

// Readers that meet a record they cannot read leave a note,
// index/suspect-<segment>.json, that asks the next Collect to verify the
// segment. The note is only a request: Collect believes what it reads in
// the segment, not what the note says, so a stale or forged note costs one
// read of the segment and nothing else.
const (
	suspectPrefix = "index/suspect-"
	suspectExt    = ".json"
)

func (s *Store) suspectPath(segment string) string {
	return s.path(suspectPrefix + segment + suspectExt)
}

// noteSuspect leaves the note for segment, saying what the reader saw.
func (s *Store) noteSuspect(segment string, ds []Damage) error {
	return WriteFileAtomic(s.suspectPath(segment), 0o664, func(w io.Writer) error {
		return json.NewEncoder(w).Encode(ds)
	})
}

// suspects lists the segments that readers asked to verify.
func (s *Store) suspects() []string {
	paths, _ := filepath.Glob(s.path(suspectPrefix) + "*" + suspectExt)
	var names []string
	for _, p := range paths {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(p), filepath.Base(suspectPrefix)), suspectExt)
		if validName(name) {
			names = append(names, name)
		}
	}
	return names
}

// damagedFile lists the damaged ranges that Collect found. The segments
// named in it are indexed from their own bytes from then on: a node index
// still holds its rows that point into the damage (Collect does not write
// node indexes, which belong to their node), and merging them again, as
// a rebuilt store index does, would bring the lost records back. It lives
// outside the store index so that it outlives a rebuild of that index.
//
// It is believed without a check, because believing it can only cost
// time: a segment named in it is read rather than taken from node
// indexes, which is always correct. Lost, it is found again: a reader
// meets the records it no longer has and leaves a note.
const damagedFile = "index/damaged.json"

type damageState struct {
	Damaged []Damage `json:"damaged"`
}

func (s *Store) readDamage() []Damage {
	var st damageState
	b, err := os.ReadFile(s.path(damagedFile))
	if err != nil || json.Unmarshal(b, &st) != nil {
		return nil
	}
	return st.Damaged
}

func (s *Store) writeDamage(ds []Damage) error {
	return WriteFileAtomic(s.path(damagedFile), 0o664, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(damageState{Damaged: ds})
	})
}

// damagedSegments is the JSON array of the segments of ds, as the merge
// statements take it.
func damagedSegments(ds []Damage) string {
	names := []string{}
	for _, d := range ds {
		names = append(names, d.Segment)
	}
	slices.Sort(names)
	b, _ := json.Marshal(slices.Compact(names))
	return string(b)
}

func sortDamage(ds []Damage) {
	slices.SortFunc(ds, func(a, b Damage) int {
		return cmp.Or(strings.Compare(a.Segment, b.Segment), cmp.Compare(a.Offset, b.Offset))
	})
}

// pointer is a row of the store index that points into a segment: a
// winning record (runs), or an ended attempt (attempts, which keeps no
// length: n is 0).
type pointer struct {
	off    int64
	n      int
	runID  string
	status Status
	winner bool
}

// verified is what verifySegment found.
type verified struct {
	damage []Damage
	lost   []string // runs whose winning record was lost
	tail   *Torn    // the segment's incomplete last line
}

// verifySegment reads segment name in full and checks every row of the
// store index that points into it: each must find, at its offset, a whole
// line that is a record of its run and status. When all do, the records
// past from (how far the index covered the segment) are added, as a scan
// would. When some do not, the segment is damaged: all its rows are
// replaced by what the segment holds now (records that moved, because
// bytes were inserted before them, are found again at their new offsets),
// and the records found nowhere are lost, with the damaged ranges that
// held them.
func (s *Store) verifySegment(ctx context.Context, db *sql.DB, name string, from int64, rep *CollectReport) (verified, error) {
	var v verified
	ptrs, err := pointersInto(ctx, db, name)
	if err != nil {
		return v, fmt.Errorf("store: reading index: %w", err)
	}
	// A segment that vanished holds nothing: every row into it is lost.
	var r io.Reader = strings.NewReader("")
	f, err := os.Open(s.segmentPath(name))
	switch {
	case err == nil:
		defer f.Close()
		r = f
	case !errors.Is(err, fs.ErrNotExist):
		return v, fmt.Errorf("store: %w", err)
	}
	vanished := f == nil
	var recs []indexRow
	var torn []Torn
	rr, err := readSegment(r, 0,
		func(rec *Record, off int64, n int) error {
			if len(recs)%scanBatch == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			recs = append(recs, indexRow{runID: rec.RunID, status: rec.Status, at: unixNanos(rec.When()), off: off, n: n})
			return nil
		},
		func(t Torn) error {
			t.Segment = name
			torn = append(torn, t)
			return nil
		})
	if err != nil {
		return v, fmt.Errorf("store: reading segment %s: %w", name, err)
	}
	if k := len(rr.Torn); k > 0 && rr.Torn[k-1].Offset == rr.Bytes {
		t := rr.Torn[k-1]
		t.Segment = name
		v.tail = &t
	}
	for _, r := range recs {
		if r.off >= from {
			rep.Records++
		}
	}

	at := func(off int64) int { // index of the record at or after off
		return sort.Search(len(recs), func(i int) bool { return recs[i].off >= off })
	}
	var bad []pointer
	for _, p := range ptrs {
		i := at(p.off)
		if i < len(recs) && recs[i].off == p.off && recs[i].runID == p.runID && recs[i].status == p.status && (p.n == 0 || recs[i].n == p.n) {
			continue
		}
		bad = append(bad, p)
	}

	if len(bad) == 0 && vanished {
		err := withRetry(ctx, func() error {
			return inTx(db, func(tx *sql.Tx) error {
				_, err := tx.Exec(`DELETE FROM segments WHERE name = ?; DELETE FROM torn WHERE segment = ?`, name, name)
				return err
			})
		})
		if err != nil {
			return v, fmt.Errorf("store: updating index: %w", err)
		}
		return v, nil
	}
	if len(bad) == 0 {
		i := at(from)
		newTorn := torn[:0:0]
		for _, t := range torn {
			if t.Offset >= from {
				newTorn = append(newTorn, t)
			}
		}
		if i == len(recs) && len(newTorn) == 0 && rr.Bytes == from {
			return v, nil
		}
		cover := coverSegmentSQL
		if rr.Bytes < from {
			// Cut, but only where no index row pointed: the coverage
			// comes down to what is there.
			cover = setCoverSQL
		}
		err := withRetry(ctx, func() error {
			return inTx(db, func(tx *sql.Tx) error {
				if err := upsertRows(tx, name, recs[i:], 0); err != nil {
					return err
				}
				if rr.Bytes < from {
					if _, err := tx.Exec(`DELETE FROM torn WHERE segment = ? AND "offset" >= ?`, name, rr.Bytes); err != nil {
						return err
					}
				}
				if err := insertTorn(tx, newTorn); err != nil {
					return err
				}
				if i < len(recs) {
					if _, err := tx.Exec(dropCountsSQL); err != nil {
						return err
					}
				}
				_, err := tx.Exec(cover, name, rr.Bytes)
				return err
			})
		})
		if err != nil {
			return v, fmt.Errorf("store: updating index: %w", err)
		}
		return v, nil
	}

	v.damage, v.lost = locateDamage(name, ptrs, bad, recs, torn, rr.Bytes)

	err = withRetry(ctx, func() error {
		return inTx(db, func(tx *sql.Tx) error {
			for _, q := range []string{
				`DELETE FROM runs WHERE segment = ?`,
				`DELETE FROM attempts WHERE segment = ?`,
				`DELETE FROM torn WHERE segment = ?`,
			} {
				if _, err := tx.Exec(q, name); err != nil {
					return err
				}
			}
			if err := upsertRows(tx, name, recs, 0); err != nil {
				return err
			}
			if err := dropOrphanStarts(tx, v.damage); err != nil {
				return err
			}
			if err := insertTorn(tx, torn); err != nil {
				return err
			}
			if _, err := tx.Exec(dropCountsSQL); err != nil {
				return err
			}
			if vanished {
				_, err := tx.Exec(`DELETE FROM segments WHERE name = ?`, name)
				return err
			}
			_, err := tx.Exec(setCoverSQL, name, rr.Bytes)
			return err
		})
	})
	if err != nil {
		return v, fmt.Errorf("store: updating index: %w", err)
	}
	return v, nil
}

// locateDamage says where a damaged segment lost records, in terms of the
// segment as it is now (recs and torn, up to end), given the index's rows
// into it (ptrs) and those of them that did not find their record at their
// offset (bad). A bad row whose record (run and status) is elsewhere in the
// segment moved, because bytes were inserted or removed before it; the
// others are lost. Rows that found their record, where it was or where it
// moved, are anchors: the damage lies in the gaps between them, and a gap
// that holds lost rows, or changed its length, is reported by the lines
// that are not records in it (or, where there are none, as the lost rows'
// extent at the start of the gap). It also returns the runs whose winning
// record was lost.
func locateDamage(name string, ptrs, bad []pointer, recs []indexRow, torn []Torn, end int64) ([]Damage, []string) {
	type key struct {
		runID  string
		status Status
	}
	isBad := make(map[int64]bool, len(bad))
	for _, p := range bad {
		isBad[p.off] = true
	}
	where := map[key][]int{} // records of the segment by run and status
	for i, r := range recs {
		where[key{r.runID, r.status}] = append(where[key{r.runID, r.status}], i)
	}
	// One item per offset the index points at: a winner and its attempt
	// row are the same line.
	type item struct {
		oldOff, oldEnd int64
		newOff, newEnd int64 // where its record is now, unless lost
		lost, winner   bool
		runID          string
	}
	sorted := slices.Clone(ptrs)
	slices.SortFunc(sorted, func(a, b pointer) int { return cmp.Or(cmp.Compare(a.off, b.off), cmp.Compare(b.n, a.n)) })
	var items []item
	var lastEnd int64
	for _, p := range sorted {
		if k := len(items); k > 0 && items[k-1].oldOff == p.off {
			items[k-1].winner = items[k-1].winner || p.winner
			continue
		}
		it := item{oldOff: p.off, oldEnd: p.off + int64(max(p.n, 1)), winner: p.winner, runID: p.runID}
		i := -1
		if !isBad[p.off] {
			i = sort.Search(len(recs), func(i int) bool { return recs[i].off >= p.off })
		} else {
			// Where it moved: the first such record past the last anchor.
			for _, j := range where[key{p.runID, p.status}] {
				if i < 0 || recs[i].off < lastEnd && recs[j].off >= lastEnd {
					i = j
				}
			}
		}
		if i < 0 {
			it.lost = true
		} else {
			it.newOff, it.newEnd = recs[i].off, recs[i].off+int64(recs[i].n)
			if p.n == 0 {
				it.oldEnd = it.oldOff + int64(recs[i].n)
			}
			lastEnd = it.newEnd
		}
		items = append(items, it)
	}

	var ds []Damage
	lostRuns := map[string]bool{}
	// gap reports the damage between the anchors that end at from and
	// begin at to, holding the lost items group.
	gap := func(from, to int64, group []item) {
		d := Damage{Segment: name, Offset: -1}
		for _, t := range torn {
			if t.Offset >= from && t.Offset+int64(t.Length) <= to {
				if d.Offset < 0 {
					d.Offset = t.Offset
				}
				d.Length = t.Offset + int64(t.Length) - d.Offset
			}
		}
		if len(group) == 0 && d.Offset < 0 {
			return
		}
		if d.Offset < 0 {
			d.Offset, d.Length = from, max(group[len(group)-1].oldEnd-group[0].oldOff, 1)
		}
		for _, it := range group {
			d.Records++
			if it.winner {
				d.Runs++
				d.RunIDs = append(d.RunIDs, it.runID)
				lostRuns[it.runID] = true
			}
		}
		slices.Sort(d.RunIDs)
		ds = append(ds, d)
	}
	var prev item // the last anchor; the zero item stands for the start
	var group []item
	for _, it := range items {
		if it.lost {
			group = append(group, it)
			continue
		}
		if len(group) > 0 || it.newOff-prev.newEnd != it.oldOff-prev.oldEnd {
			gap(prev.newEnd, it.newOff, group)
		}
		prev, group = it, nil
	}
	if len(group) > 0 {
		gap(prev.newEnd, end, group)
	}
	if len(ds) == 0 {
		// Only moved records, and no line out of place between them:
		// the damage is where the first one was.
		ds = append(ds, Damage{Segment: name, Offset: bad[0].off, Length: 1})
	}
	return ds, slices.Sorted(maps.Keys(lostRuns))
}

// dropOrphanStarts removes the winning records of runs that lost theirs in
// ds that are start records before the end of the damage: such a record
// began the attempt whose end was lost, and would show the run as running
// for ever. Such a run is pending, or has its best ended attempt from
// elsewhere (reconcile).
func dropOrphanStarts(tx *sql.Tx, ds []Damage) error {
	for _, d := range ds {
		if len(d.RunIDs) == 0 {
			continue
		}
		ids, _ := json.Marshal(d.RunIDs)
		if _, err := tx.Exec(`DELETE FROM runs WHERE segment = ? AND status = 'running' AND "offset" < ?
			AND run_id IN (SELECT value FROM json_each(?))`, d.Segment, d.Offset+d.Length, string(ids)); err != nil {
			return err
		}
	}
	return nil
}

// pointersInto lists the rows of the store index that point into segment
// name.
func pointersInto(ctx context.Context, db *sql.DB, name string) ([]pointer, error) {
	var ptrs []pointer
	err := withRetry(ctx, func() error {
		ptrs = ptrs[:0]
		rows, err := db.QueryContext(ctx, `
			SELECT "offset", length, run_id, status, 1 FROM runs WHERE segment = ?
			UNION ALL
			SELECT "offset", 0, run_id, status, 0 FROM attempts WHERE segment = ?`, name, name)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var p pointer
			if err := rows.Scan(&p.off, &p.n, &p.runID, &p.status, &p.winner); err != nil {
				return err
			}
			ptrs = append(ptrs, p)
		}
		return rows.Err()
	})
	return ptrs, err
}

func insertTorn(tx *sql.Tx, torn []Torn) error {
	for _, t := range torn {
		if _, err := tx.Exec(`INSERT OR IGNORE INTO torn (segment, "offset", length, reason) VALUES (?, ?, ?, ?)`,
			t.Segment, t.Offset, t.Length, t.Reason); err != nil {
			return err
		}
	}
	return nil
}

// reconcileSQL lists the ended attempts that should win their run but do
// not: of runs without a winning record, or whose winner ranks lower, or
// ranks the same (then the attempt may be the later one). The store index
// lists every ended attempt, so a run whose winning record was lost finds
// its best surviving completed or failed record among them.
const reconcileSQL = `
SELECT a.run_id, a.segment, a."offset", a.status FROM attempts a LEFT JOIN runs r ON r.run_id = a.run_id
WHERE r.run_id IS NULL
	OR r.rank < (CASE a.status WHEN 'completed' THEN 4 ELSE 3 END)
	OR (r.rank = (CASE a.status WHEN 'completed' THEN 4 ELSE 3 END) AND NOT (r.segment = a.segment AND r."offset" = a."offset"))`

// reconcile gives the runs of ids (every run, when ids is nil) their best
// surviving ended attempt as winning record, where that beats what they
// have. It returns the segments in which an attempt's line could not be
// read: they are damaged too, and need verifying.
func (s *Store) reconcile(ctx context.Context, db *sql.DB, ids map[string]bool) ([]string, error) {
	type cand struct {
		runID, segment string
		off            int64
		status         Status
	}
	var cands []cand
	err := withRetry(ctx, func() error {
		cands = cands[:0]
		rows, err := db.QueryContext(ctx, reconcileSQL)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c cand
			if err := rows.Scan(&c.runID, &c.segment, &c.off, &c.status); err != nil {
				return err
			}
			if ids == nil || ids[c.runID] {
				cands = append(cands, c)
			}
		}
		return rows.Err()
	})
	if err != nil || len(cands) == 0 {
		return nil, err
	}
	slices.SortFunc(cands, func(a, b cand) int {
		return cmp.Or(strings.Compare(a.segment, b.segment), cmp.Compare(a.off, b.off))
	})
	bySegment := map[string][]indexRow{}
	var bad []string
	var f *os.File
	for i, c := range cands {
		if i == 0 || c.segment != cands[i-1].segment {
			if f != nil {
				f.Close()
			}
			if f, err = os.Open(s.segmentPath(c.segment)); err != nil {
				f = nil
				bad = append(bad, c.segment)
				continue
			}
		}
		if f == nil {
			continue
		}
		line, err := bufio.NewReader(io.NewSectionReader(f, c.off, 1<<62)).ReadBytes('\n')
		var rec *Record
		if err == nil {
			rec, _ = decodeLine(line)
		}
		if rec == nil || rec.RunID != c.runID || rec.Status != c.status {
			if len(bad) == 0 || bad[len(bad)-1] != c.segment {
				bad = append(bad, c.segment)
			}
			continue
		}
		bySegment[c.segment] = append(bySegment[c.segment],
			indexRow{runID: rec.RunID, status: rec.Status, at: unixNanos(rec.When()), off: c.off, n: len(line)})
	}
	if f != nil {
		f.Close()
	}
	if len(bySegment) > 0 {
		err := withRetry(ctx, func() error {
			return inTx(db, func(tx *sql.Tx) error {
				for seg, rows := range bySegment {
					if err := upsertRows(tx, seg, rows, 0); err != nil {
						return err
					}
				}
				_, err := tx.Exec(dropCountsSQL)
				return err
			})
		})
		if err != nil {
			return nil, fmt.Errorf("store: updating index: %w", err)
		}
	}
	return slices.Compact(bad), nil
}

// onLineBoundary reports whether offset off of segment name begins a line,
// as the end of what an index covers must: when it does not, the bytes
// before it changed since they were indexed.
func (s *Store) onLineBoundary(name string, off int64) bool {
	if off == 0 {
		return true
	}
	f, err := os.Open(s.segmentPath(name))
	if err != nil {
		return true // Collect's scan reports it
	}
	defer f.Close()
	var b [1]byte
	_, err = f.ReadAt(b[:], off-1)
	return err != nil && !errors.Is(err, io.EOF) || b[0] == '\n'
}
