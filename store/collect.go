package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// CollectReport summarises the store after a [Store.Collect].
type CollectReport struct {
	Segments int // segment files
	Records  int // records read from segments by this Collect (beyond what indexes covered)
	Runs     int // run IDs in the store

	// Run IDs by the status of their winning record.
	Completed, Failed, Cancelled, Running int

	// Duplicates counts completed records beyond the first of each run ID
	// (runs done twice, say after a requeue), in the whole store.
	Duplicates int

	// Torn lists the lines of the store's segments that are not records:
	// those found by any Collect so far, and segments' incomplete last lines.
	Torn []Torn

	// Damaged lists the ranges of segments that no longer hold the records
	// indexed there (see "Damage" in the package documentation), found by
	// this Collect or an earlier one.
	Damaged []Damage
	// Lost counts the runs whose winning record this Collect found lost in
	// a damaged range. Their records are dropped from the store index: each
	// such run is pending again, or back to the best surviving record of
	// another attempt of it.
	Lost int

	// Rebuilt names the indexes that could not be used and whose records were
	// read from the segments instead: node names, and "store" when the store
	// index itself was rebuilt.
	Rebuilt []string
}

// scanBatch is how many records Collect upserts per transaction when it
// reads a segment.
const scanBatch = 20000

// Collect brings the store index (index/store.sqlite) up to date with all
// segments, and reports on the store. It
//
//  1. merges every node index that passes an integrity check, taking over
//     how far it covers each segment; a node index that does not (truncated,
//     garbage, of another schema, or covering more of a segment than the
//     segment has) is skipped and listed in Rebuilt, and a broken one is
//     moved aside (to <node>.sqlite.corrupt) so that its writers can start a
//     new one. A node index that an earlier Collect merged and that is gone
//     now is listed in Rebuilt once. Their segments are read instead (step 2).
//     Rows of segments found damaged are never merged (see below);
//  2. reads each segment from where the store index covers it to its end,
//     which picks up what no index has, such as the records of a crash
//     between a segment's fsync and its index update;
//  3. verifies the segments that may be damaged, and repairs the store
//     index where they are (see "Damage" in the package documentation); a
//     segment that shrank below what the store index covers, or vanished,
//     is damaged;
//  4. rebuilds the store index from scratch when it is corrupt (moving it
//     aside to store.sqlite.corrupt) or of another schema.
//
// Collect is idempotent: running it again changes nothing and reports the
// same counts (Records and Lost aside). One Collect at a time per store is
// expected; concurrent ones are safe but wait for each other's locks.
func (s *Store) Collect(ctx context.Context) (CollectReport, error) {
	return s.collect(ctx, false)
}

// Verify is a Collect that also reads every segment in full and checks
// each record the store index locates in it, repairing what it finds
// damaged. It finds damage that no reader has met yet, at the cost of
// reading the whole store.
func (s *Store) Verify(ctx context.Context) (CollectReport, error) {
	return s.collect(ctx, true)
}

func (s *Store) collect(ctx context.Context, verifyAll bool) (CollectReport, error) {
	rep, trusted, err := s.collectOnce(ctx, verifyAll)
	if err != nil && trusted && isCorrupt(err) {
		// The saved state vouched for a store index that is broken after
		// all (changed without a trace in its stamp): check it this time.
		s.forgetCollectState()
		rep, _, err = s.collectOnce(ctx, verifyAll)
	}
	return rep, err
}

// collectOnce is Collect. trusted says that it skipped the integrity check
// of the store index on the word of the saved collect state.
func (s *Store) collectOnce(ctx context.Context, verifyAll bool) (rep CollectReport, trusted bool, err error) {
	c := &collection{s: s, ctx: ctx, verifyAll: verifyAll}
	err = c.run()
	return c.rep, c.trusted, err
}

// collection is one Collect on its way through its steps: what it has
// learnt of the store so far, and what it will save for the next one.
type collection struct {
	s         *Store
	ctx       context.Context
	verifyAll bool
	rep       CollectReport

	db *sql.DB // the store index
	// last is what the last Collect left; next what this one leaves.
	last, next collectState
	// unchanged says that the store index is as the last Collect left it,
	// so that its check and the merges of unchanged node indexes can be
	// skipped. trusted says that the check was skipped.
	unchanged, trusted bool

	stats map[string]segmentStamp // the segment files, as listed
	sizes map[string]int64        // their sizes
	known map[string]int64        // how far the store index covers each segment
	fresh bool                    // the store index was built anew

	verify map[string]bool // the segments to verify
	notes  []string        // the segments that readers asked to verify
	damage []Damage        // the damaged ranges known, as of index/damaged.json
	found  []Damage        // those that this Collect found
	tails  []Torn          // the segments' incomplete last lines
}

