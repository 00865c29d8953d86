package store

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
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

// errBadIndex marks an index file that SQLite can open but that is not a
// usable metalab index.
var errBadIndex = errors.New("not a usable metalab index")

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
	// What the last Collect left: while the store index is as it left it,
	// its check and the merges of unchanged node indexes can be skipped.
	// Skipping a merge is always safe, as step 2 reads from the segments
	// whatever the store index lacks.
	last := s.readCollectState()
	start, _ := stampOf(s.path(storeIndex))
	unchanged := !verifyAll && last.Nodes != nil && start == last.Store
	db, err := s.storeDB(&rep, unchanged)
	if err != nil {
		return rep, false, err
	}
	trusted = unchanged && len(rep.Rebuilt) == 0
	if len(rep.Rebuilt) > 0 {
		unchanged = false
	}
	next := collectState{Nodes: map[string]fileStamp{}}
	stats, err := s.segmentStats()
	if err != nil {
		return rep, trusted, err
	}
	sizes := make(map[string]int64, len(stats))
	for name, st := range stats {
		sizes[name] = st.Size
	}
	next.Segments = stats
	rep.Segments = len(stats)
	known, err := coveredSegments(db, "main")
	if err != nil {
		return rep, trusted, fmt.Errorf("store: reading index: %w", err)
	}
	fresh := len(known) == 0 // a store index built anew

	// The segments to verify: those readers met damage in; those that
	// shrank below what the store index covers, or vanished; those changed
	// in place (same size as last time, another modification time: an
	// append-only file is never rewritten); and those whose covered part no
	// longer ends on a line boundary. They are read from their own bytes,
	// so no node index rows of theirs are merged.
	verify := map[string]bool{}
	notes := s.suspects()
	for _, name := range notes {
		if _, ok := sizes[name]; ok {
			verify[name] = true
		}
	}
	for name, indexed := range known {
		if size, ok := sizes[name]; !ok || size < indexed {
			verify[name] = true
		}
	}
	for name, st := range stats {
		switch old, ok := last.Segments[name]; {
		case verifyAll:
			verify[name] = true
		case ok && old.Size == st.Size && old.ModTime != st.ModTime:
			verify[name] = true
		case st.Size > known[name] && !s.onLineBoundary(name, known[name]):
			verify[name] = true
		}
	}
	damage := s.readDamage()
	var skip []Damage
	for name := range verify {
		skip = append(skip, Damage{Segment: name})
	}
	excluded := damagedSegments(append(skip, damage...))

	nodes, err := filepath.Glob(filepath.Join(s.path(nodesDir), "*"+indexExt))
	if err != nil {
		return rep, trusted, fmt.Errorf("store: %w", err)
	}
	merged := map[string]bool{}
	var skipped []string
	for _, path := range nodes {
		node := strings.TrimSuffix(filepath.Base(path), indexExt)
		stamp, ok := stampOf(path)
		if ok && unchanged && stamp == last.Nodes[node] {
			merged[node] = true
			next.Nodes[node] = stamp
			continue
		}
		if err := s.mergeNode(ctx, db, path, sizes, known, excluded); err != nil {
			if ctx.Err() != nil {
				return rep, trusted, ctx.Err()
			}
			skipped = append(skipped, node)
			continue
		}
		merged[node] = true
		if ok {
			next.Nodes[node] = stamp
		}
	}
	gone, err := forgetNodes(ctx, db, merged)
	if err != nil {
		return rep, trusted, fmt.Errorf("store: updating index: %w", err)
	}
	for _, node := range gone {
		if !slices.Contains(skipped, node) {
			skipped = append(skipped, node)
		}
	}
	slices.Sort(skipped)
	rep.Rebuilt = append(rep.Rebuilt, skipped...)

	names := slices.Sorted(maps.Keys(sizes))
	var tails []Torn
	for _, name := range names {
		if sizes[name] <= known[name] || verify[name] {
			continue
		}
		tail, err := s.scanSegment(ctx, db, name, known[name], &rep)
		if err != nil {
			return rep, trusted, err
		}
		if tail != nil {
			tails = append(tails, *tail)
		}
	}

	// Verify, then give the runs whose winning record was lost their best
	// surviving one; that may meet damage in other segments, to verify in
	// turn. After a rebuild of the store index with damaged segments, any
	// run may be such a one.
	done := map[string]bool{}
	var found []Damage
	fullReconcile := fresh && len(damage) > 0
	for len(verify) > 0 || fullReconcile {
		lost := map[string]bool{}
		for _, name := range slices.Sorted(maps.Keys(verify)) {
			done[name] = true
			v, err := s.verifySegment(ctx, db, name, known[name], &rep)
			if err != nil {
				return rep, trusted, err
			}
			if v.tail != nil {
				tails = append(tails, *v.tail)
			}
			found = append(found, v.damage...)
			for _, id := range v.lost {
				lost[id] = true
			}
			rep.Lost += len(v.lost)
		}
		clear(verify)
		if len(lost) == 0 && !fullReconcile {
			break
		}
		if fullReconcile {
			// A store index built anew has the start records of the
			// attempts whose end was lost, from the damaged segments.
			err := withRetry(ctx, func() error {
				return inTx(db, func(tx *sql.Tx) error {
					if err := dropOrphanStarts(tx, damage); err != nil {
						return err
					}
					_, err := tx.Exec(dropCountsSQL)
					return err
				})
			})
			if err != nil {
				return rep, trusted, fmt.Errorf("store: updating index: %w", err)
			}
			lost = nil
		}
		fullReconcile = false
		bad, err := s.reconcile(ctx, db, lost)
		if err != nil {
			return rep, trusted, err
		}
		for _, name := range bad {
			if _, ok := sizes[name]; ok && !done[name] {
				verify[name] = true
			}
		}
	}
	if len(found) > 0 {
		damage = append(damage, found...)
		sortDamage(damage)
		if err := s.writeDamage(damage); err != nil {
			return rep, trusted, fmt.Errorf("store: recording damage: %w", err)
		}
	}
	// The notes are answered: a segment a note names was verified above,
	// and one that is gone needs nothing.
	for _, name := range notes {
		os.Remove(s.suspectPath(name))
	}
	rep.Damaged = damage

	if err := s.counts(ctx, db, &rep); err != nil {
		return rep, trusted, fmt.Errorf("store: reading index: %w", err)
	}
	if end, ok := stampOf(s.path(storeIndex)); ok {
		next.Store = end
		// Saved only if it says something new, and no other Collect
		// wrote in between.
		if !last.equal(next) {
			if again, _ := stampOf(s.path(storeIndex)); again == end {
				s.writeCollectState(next)
			}
		}
	}
	rep.Torn = append(rep.Torn, tails...)
	slices.SortFunc(rep.Torn, func(a, b Torn) int {
		return cmp.Or(strings.Compare(a.Segment, b.Segment), cmp.Compare(a.Offset, b.Offset))
	})
	return rep, trusted, nil
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

