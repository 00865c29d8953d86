package store

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// existingStoreDB opens the store index for reading; unlike Collect it does
// not create one.
func (s *Store) existingStoreDB() (*sql.DB, error) {
	path := s.path(storeIndex)
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("store %s has no index yet (run Collect first): %w", s.dir, err)
	}
	return s.index(path)
}

// Statuses maps each run ID to the status of its winning record, as of the
// last [Store.Collect]: call Collect first to see records written since.
func (s *Store) Statuses() (map[string]Status, error) {
	db, err := s.existingStoreDB()
	if err != nil {
		return nil, err
	}
	var out map[string]Status
	err = withRetry(context.Background(), func() error {
		out = make(map[string]Status)
		rows, err := db.Query("SELECT run_id, status FROM runs")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var st Status
			if err := rows.Scan(&id, &st); err != nil {
				return err
			}
			out[id] = st
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("store: reading index: %w", err)
	}
	return out, nil
}

// CompletedIDs calls fn with the run ID of each run whose winning record is
// completed, as of the last [Store.Collect]; id is valid only during the
// call. It is [Store.Statuses] for a caller that wants only the completed
// runs of a large store, without a string per run.
func (s *Store) CompletedIDs(fn func(id []byte)) error {
	return s.eachID("SELECT run_id, status FROM runs WHERE status = 'completed'", func(id []byte, _ Status) { fn(id) })
}

// RunIDs calls fn with the run ID and status of every run the store has,
// as of the last [Store.Collect]; id is valid only during the call. A plan
// learns from it which of its runs the store has, and how many it has of
// the experiment that are no longer in the plan.
func (s *Store) RunIDs(fn func(id []byte, status Status)) error {
	return s.eachID("SELECT run_id, status FROM runs", fn)
}

func (s *Store) eachID(query string, fn func(id []byte, status Status)) error {
	db, err := s.existingStoreDB()
	if err != nil {
		return err
	}
	// Only the query is retried: once fn has seen IDs, a retry would show
	// them twice.
	var rows *sql.Rows
	err = withRetry(context.Background(), func() error {
		var err error
		rows, err = db.Query(query)
		return err
	})
	if err == nil {
		defer rows.Close()
		var id, st sql.RawBytes
		for err == nil && rows.Next() {
			if err = rows.Scan(&id, &st); err == nil {
				fn(id, statusOf(st))
			}
		}
		if err == nil {
			err = rows.Err()
		}
	}
	if err != nil {
		return fmt.Errorf("store: reading index: %w", err)
	}
	return nil
}

// statusOf is Status(b) without a string allocated for each of a million
// rows: the comparisons of a switch on string(b) allocate none.
func statusOf(b []byte) Status {
	switch string(b) {
	case string(StatusCompleted):
		return StatusCompleted
	case string(StatusFailed):
		return StatusFailed
	case string(StatusCancelled):
		return StatusCancelled
	case string(StatusRunning):
		return StatusRunning
	}
	return Status(b)
}

// location is where a winning record's line is.
// It holds no pointer, so that a million of them cost the garbage
// collector nothing.
type location struct {
	seg int32 // index into the segment names
	n   int32
	off int64
	id  [8]byte // the run ID, when it is 16 hex digits; see runID
	odd int32   // else 1 + its index in oddIDs
}

// locations lists where the winning records are, ordered by segment name
// and offset, and the segment names. They are read first, so that no lock
// on the index is held while the caller's function runs.
//
// They are read in the table's order and sorted here: SQLite sorts a
// million rows in a temporary B-tree at several times the cost
// (docs/performance.md, results).
func (s *Store) locations() ([]location, []string, []string, error) {
	return s.locationsOf(`SELECT segment, "offset", length, run_id FROM runs`)
}

// locationsOf is locations for a query that selects segment, offset,
// length and run ID; it orders them by segment and offset.
func (s *Store) locationsOf(query string, args ...any) ([]location, []string, []string, error) {
	db, err := s.existingStoreDB()
	if err != nil {
		return nil, nil, nil, err
	}
	var locs []location
	var segs, oddIDs []string
	err = withRetry(context.Background(), func() error {
		locs, segs, oddIDs = locs[:0], segs[:0], oddIDs[:0]
		if locs == nil && strings.HasSuffix(query, "FROM runs") {
			// Room for every row at once: growing a slice of a
			// million locations by doubling costs more than the query.
			var n int
			if err := db.QueryRow(`SELECT count(*) FROM runs`).Scan(&n); err != nil {
				return err
			}
			locs = make([]location, 0, n)
		}
		segIdx := map[string]int32{}
		rows, err := db.Query(query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		var seg, id sql.RawBytes
		for rows.Next() {
			var l location
			if err := rows.Scan(&seg, &l.off, &l.n, &id); err != nil {
				return err
			}
			if len(id) != 16 || !isLowerHex(id) {
				oddIDs = append(oddIDs, string(id))
				l.odd = int32(len(oddIDs))
			} else {
				hex.Decode(l.id[:], id)
			}
			i, ok := segIdx[string(seg)]
			if !ok {
				i = int32(len(segs))
				segs = append(segs, string(seg))
				segIdx[segs[i]] = i
			}
			l.seg = i
			locs = append(locs, l)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("store: reading index: %w", err)
	}
	// Number the segments in name order, then order the locations.
	order := make([]int32, len(segs))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return strings.Compare(segs[a], segs[b]) })
	renum := make([]int32, len(segs))
	sorted := make([]string, len(segs))
	for k, i := range order {
		renum[i] = int32(k)
		sorted[k] = segs[i]
	}
	for i := range locs {
		locs[i].seg = renum[locs[i].seg]
	}
	slices.SortFunc(locs, func(a, b location) int {
		if a.seg != b.seg {
			return int(a.seg - b.seg)
		}
		return cmp.Compare(a.off, b.off)
	})
	return locs, sorted, oddIDs, nil
}

func isLowerHex(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Records calls fn with the winning record of each run ID, as of the last
// [Store.Collect] (call it first). The order is stable: by segment name, and
// within a segment by position, which reads each segment once from start to
// end. Records are decoded on all CPUs, and fn is called from one goroutine
// at a time, in that order. fn may keep the record; an error from fn stops
// Records and is returned.
func (s *Store) Records(fn func(*Record) error) error {
	sn, err := s.Snapshot()
	if err != nil {
		return err
	}
	return sn.Records(fn)
}

// Snapshot locates the winning record of each run ID, as of the last
// [Store.Collect], for readers that pass over the records more than once
// (an export finds its columns first): every pass reads the same records,
// and the index is queried once.
type Snapshot struct {
	s      *Store
	locs   []location
	segs   []string
	oddIDs []string
}

// Snapshot locates the winning records; see [Snapshot].
func (s *Store) Snapshot() (*Snapshot, error) {
	locs, segs, oddIDs, err := s.locations()
	if err != nil {
		return nil, err
	}
	return &Snapshot{s: s, locs: locs, segs: segs, oddIDs: oddIDs}, nil
}

// SnapshotOf locates the winning records whose status is status, as of
// the last [Store.Collect]: at most limit of them (0: all), the latest
// first by their time, when there are more. Callers that need a few
// records of a kind (the runs still running; a sample of completed runs'
// durations) read them without reading the whole store.
func (s *Store) SnapshotOf(status Status, limit int) (*Snapshot, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	locs, segs, oddIDs, err := s.locationsOf(`SELECT segment, "offset", length, run_id FROM
		(SELECT segment, "offset", length, run_id FROM runs WHERE status = ? ORDER BY at DESC LIMIT ?)
		ORDER BY segment, "offset"`, string(status), limit)
	if err != nil {
		return nil, err
	}
	return &Snapshot{s: s, locs: locs, segs: segs, oddIDs: oddIDs}, nil
}

// runID is the run ID of the record at l.
func (sn *Snapshot) runID(l *location) string {
	if l.odd > 0 {
		return sn.oddIDs[l.odd-1]
	}
	return hex.EncodeToString(l.id[:])
}

// sameRun reports whether id is the run ID of the record at l.
func (sn *Snapshot) sameRun(l *location, id string) bool {
	if l.odd > 0 {
		return sn.oddIDs[l.odd-1] == id
	}
	if len(id) != 16 || !isLowerHex([]byte(id)) {
		return false
	}
	var b [8]byte
	hex.Decode(b[:], []byte(id))
	return b == l.id
}

// Len is the number of records.
func (sn *Snapshot) Len() int { return len(sn.locs) }

// Records is [Store.Records] over the snapshot's records.
//
// A record that cannot be read where the index locates it (its segment was
// damaged after it was indexed: the line is cut, garbled, or another run's)
// is skipped, and the pass goes on; at its end Records returns a
// [*DamageError] that says what was skipped, unless fn failed.
func (sn *Snapshot) Records(fn func(*Record) error) error {
	var bad badLocations
	err := decodeInOrder(func(emit func(int, []byte) error) error {
		return sn.eachLine(&bad, emit)
	}, func(i int, rec *Record) error {
		if rec == nil || !sn.sameRun(&sn.locs[i], rec.RunID) {
			bad.add(i)
			return nil
		}
		return fn(rec)
	})
	if err != nil {
		return err
	}
	return sn.damageError(&bad)
}

// Lines calls fn with the line (JSON, newline included) of each record, in
// the order of Records, for a reader that needs only part of each record
// and decodes that faster itself. The line is valid only during the call.
// Unlike Records, it does not decode the line: it only skips (and reports,
// as Records does) lines that are not whole or hold bytes no record has,
// so fn must expect a line it cannot parse when a segment is damaged.
func (sn *Snapshot) Lines(fn func(line []byte) error) error {
	var bad badLocations
	if err := sn.eachLine(&bad, func(_ int, line []byte) error { return fn(line) }); err != nil {
		return err
	}
	return sn.damageError(&bad)
}

// eachLine reads the lines at locs, ordered by segment and offset, and
// calls fn with the index of each location and its line; the line is reused
// after the call. A location whose bytes are not a whole line that could be
// a record goes to bad instead.
func (sn *Snapshot) eachLine(bad *badLocations, fn func(int, []byte) error) error {
	var line []byte
	for start := 0; start < len(sn.locs); {
		seg := sn.locs[start].seg
		end := start
		for end < len(sn.locs) && sn.locs[end].seg == seg {
			end++
		}
		f, err := os.Open(sn.s.segmentPath(sn.segs[seg]))
		if err != nil {
			return fmt.Errorf("store: %w", err)
		}
		br := bufio.NewReaderSize(f, 1<<20)
		var pos int64
		for k := start; k < end; k++ {
			l := &sn.locs[k]
			if l.off < pos || l.n < 2 {
				bad.add(k) // rows that overlap: not this index's doing
				continue
			}
			if _, err := br.Discard(int(l.off - pos)); err != nil {
				// The segment is shorter than the index says: the rest
				// of its records are gone.
				for ; k < end; k++ {
					bad.add(k)
				}
				break
			}
			line = slices.Grow(line[:0], int(l.n))[:l.n]
			n, err := io.ReadFull(br, line)
			pos = l.off + int64(n)
			if err != nil {
				for ; k < end; k++ {
					bad.add(k)
				}
				break
			}
			// No record holds a NUL byte: JSON escapes control characters.
			// A block of zeros is the most common damage.
			if line[l.n-1] != '\n' || bytes.IndexByte(line, 0) >= 0 {
				bad.add(k)
				continue
			}
			if err := fn(k, line); err != nil {
				f.Close()
				return err
			}
		}
		f.Close()
		start = end
	}
	return nil
}

// decodeBatch lines are decoded together by one worker of decodeInOrder.
const decodeBatch = 256

// lineBatch is a batch of lines (their locations, bytes and ends in buf),
// and then what a worker made of each.
type lineBatch[T any] struct {
	locs []int
	buf  []byte
	ends []int
	out  []T
	done chan struct{}
}

// decodeInOrder decodes the lines that read emits on a worker per CPU and
// calls fn with each location and its record, in the order of the lines;
// the record is nil for a line that does not decode.
func decodeInOrder(read func(emit func(int, []byte) error) error, fn func(int, *Record) error) error {
	return parseInOrder(read, func() func(int, []byte) *Record {
		return func(_ int, line []byte) *Record {
			rec, _ := decodeLine(line)
			return rec
		}
	}, fn)
}

// parseInOrder parses the lines that read emits (with their locations) in
// batches of decodeBatch, on a worker per CPU, each with the parse function
// that worker returns (so that it may keep scratch space of its own), and
// calls use with each location and what was made of its line, from one
// goroutine, in the order of the lines. An error of use stops the pass.
func parseInOrder[T any](read func(emit func(int, []byte) error) error, worker func() func(loc int, line []byte) T, use func(loc int, v T) error) error {
	workers := runtime.GOMAXPROCS(0)
	work := make(chan *lineBatch[T], workers)
	order := make(chan *lineBatch[T], 2*workers)
	stop := make(chan struct{})
	for range workers {
		parse := worker()
		go func() {
			for b := range work {
				start := 0
				for i, end := range b.ends {
					b.out = append(b.out, parse(b.locs[i], b.buf[start:end]))
					start = end
				}
				close(b.done)
			}
		}()
	}
	readErr := make(chan error, 1)
	go func() {
		defer close(work)
		defer close(order)
		// A batch's buffer is sized after the last one's: growing it
		// line by line was a fifth of the pass.
		size := 64 << 10
		newBatch := func() *lineBatch[T] {
			return &lineBatch[T]{locs: make([]int, 0, decodeBatch), buf: make([]byte, 0, size), ends: make([]int, 0, decodeBatch),
				out: make([]T, 0, decodeBatch), done: make(chan struct{})}
		}
		b := newBatch()
		send := func() error {
			select {
			case order <- b:
			case <-stop:
				return errStopped
			}
			work <- b
			size = max(size, len(b.buf)+len(b.buf)/8)
			b = newBatch()
			return nil
		}
		err := read(func(i int, line []byte) error {
			b.locs = append(b.locs, i)
			b.buf = append(b.buf, line...)
			b.ends = append(b.ends, len(b.buf))
			if len(b.ends) == decodeBatch {
				return send()
			}
			return nil
		})
		if err == nil && len(b.ends) > 0 {
			err = send()
		}
		readErr <- err
	}()
	var err error
	for b := range order {
		<-b.done
		for i, v := range b.out {
			if err = use(b.locs[i], v); err != nil {
				break
			}
		}
		if err != nil {
			close(stop)
			for range order {
			}
			break
		}
	}
	if rerr := <-readErr; err == nil && rerr != errStopped {
		err = rerr
	}
	return err
}

var errStopped = errors.New("stopped")

// CompletedCodes calls fn with the run ID and code fingerprint (see
// [Code]) of each completed winning record of experiment name at version,
// as of the last [Store.Collect] (call it first); a record of a metalab
// before code fingerprints has the code "". It reads those records' keys
// only (see [ScanRecordKeys]). Of a damaged store it reads what it can and
// returns the [*DamageError] too.
func (s *Store) CompletedCodes(name, version string, fn func(runID, code string)) error {
	sn, err := s.SnapshotOf(StatusCompleted, 0)
	if err != nil {
		return err
	}
	return sn.Lines(func(line []byte) error {
		k, err := ScanRecordKeys(line)
		if err != nil || k.Experiment != name || k.Version != version || k.Status != StatusCompleted {
			return nil // a damaged line: Lines reports it
		}
		fn(k.RunID, k.Code)
		return nil
	})
}

// FailedAttempts maps each run ID with failed records to their number, as
// of the last [Store.Collect] (call it first). Each failed attempt of a run
// writes one failed record, so this counts the attempts that failed, also
// those a later attempt made good.
func (s *Store) FailedAttempts() (map[string]int, error) {
	db, err := s.existingStoreDB()
	if err != nil {
		return nil, err
	}
	var out map[string]int
	err = withRetry(context.Background(), func() error {
		out = make(map[string]int)
		rows, err := db.Query("SELECT run_id, COUNT(*) FROM attempts WHERE status = 'failed' GROUP BY run_id")
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			var n int
			if err := rows.Scan(&id, &n); err != nil {
				return err
			}
			out[id] = n
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("store: reading index: %w", err)
	}
	return out, nil
}

// CompletedAmong tells which of ids have a completed record, from the store
// index and every node index, without a Collect: a worker on a compute node
// asks about its own runs this way, while Collect, which writes the store
// index, runs in one place only.
//
// It opens the indexes read-only and skips one it cannot read (broken, or
// locked for too long), and it does not see records that no index has yet
// (those of a crash before an index update). So it may miss a completed
// run, which then runs again as a duplicate, but it never calls a run
// completed that is not. A node index's rows that point into a segment
// that Collect found damaged are not believed: the store index, which
// Collect repaired, answers for those segments.
func (s *Store) CompletedAmong(ids []string) (map[string]bool, error) {
	return s.CompletedAmongSince(ids, time.Time{})
}

// CompletedAmongSince is [Store.CompletedAmong] for the records that ended
// at since or later: a worker that runs again runs completed before its
// submission (submit --rerun-changed) counts only its own as done, so that
// a requeued task does not run them twice. The zero since counts all.
func (s *Store) CompletedAmongSince(ids []string, since time.Time) (map[string]bool, error) {
	done := make(map[string]bool)
	if len(ids) == 0 {
		return done, nil
	}
	paths, err := filepath.Glob(filepath.Join(s.path(nodesDir), "*"+indexExt))
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	damaged := damagedSegments(s.readDamage())
	at := unixNanos(since)
	completedIn(s.path(storeIndex), ids, "[]", at, done)
	for _, path := range paths {
		// Once all are found, the other indexes cannot add anything.
		if len(done) == len(ids) {
			break
		}
		completedIn(path, ids, damaged, at, done)
	}
	return done, nil
}

// completedIn adds to done those of ids that the index at path has as
// completed, at since (Unix nanoseconds) or later, in a segment not named
// in the JSON array skip. It reports whether it could read the index.
func completedIn(path string, ids []string, skip string, since int64, done map[string]bool) bool {
	if _, err := os.Stat(path); err != nil {
		return false
	}
	db, err := openReadOnly(path)
	if err != nil {
		return false
	}
	defer db.Close()
	const batch = 500 // under SQLite's limit of bound parameters
	args := make([]any, 0, batch+1)
	for start := 0; start < len(ids); start += batch {
		chunk := ids[start:min(start+batch, len(ids))]
		args = append(args[:0], since, skip)
		for _, id := range chunk {
			args = append(args, id)
		}
		q := "SELECT run_id FROM runs WHERE status = 'completed' AND at >= ? AND segment NOT IN (SELECT value FROM json_each(?))" +
			" AND run_id IN (?" + strings.Repeat(", ?", len(chunk)-1) + ")"
		err := withRetry(context.Background(), func() error {
			rows, err := db.Query(q, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					return err
				}
				done[id] = true
			}
			return rows.Err()
		})
		if err != nil {
			return false
		}
	}
	return true
}

// openReadOnly opens an index for reading only: it neither creates the file
// nor writes to it, so that it can be read from any node.
func openReadOnly(path string) (*sql.DB, error) {
	db, err := openSQLite(path, "mode=ro")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// DecodeRecord decodes one record line as the readers of a store do, or
// says why it is not one (invalid JSON, no run ID, an unknown status, a
// newer format).
func DecodeRecord(line []byte) (*Record, error) {
	rec, reason := decodeLine(line)
	if reason != "" {
		return nil, errors.New(reason)
	}
	return rec, nil
}

// ParseLines is [Snapshot.Lines] for a reader that parses each line
// itself, on all CPUs: parse is called on several goroutines at once with
// a line and the run ID (lowercase hex, or as stored) that the index has
// at its place; use is called from one goroutine, in the order of
// Records, with what parse returned, and says whether the line was that
// run's record. A line that is not (use returns false) is skipped and
// reported at the end in a [*DamageError], as Records does. The line
// stays valid until use returns, id only during the call of parse.
func ParseLines[T any](sn *Snapshot, parse func(line, id []byte) T, use func(T) (bool, error)) error {
	var bad badLocations
	err := parseInOrder(func(emit func(int, []byte) error) error {
		return sn.eachLine(&bad, emit)
	}, func() func(int, []byte) T {
		var hexID [16]byte
		return func(k int, line []byte) T {
			l := &sn.locs[k]
			id := hexID[:]
			if l.odd > 0 {
				id = []byte(sn.oddIDs[l.odd-1])
			} else {
				hex.Encode(id, l.id[:])
			}
			return parse(line, id)
		}
	}, func(k int, v T) error {
		ok, err := use(v)
		if err == nil && !ok {
			bad.add(k)
		}
		return err
	})
	if err != nil {
		return err
	}
	return sn.damageError(&bad)
}
