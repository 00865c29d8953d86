package store

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// location is where a winning record's line is.
type location struct {
	segment string
	off     int64
	n       int
	runID   string
}

// Records calls fn with the winning record of each run ID, as of the last
// [Store.Collect] (call it first). The order is stable: by segment name, and
// within a segment by position, which reads each segment once from start to
// end. fn may keep the record; an error from fn stops Records and is
// returned.
func (s *Store) Records(fn func(*Record) error) error {
	db, err := s.existingStoreDB()
	if err != nil {
		return err
	}
	// Read the locations first, so that no lock on the index is held while
	// fn runs.
	var locs []location
	err = withRetry(context.Background(), func() error {
		locs = locs[:0]
		rows, err := db.Query(`SELECT segment, "offset", length, run_id FROM runs ORDER BY segment, "offset"`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var l location
			if err := rows.Scan(&l.segment, &l.off, &l.n, &l.runID); err != nil {
				return err
			}
			locs = append(locs, l)
		}
		return rows.Err()
	})
	if err != nil {
		return fmt.Errorf("store: reading index: %w", err)
	}
	for len(locs) > 0 {
		i := 0
		for i < len(locs) && locs[i].segment == locs[0].segment {
			i++
		}
		if err := s.readRecords(locs[:i], fn); err != nil {
			return err
		}
		locs = locs[i:]
	}
	return nil
}

// readRecords reads the records at locs, all in one segment and in order of
// their offsets.
func (s *Store) readRecords(locs []location, fn func(*Record) error) error {
	name := locs[0].segment
	f, err := os.Open(s.segmentPath(name))
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	var pos int64
	var line []byte
	for _, l := range locs {
		stale := func(why string) error {
			return fmt.Errorf("store: index does not match segment %s at offset %d (run %s): %s\nhint: run collect again",
				name, l.off, l.runID, why)
		}
		if _, err := br.Discard(int(l.off - pos)); err != nil {
			return stale(err.Error())
		}
		line = slices.Grow(line[:0], l.n)[:l.n]
		if _, err := io.ReadFull(br, line); err != nil {
			return stale(err.Error())
		}
		pos = l.off + int64(l.n)
		if line[l.n-1] != '\n' {
			return stale("not a whole line")
		}
		rec, reason := decodeLine(line)
		if reason != "" {
			return stale(reason)
		}
		if rec.RunID != l.runID {
			return stale("the line is a record of run " + rec.RunID)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	return nil
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
// completed that is not.
func (s *Store) CompletedAmong(ids []string) (map[string]bool, error) {
	done := make(map[string]bool)
	if len(ids) == 0 {
		return done, nil
	}
	paths, err := filepath.Glob(filepath.Join(s.path(nodesDir), "*"+indexExt))
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	paths = append([]string{s.path(storeIndex)}, paths...)
	for _, path := range paths {
		// Once all are found, the other indexes cannot add anything.
		if len(done) == len(ids) {
			break
		}
		completedIn(path, ids, done)
	}
	return done, nil
}

// completedIn adds to done those of ids that the index at path has as
// completed. It reports whether it could read the index.
func completedIn(path string, ids []string, done map[string]bool) bool {
	if _, err := os.Stat(path); err != nil {
		return false
	}
	db, err := openReadOnly(path)
	if err != nil {
		return false
	}
	defer db.Close()
	const batch = 500 // under SQLite's limit of bound parameters
	args := make([]any, 0, batch)
	for start := 0; start < len(ids); start += batch {
		chunk := ids[start:min(start+batch, len(ids))]
		args = args[:0]
		for _, id := range chunk {
			args = append(args, id)
		}
		q := "SELECT run_id FROM runs WHERE status = 'completed' AND run_id IN (?" + strings.Repeat(", ?", len(chunk)-1) + ")"
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