// moveAside renames a broken index, and its journal, which SQLite would
// otherwise roll back into the new index of the same name.
func moveAside(path string) error {
	for _, p := range []string{path, path + "-journal"} {
		if err := os.Rename(p, p+".corrupt"); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("store: moving broken index aside: %w", err)
		}
	}
	return nil
}

// quickCheck runs SQLite's quick integrity check on database schema of db's
// connection.
func quickCheck(q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, schema string) error {
	var res string
	if err := q.QueryRowContext(context.Background(), "PRAGMA "+schema+".quick_check(1)").Scan(&res); err != nil {
		return err
	}
	if res != "ok" {
		return fmt.Errorf("%w: integrity check: %s", errBadIndex, res)
	}
	return nil
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

// mergeNodeSQL merges the rows newer than a sequence number of a node index
// attached as "node" into the store index, but none of the damaged
// segments (a JSON array). (The WHERE also keeps SQLite from parsing ON
// CONFLICT as a join clause.)
var mergeNodeSQL = []string{`
INSERT INTO main.runs (run_id, status, rank, at, segment, "offset", length)
	SELECT run_id, status, rank, at, segment, "offset", length FROM node.runs
	WHERE seq > ? AND segment NOT IN (SELECT value FROM json_each(?))
ON CONFLICT (run_id) DO UPDATE SET
	status = excluded.status, rank = excluded.rank, at = excluded.at,
	segment = excluded.segment, "offset" = excluded."offset", length = excluded.length
WHERE excluded.rank > runs.rank OR (excluded.rank = runs.rank AND excluded.at > runs.at)`, `
INSERT OR IGNORE INTO main.attempts (segment, "offset", run_id, status)
	SELECT segment, "offset", run_id, status FROM node.attempts
	WHERE seq > ? AND segment NOT IN (SELECT value FROM json_each(?))`,
}

const coverSegmentSQL = `
INSERT INTO main.segments (name, base, indexed) VALUES (?, 0, ?)
ON CONFLICT (name) DO UPDATE SET indexed = excluded.indexed WHERE excluded.indexed > segments.indexed`

// mergeNode merges the node index at path into the store index, and
// advances known (how far the store index covers each segment) by what the
// node index covers. sizes are the sizes of the segments, as listed before;
// excluded is the JSON array of the damaged segments, which are indexed from
// their own bytes only. An error means that the node index was not merged.
func (s *Store) mergeNode(ctx context.Context, db *sql.DB, path string, sizes, known map[string]int64, excluded string) (err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	defer func() {
		if isCorrupt(err) || errors.Is(err, errBadIndex) {
			moveAside(path)
		}
	}()
	// An absolute path, which SQLite cannot take for a URI.
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, "ATTACH DATABASE ? AS node", abs); err != nil {
		return err
	}
	defer func() {
		if _, err := conn.ExecContext(context.Background(), "DETACH DATABASE node"); err != nil {
			// Do not hand a connection with "node" attached back to the pool.
			conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	if err := checkNode(ctx, conn); err != nil {
		return err
	}
	node := strings.TrimSuffix(filepath.Base(path), indexExt)
	var skip []string
	json.Unmarshal([]byte(excluded), &skip)
	covered := make(map[string]int64)
	err = withRetry(ctx, func() error {
		clear(covered)
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		// The node's coverage is read under the transaction's lock, so that
		// no writer of the node advances it while the runs are merged.
		rows, err := tx.QueryContext(ctx, "SELECT name, base, indexed FROM node.segments")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var name string
			var base, indexed int64
			if err := rows.Scan(&name, &base, &indexed); err != nil {
				return err
			}
			// The segment may have grown since it was listed.
			if slices.Contains(skip, name) {
				continue
			}
			if size, ok := sizes[name]; (!ok || size < indexed) && s.segmentSize(name) < indexed {
				return fmt.Errorf("%w: it covers %d bytes of segment %s, which has fewer", errStaleNode, indexed, name)
			}
			if base <= known[name] && indexed > known[name] {
				covered[name] = indexed
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		// Merge only what the node index wrote since the last merge, unless
		// it is not the index merged then.
		var instance, lastInstance string
		var seq, lastSeq int64
		if err := tx.QueryRowContext(ctx, `SELECT
			(SELECT value FROM node.meta WHERE key = 'instance'),
			(SELECT value FROM node.meta WHERE key = 'seq')`).Scan(&instance, &seq); err != nil {
			return err
		}
		err = tx.QueryRowContext(ctx, "SELECT instance, seq FROM main.merged WHERE node = ?", node).Scan(&lastInstance, &lastSeq)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if lastInstance != instance {
			lastSeq = -1
		}
		changed := false
		for _, q := range mergeNodeSQL {
			res, err := tx.ExecContext(ctx, q, lastSeq, excluded)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n > 0 {
				changed = true
			}
		}
		if changed {
			if _, err := tx.ExecContext(ctx, dropCountsSQL); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO main.merged (node, instance, seq) VALUES (?, ?, ?)
			ON CONFLICT (node) DO UPDATE SET instance = excluded.instance, seq = excluded.seq`, node, instance, seq); err != nil {
			return err
		}
		for name, indexed := range covered {
			if _, err := tx.ExecContext(ctx, coverSegmentSQL, name, indexed); err != nil {
				return err
			}
		}
		return tx.Commit()
	})
	if err != nil {
		return err
	}
	for name, indexed := range covered {
		known[name] = indexed
	}
	return nil
}

// forgetNodes drops the node indexes that an earlier Collect merged but
// this one did not (they are gone, or could not be used) from the store
// index's list, and returns their names. Should such a node index come back,
// it is merged in full.
func forgetNodes(ctx context.Context, db *sql.DB, merged map[string]bool) ([]string, error) {
	var gone []string
	err := withRetry(ctx, func() error {
		gone = gone[:0]
		return inTx(db, func(tx *sql.Tx) error {
			rows, err := tx.Query("SELECT node FROM merged ORDER BY node")
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var node string
				if err := rows.Scan(&node); err != nil {
					return err
				}
				if !merged[node] {
					gone = append(gone, node)
				}
			}
			if err := rows.Err(); err != nil {
				return err
			}
			for _, node := range gone {
				if _, err := tx.Exec("DELETE FROM merged WHERE node = ?", node); err != nil {
					return err
				}
			}
			return nil
		})
	})
	return gone, err
}

// errStaleNode marks a node index that covers more of a segment than the
// segment has (the segment was replaced, say): its rows cannot be trusted,
// but the file is sound, so it is not moved aside.
var errStaleNode = errors.New("stale node index")

// checkNode checks the node index attached as "node": integrity, journal
// mode and schema.
func checkNode(ctx context.Context, conn *sql.Conn) error {
	if err := quickCheck(conn, "node"); err != nil {
		return err
	}
	var mode, version string
	if err := conn.QueryRowContext(ctx, "PRAGMA node.journal_mode").Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "delete") {
		return fmt.Errorf("node index journal mode is %q, not \"delete\"", mode)
	}
	err := conn.QueryRowContext(ctx, "SELECT value FROM node.meta WHERE key = 'schema'").Scan(&version)
	if err != nil {
		// Most likely an empty file, or one whose first writer has not
		// committed yet: not broken, so not moved aside.
		return err
	}
	if version != indexSchema {
		return fmt.Errorf("%w: schema version %q, this metalab uses %q", errBadIndex, version, indexSchema)
	}
	return nil
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

// dropCountsSQL forgets the counts kept in the store index; every
// transaction of Collect that changes runs or attempts runs it.
const dropCountsSQL = `DELETE FROM meta WHERE key = 'counts';`

// storeCounts are the counts of a CollectReport that depend on the store
// index's content only. Collect keeps them in the store index (meta
// "counts"), so that a Collect that changes nothing reads them rather than
// count a million rows again; every transaction that changes runs or
// attempts drops them. Covered, the sum of the segments' covered bytes,
// catches a store index changed by a metalab that does not know to drop
// them: any new record moves it.
type storeCounts struct {
	Runs       int   `json:"runs"`
	Completed  int   `json:"completed"`
	Failed     int   `json:"failed"`
	Cancelled  int   `json:"cancelled"`
	Running    int   `json:"running"`
	Duplicates int   `json:"duplicates"`
	Covered    int64 `json:"covered"`
}

// counts fills in the counts of rep, and the torn lines found so far: from
// the counts the store index keeps, or by counting, and then keeping them.
func (s *Store) counts(ctx context.Context, db *sql.DB, rep *CollectReport) error {
	var kept string
	var covered int64
	err := withRetry(ctx, func() error {
		return db.QueryRowContext(ctx, `SELECT
			(SELECT COALESCE(MAX(value), '') FROM meta WHERE key = 'counts'),
			(SELECT COALESCE(SUM(indexed), 0) FROM segments)`).Scan(&kept, &covered)
	})
	if err != nil {
		return err
	}
	var c storeCounts
	if kept == "" || json.Unmarshal([]byte(kept), &c) != nil || c.Covered != covered {
		if c, err = countRuns(ctx, db); err != nil {
			return err
		}
		c.Covered = covered
		b, _ := json.Marshal(c)
		// Kept only if nothing changed the index since it was counted.
		err := withRetry(ctx, func() error {
			return inTx(db, func(tx *sql.Tx) error {
				var now int64
				if err := tx.QueryRow(`SELECT COALESCE(SUM(indexed), 0) FROM segments`).Scan(&now); err != nil || now != covered {
					return err
				}
				_, err := tx.Exec(`INSERT INTO meta (key, value) VALUES ('counts', ?)
					ON CONFLICT (key) DO UPDATE SET value = excluded.value`, string(b))
				return err
			})
		})
		if err != nil {
			return err
		}
	}
	rep.Runs, rep.Completed, rep.Failed, rep.Cancelled, rep.Running = c.Runs, c.Completed, c.Failed, c.Cancelled, c.Running
	rep.Duplicates = c.Duplicates

	rows, err := db.QueryContext(ctx, `SELECT segment, "offset", length, reason FROM torn`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var t Torn
		if err := rows.Scan(&t.Segment, &t.Offset, &t.Length, &t.Reason); err != nil {
			return err
		}
		rep.Torn = append(rep.Torn, t)
	}
	return rows.Err()
}

// countRuns counts the run IDs of the store index by status, and the
// duplicate completed records.
func countRuns(ctx context.Context, db *sql.DB) (storeCounts, error) {
	var c storeCounts
	err := withRetry(ctx, func() error {
		c = storeCounts{}
		rows, err := db.QueryContext(ctx, "SELECT status, COUNT(*) FROM runs GROUP BY status")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var st Status
			var n int
			if err := rows.Scan(&st, &n); err != nil {
				return err
			}
			c.Runs += n
			switch st {
			case StatusCompleted:
				c.Completed = n
			case StatusFailed:
				c.Failed = n
			case StatusCancelled:
				c.Cancelled = n
			case StatusRunning:
				c.Running = n
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		var completed int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM attempts WHERE status = 'completed'").Scan(&completed); err != nil {
			return err
		}
		// Every run with a completed record has a completed winner.
		c.Duplicates = completed - c.Completed
		return nil
	})
	return c, err
}