// run takes the steps of a Collect in order. Each step may skip work that
// an earlier one made unnecessary, but none may skip a record: whatever an
// index lacks, the segments have.
func (c *collection) run() error {
	if err := c.openStoreIndex(); err != nil {
		return err
	}
	if err := c.listSegments(); err != nil {
		return err
	}
	c.findSuspects()
	if err := c.mergeNodes(); err != nil {
		return err
	}
	if err := c.scanSegments(); err != nil {
		return err
	}
	if err := c.verifySuspects(); err != nil {
		return err
	}
	if err := c.recordDamage(); err != nil {
		return err
	}
	if err := c.s.counts(c.ctx, c.db, &c.rep); err != nil {
		return fmt.Errorf("store: reading index: %w", err)
	}
	c.saveState()
	c.reportTorn()
	return nil
}

// openStoreIndex opens the store index, and rebuilds it when it is broken
// (see [Store.storeDB]). Its integrity check reads the whole file, so it is
// skipped while the index is as the last Collect left it: `metalab status`
// collects every time.
func (c *collection) openStoreIndex() error {
	c.last = c.s.readCollectState()
	start, _ := stampOf(c.s.path(storeIndex))
	c.unchanged = !c.verifyAll && c.last.Nodes != nil && start == c.last.Store
	db, err := c.s.storeDB(&c.rep, c.unchanged)
	if err != nil {
		return err
	}
	c.db = db
	c.trusted = c.unchanged && len(c.rep.Rebuilt) == 0
	if len(c.rep.Rebuilt) > 0 {
		c.unchanged = false
	}
	c.next = collectState{Nodes: map[string]fileStamp{}}
	return nil
}

// listSegments lists the segment files, and how far the store index covers
// each: what the later steps compare.
func (c *collection) listSegments() error {
	stats, err := c.s.segmentStats()
	if err != nil {
		return err
	}
	c.stats = stats
	c.sizes = make(map[string]int64, len(stats))
	for name, st := range stats {
		c.sizes[name] = st.Size
	}
	c.next.Segments = stats
	c.rep.Segments = len(stats)
	if c.known, err = coveredSegments(c.db, "main"); err != nil {
		return fmt.Errorf("store: reading index: %w", err)
	}
	c.fresh = len(c.known) == 0
	return nil
}

// findSuspects chooses the segments to verify: those readers met damage in;
// those that shrank below what the store index covers, or vanished; those
// changed in place (same size as last time, another modification time: an
// append-only file is never rewritten); and those whose covered part no
// longer ends on a line boundary. These checks cost one stat per segment,
// listed anyway, and one byte read per segment that grew. The segments to
// verify are read from their own bytes, so no node index rows of theirs are
// merged. It also reads the damage that earlier Collects found.
func (c *collection) findSuspects() {
	c.verify = map[string]bool{}
	c.notes = c.s.suspects()
	for _, name := range c.notes {
		if _, ok := c.sizes[name]; ok {
			c.verify[name] = true
		}
	}
	for name, indexed := range c.known {
		if size, ok := c.sizes[name]; !ok || size < indexed {
			c.verify[name] = true
		}
	}
	for name, st := range c.stats {
		switch old, ok := c.last.Segments[name]; {
		case c.verifyAll:
			c.verify[name] = true
		case ok && old.Size == st.Size && old.ModTime != st.ModTime:
			c.verify[name] = true
		case st.Size > c.known[name] && !c.s.onLineBoundary(name, c.known[name]):
			c.verify[name] = true
		}
	}
	c.damage = c.s.readDamage()
}

// mergeNodes merges every node index that changed since the last Collect
// (see [Store.mergeNode]), except the rows that point into damaged or
// suspect segments. A node index it cannot use, and one that an earlier
// Collect merged and that is gone now, is listed in Rebuilt: their
// segments are read by scanSegments instead.
func (c *collection) mergeNodes() error {
	skip := make([]Damage, 0, len(c.verify))
	for name := range c.verify {
		skip = append(skip, Damage{Segment: name})
	}
	excluded := damagedSegments(append(skip, c.damage...))

	nodes, err := filepath.Glob(filepath.Join(c.s.path(nodesDir), "*"+indexExt))
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	merged := map[string]bool{}
	var skipped []string
	for _, path := range nodes {
		node := strings.TrimSuffix(filepath.Base(path), indexExt)
		stamp, ok := stampOf(path)
		if ok && c.unchanged && stamp == c.last.Nodes[node] {
			merged[node] = true
			c.next.Nodes[node] = stamp
			continue
		}
		if err := c.s.mergeNode(c.ctx, c.db, path, c.sizes, c.known, excluded); err != nil {
			if c.ctx.Err() != nil {
				return c.ctx.Err()
			}
			skipped = append(skipped, node)
			continue
		}
		merged[node] = true
		if ok {
			c.next.Nodes[node] = stamp
		}
	}
	gone, err := forgetNodes(c.ctx, c.db, merged)
	if err != nil {
		return fmt.Errorf("store: updating index: %w", err)
	}
	for _, node := range gone {
		if !slices.Contains(skipped, node) {
			skipped = append(skipped, node)
		}
	}
	slices.Sort(skipped)
	c.rep.Rebuilt = append(c.rep.Rebuilt, skipped...)
	return nil
}

// scanSegments reads each segment that is not to be verified from where
// the store index covers it to its end, which picks up what no index has,
// such as the records of a crash between a segment's fsync and its index
// update, or those of a node index that could not be merged.
func (c *collection) scanSegments() error {
	for _, name := range slices.Sorted(maps.Keys(c.sizes)) {
		if c.sizes[name] <= c.known[name] || c.verify[name] {
			continue
		}
		tail, err := c.s.scanSegment(c.ctx, c.db, name, c.known[name], &c.rep)
		if err != nil {
			return err
		}
		if tail != nil {
			c.tails = append(c.tails, *tail)
		}
	}
	return nil
}

// verifySuspects verifies the segments to verify (see [Store.verifySegment])
// and then gives the runs whose winning record was lost their best
// surviving one ([Store.reconcile]); that may meet damage in other
// segments, to verify in turn. After a rebuild of the store index with
// damaged segments, any run may be such a one.
func (c *collection) verifySuspects() error {
	done := map[string]bool{}
	fullReconcile := c.fresh && len(c.damage) > 0
	for len(c.verify) > 0 || fullReconcile {
		lost := map[string]bool{}
		for _, name := range slices.Sorted(maps.Keys(c.verify)) {
			done[name] = true
			v, err := c.s.verifySegment(c.ctx, c.db, name, c.known[name], &c.rep)
			if err != nil {
				return err
			}
			if v.tail != nil {
				c.tails = append(c.tails, *v.tail)
			}
			c.found = append(c.found, v.damage...)
			for _, id := range v.lost {
				lost[id] = true
			}
			c.rep.Lost += len(v.lost)
		}
		clear(c.verify)
		if len(lost) == 0 && !fullReconcile {
			break
		}
		if fullReconcile {
			// A store index built anew has the start records of the
			// attempts whose end was lost, from the damaged segments.
			err := withRetry(c.ctx, func() error {
				return inTx(c.db, func(tx *sql.Tx) error {
					if err := dropOrphanStarts(tx, c.damage); err != nil {
						return err
					}
					_, err := tx.Exec(dropCountsSQL)
					return err
				})
			})
			if err != nil {
				return fmt.Errorf("store: updating index: %w", err)
			}
			lost = nil
		}
		fullReconcile = false
		bad, err := c.s.reconcile(c.ctx, c.db, lost)
		if err != nil {
			return err
		}
		for _, name := range bad {
			if _, ok := c.sizes[name]; ok && !done[name] {
				c.verify[name] = true
			}
		}
	}
	return nil
}

// recordDamage adds the damage that verifySuspects found to
// index/damaged.json, which outlives a rebuild of the store index, and
// removes the readers' notes, which are answered: a segment a note names
// was verified, and one that is gone needs nothing.
func (c *collection) recordDamage() error {
	if len(c.found) > 0 {
		c.damage = append(c.damage, c.found...)
		sortDamage(c.damage)
		if err := c.s.writeDamage(c.damage); err != nil {
			return fmt.Errorf("store: recording damage: %w", err)
		}
	}
	for _, name := range c.notes {
		os.Remove(c.s.suspectPath(name))
	}
	c.rep.Damaged = c.damage
	return nil
}

// saveState saves what this Collect leaves, so that the next one can skip
// what has not changed since. It saves only if that says something new,
// and no other Collect wrote the store index in between.
func (c *collection) saveState() {
	end, ok := stampOf(c.s.path(storeIndex))
	if !ok {
		return
	}
	c.next.Store = end
	if !c.last.equal(c.next) {
		if again, _ := stampOf(c.s.path(storeIndex)); again == end {
			c.s.writeCollectState(c.next)
		}
	}
}

// reportTorn adds the segments' incomplete last lines to the torn lines
// that the store index keeps (which leaves them out, as their writers may
// still complete them), in segment order.
func (c *collection) reportTorn() {
	c.rep.Torn = append(c.rep.Torn, c.tails...)
	slices.SortFunc(c.rep.Torn, func(a, b Torn) int {
		return cmp.Or(strings.Compare(a.Segment, b.Segment), cmp.Compare(a.Offset, b.Offset))
	})
}

// storeDB opens the store index, replacing it by an empty one when it is
// corrupt or not a metalab index of this schema.
//
// checked says that the index is known to be as the last Collect left it,
// which checked it: then the check, which reads the whole file, is skipped.
func (s *Store) storeDB(rep *CollectReport, checked bool) (*sql.DB, error) {
	path := s.path(storeIndex)
	db, err := s.index(path)
	if err == nil {
		if checked {
			return db, nil
		}
		err = quickCheck(db, "main")
		if err == nil {
			return db, nil
		}
	}
	if !isCorrupt(err) && !errors.Is(err, errBadIndex) {
		return nil, err
	}
	s.forget(path)
	s.forgetCollectState()
	if err := moveAside(path); err != nil {
		return nil, err
	}
	rep.Rebuilt = append(rep.Rebuilt, "store")
	return s.index(path)
}

// segmentStats maps the name of each segment file to its size and
// modification time.
func (s *Store) segmentStats() (map[string]segmentStamp, error) {
	entries, err := os.ReadDir(s.path(segmentsDir))
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	stats := make(map[string]segmentStamp, len(entries))
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), segmentExt)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		stats[name] = segmentStamp{Size: info.Size(), ModTime: info.ModTime().UnixNano()}
	}
	return stats, nil
}

// segmentSize is the current size of a segment, or -1 if it does not exist.
func (s *Store) segmentSize(name string) int64 {
	info, err := os.Stat(s.segmentPath(name))
	if err != nil {
		return -1
	}
	return info.Size()
}

// coveredSegments maps each segment that the index attached as schema
// lists to how far it covers it.
func coveredSegments(q interface {
	Query(string, ...any) (*sql.Rows, error)
}, schema string) (map[string]int64, error) {
	rows, err := q.Query("SELECT name, indexed FROM " + schema + ".segments")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	known := make(map[string]int64)
	for rows.Next() {
		var name string
		var indexed int64
		if err := rows.Scan(&name, &indexed); err != nil {
			return nil, err
		}
		known[name] = indexed
	}
	return known, rows.Err()
}

// scanSegment reads segment name from offset from to its end into the store
// index. It returns the segment's incomplete last line, if any.
func (s *Store) scanSegment(ctx context.Context, db *sql.DB, name string, from int64, rep *CollectReport) (*Torn, error) {
	f, err := os.Open(s.segmentPath(name))
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}

	var rows []indexRow
	var torn []Torn
	end := from // the batch covers the segment up to end
	commit := func() error {
		err := withRetry(ctx, func() error {
			return inTx(db, func(tx *sql.Tx) error {
				if err := upsertRows(tx, name, rows, 0); err != nil {
					return err
				}
				if err := insertTorn(tx, torn); err != nil {
					return err
				}
				if len(rows) > 0 {
					if _, err := tx.Exec(dropCountsSQL); err != nil {
						return err
					}
				}
				_, err := tx.Exec(coverSegmentSQL, name, end)
				return err
			})
		})
		if err != nil {
			return fmt.Errorf("store: updating index: %w", err)
		}
		rows, torn = rows[:0], torn[:0]
		return nil
	}
	lines := 0
	next := func(off int64, n int) error {
		end = off + int64(n)
		if lines++; lines%scanBatch == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			return commit()
		}
		return nil
	}
	rr, err := readSegment(f, from,
		func(rec *Record, off int64, n int) error {
			rows = append(rows, indexRow{runID: rec.RunID, status: rec.Status, at: unixNanos(rec.When()), off: off, n: n})
			return next(off, n)
		},
		func(t Torn) error {
			t.Segment = name
			torn = append(torn, t)
			return next(t.Offset, t.Length)
		})
	rep.Records += rr.Records
	if err != nil {
		return nil, fmt.Errorf("store: reading segment %s: %w", name, err)
	}
	if end > from || len(rows) > 0 {
		if err := commit(); err != nil {
			return nil, err
		}
	}
	if k := len(rr.Torn); k > 0 && rr.Torn[k-1].Offset == rr.Bytes {
		t := rr.Torn[k-1]
		t.Segment = name
		return &t, nil
	}
	return nil, nil
}
