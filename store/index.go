package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"
)

// indexSchema is the version of the index tables below. An index of another
// version is not read; it is rebuilt from the segments.
const indexSchema = "1"

// schemaSQL creates the tables of both the node indexes and the store index.
//
//   - runs: the winning record of each run ID, located by segment (its name
//     without extension), byte offset and length of its line; at is the
//     record's When in Unix nanoseconds.
//   - segments: the index covers bytes [base, indexed) of each segment, and
//     so holds every record in them. A node index's base is 0 unless an index
//     update of its writer was lost (then Collect reads the gap from the
//     segment); the store index always covers a segment from 0.
//   - attempts: the location and status of every completed or failed record
//     (an attempt that ended), winner or not, so that duplicates and failed
//     attempts are counted once however often indexes are merged.
//   - torn: lines of segments that are not records (store index only); a torn
//     last line is not kept here, as its writer may still complete it.
//   - merged: how much of each node index the store index has merged (store
//     index only). A node index numbers its transactions (meta "seq") and
//     tags the rows each one writes, so that Collect merges only rows newer
//     than last time; meta "instance" tells a recreated node index, whose
//     numbers start again, from the one merged before.
const schemaSQL = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
	run_id   TEXT PRIMARY KEY,
	status   TEXT NOT NULL,
	rank     INTEGER NOT NULL,
	at       INTEGER NOT NULL,
	segment  TEXT NOT NULL,
	"offset" INTEGER NOT NULL,
	length   INTEGER NOT NULL,
	seq      INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS segments (
	name    TEXT PRIMARY KEY,
	base    INTEGER NOT NULL DEFAULT 0,
	indexed INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS attempts (
	segment  TEXT NOT NULL,
	"offset" INTEGER NOT NULL,
	run_id   TEXT NOT NULL,
	status   TEXT NOT NULL,
	seq      INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (segment, "offset")
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS torn (
	segment  TEXT NOT NULL,
	"offset" INTEGER NOT NULL,
	length   INTEGER NOT NULL,
	reason   TEXT NOT NULL,
	PRIMARY KEY (segment, "offset")
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS merged (
	node     TEXT PRIMARY KEY,
	instance TEXT NOT NULL,
	seq      INTEGER NOT NULL
);
INSERT OR IGNORE INTO meta (key, value) VALUES
	('schema', '` + indexSchema + `'),
	('instance', lower(hex(randomblob(8)))),
	('seq', '0');
`

// upsertRunSQL keeps, per run ID, the row of higher (rank, at): the rule of
// Record.Beats.
const upsertRunSQL = `
INSERT INTO runs (run_id, status, rank, at, segment, "offset", length, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id) DO UPDATE SET
	status = excluded.status, rank = excluded.rank, at = excluded.at,
	segment = excluded.segment, "offset" = excluded."offset", length = excluded.length, seq = excluded.seq
WHERE excluded.rank > runs.rank OR (excluded.rank = runs.rank AND excluded.at > runs.at)`

const insertAttemptSQL = `INSERT OR IGNORE INTO attempts (segment, "offset", run_id, status, seq) VALUES (?, ?, ?, ?, ?)`

// upsertSegmentSQL records that an index covers a segment up to indexed. A
// batch that continues the covered range extends it; one that does not
// (an earlier update was lost, or the index was deleted) starts it anew, so
// that base always tells from where the index holds every record.
const upsertSegmentSQL = `
INSERT INTO segments (name, base, indexed) VALUES (?, ?, ?)
ON CONFLICT (name) DO UPDATE SET
	base = CASE WHEN segments.indexed = excluded.base THEN segments.base ELSE excluded.base END,
	indexed = excluded.indexed`

// coverSegmentSQL extends how far the store index covers a segment, which
// it holds from its start; it never takes coverage back (setCoverSQL does,
// for a segment that verifying found shorter).
const coverSegmentSQL = `
INSERT INTO main.segments (name, base, indexed) VALUES (?, 0, ?)
ON CONFLICT (name) DO UPDATE SET indexed = excluded.indexed WHERE excluded.indexed > segments.indexed`

// setCoverSQL sets how far the store index covers a segment, which it
// holds from its start, up or down.
const setCoverSQL = `INSERT INTO segments (name, base, indexed) VALUES (?, 0, ?)
ON CONFLICT (name) DO UPDATE SET base = 0, indexed = excluded.indexed`

// upsertBatch rows go into one statement of upsertRows: a call into SQLite
// costs far more than the row it inserts (upserting a row at a time was a
// quarter of a sweep of trivial runs). 128 rows of 8 values stay well below
// SQLite's limit of 32766 variables.
const upsertBatch = 128

// nextSeqSQL numbers a transaction of a node index.
const nextSeqSQL = `UPDATE meta SET value = value + 1 WHERE key = 'seq' RETURNING value`

// Timing of the index's locking. Many processes of one node (a 32-core job
// array) update the node index at once; SQLite waits busyTimeout for a lock,
// and withRetry tries a few more times on top.
const (
	busyTimeout  = 30 * time.Second
	busyAttempts = 4
)

// openIndex opens (creating if need be) the SQLite index at path for reading
// and writing. Write transactions begin IMMEDIATE, taking the write lock up
// front: a deferred transaction that upgrades a read lock can fail with
// SQLITE_BUSY without waiting, to avoid deadlock.
func openIndex(path string) (*sql.DB, error) {
	db, err := openSQLite(path, "_journal_mode=DELETE&_synchronous=NORMAL&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("store: opening index %s: %w", path, err)
	}
	// One connection: the process's writers take turns, and only processes
	// compete for the file lock.
	db.SetMaxOpenConns(1)
	if err := initIndex(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: opening index %s: %w", path, err)
	}
	return db, nil
}

// openSQLite opens the database at path with the busy timeout and the
// given parameters. A URI names the file, so that any path works (a plain
// DSN ends at the first '?').
func openSQLite(path, params string) (*sql.DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs),
		RawQuery: fmt.Sprintf("_busy_timeout=%d&%s", busyTimeout.Milliseconds(), params)}
	return sql.Open("sqlite3", u.String())
}

func initIndex(db *sql.DB) error {
	ctx := context.Background()
	// WAL would need shared memory between processes, which a network
	// filesystem does not provide; make sure SQLite did not keep it.
	var mode string
	if err := withRetry(ctx, func() error {
		return db.QueryRow("PRAGMA journal_mode").Scan(&mode)
	}); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "delete") {
		return fmt.Errorf("journal mode is %q, not \"delete\"", mode)
	}
	version, err := schemaVersion(ctx, db)
	if err == nil && version == "" {
		// A new index (or one whose creator has not committed yet: the
		// statements do nothing if so).
		err = withRetry(ctx, func() error {
			return inTx(db, func(tx *sql.Tx) error {
				_, err := tx.Exec(schemaSQL)
				return err
			})
		})
		if err == nil {
			version, err = schemaVersion(ctx, db)
		}
	}
	if err != nil {
		return err
	}
	if version != indexSchema {
		return fmt.Errorf("%w: schema version %q, this metalab uses %q", errBadIndex, version, indexSchema)
	}
	return nil
}

// schemaVersion is the schema version of an index, or "" for an empty one.
// It does not write, so that an index on a read-only filesystem can be read.
func schemaVersion(ctx context.Context, db *sql.DB) (string, error) {
	var version string
	err := withRetry(ctx, func() error {
		err := db.QueryRow(`SELECT value FROM meta WHERE key = 'schema'`).Scan(&version)
		if errors.Is(err, sql.ErrNoRows) || err != nil && strings.Contains(err.Error(), "no such table") {
			version, err = "", nil
		}
		return err
	})
	return version, err
}

// errBadIndex marks an index file that SQLite can open but that is not a
// usable metalab index.
var errBadIndex = errors.New("not a usable metalab index")

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

// indexRow is what an index keeps of one record.
type indexRow struct {
	runID  string
	status Status
	at     int64 // When, Unix nanoseconds
	off    int64 // of the line in its segment
	n      int   // length of the line, newline included
}

// upsertRows merges the records of one segment into an index, tagging the
// rows it writes with seq.
func upsertRows(tx *sql.Tx, segment string, rows []indexRow, seq int64) error {
	win := winners(rows)
	// Run IDs are hashes: upserted in the order of the records, each row
	// lands on another page of the run_id B-tree, and SQLite reads and
	// journals every one of them. In ID order, neighbours share pages (the
	// index updates of a million-run sweep took 6.5 s of CPU, now 4.6 s).
	// Each ID is in win once, so the order does not change the outcome.
	slices.SortFunc(win, func(a, b int) int { return strings.Compare(rows[a].runID, rows[b].runID) })
	err := execBatched(tx, upsertRunSQL, len(win), func(args []any, i int) []any {
		r := &rows[win[i]]
		return append(args, r.runID, string(r.status), r.status.Rank(), r.at, segment, r.off, r.n, seq)
	})
	if err != nil {
		return err
	}
	var ended []int
	for i := range rows {
		if s := rows[i].status; s == StatusCompleted || s == StatusFailed {
			ended = append(ended, i)
		}
	}
	return execBatched(tx, insertAttemptSQL, len(ended), func(args []any, i int) []any {
		r := &rows[ended[i]]
		return append(args, segment, r.off, r.runID, string(r.status), seq)
	})
}

// winners lists, in order, the rows that the upsert of all rows one by one
// would leave in the runs table: per run ID the first of those with the
// highest (rank, at). A run's start and end records usually arrive in one
// batch, and only its end record needs to reach SQLite.
func winners(rows []indexRow) []int {
	win := make([]int, 0, len(rows))
	at := make(map[string]int, len(rows)) // run ID -> position in win
	for i := range rows {
		r := &rows[i]
		k, ok := at[r.runID]
		if !ok {
			at[r.runID] = len(win)
			win = append(win, i)
			continue
		}
		old := &rows[win[k]]
		if a, b := r.status.Rank(), old.status.Rank(); a > b || a == b && r.at > old.at {
			win[k] = i
		}
	}
	return win
}

// execBatched executes stmt, an INSERT of one row of VALUES followed by
// other clauses, for n rows, upsertBatch rows per statement. add appends row
// i's values to args.
func execBatched(tx *sql.Tx, stmt string, n int, add func(args []any, i int) []any) error {
	head, tail, ok := strings.Cut(stmt, "VALUES (")
	if !ok {
		return fmt.Errorf("store: %q has no VALUES", stmt)
	}
	tuple, tail, _ := strings.Cut(tail, ")")
	tuple = "(" + tuple + ")"
	var prepared *sql.Stmt
	preparedRows := 0
	defer func() {
		if prepared != nil {
			prepared.Close()
		}
	}()
	args := make([]any, 0, upsertBatch*8)
	for start := 0; start < n; start += upsertBatch {
		k := min(upsertBatch, n-start)
		if k != preparedRows {
			if prepared != nil {
				prepared.Close()
			}
			var b strings.Builder
			b.WriteString(head)
			b.WriteString("VALUES ")
			for j := range k {
				if j > 0 {
					b.WriteByte(',')
				}
				b.WriteString(tuple)
			}
			b.WriteString(tail)
			var err error
			if prepared, err = tx.Prepare(b.String()); err != nil {
				prepared = nil
				return err
			}
			preparedRows = k
		}
		args = args[:0]
		for j := range k {
			args = add(args, start+j)
		}
		if _, err := prepared.Exec(args...); err != nil {
			return err
		}
	}
	return nil
}

// unixNanos is t in Unix nanoseconds, clamped to the int64 range so that the
// zero time (a record without times) sorts first, as in Record.Beats.
func unixNanos(t time.Time) int64 {
	switch {
	case t.IsZero() || t.Before(time.Unix(0, math.MinInt64)):
		return math.MinInt64
	case t.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return t.UnixNano()
}

// isBusy reports whether err means that another connection held a lock for
// longer than the busy timeout.
func isBusy(err error) bool {
	var se sqlite3.Error
	if errors.As(err, &se) {
		return se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked
	}
	return err != nil && strings.Contains(err.Error(), "database is locked")
}

// isCorrupt reports whether err means that a file is not a usable SQLite
// database.
func isCorrupt(err error) bool {
	var se sqlite3.Error
	if errors.As(err, &se) {
		return se.Code == sqlite3.ErrCorrupt || se.Code == sqlite3.ErrNotADB
	}
	return false
}

// withRetry runs fn again, after a random pause, while it fails because the
// database is locked.
func withRetry(ctx context.Context, fn func() error) error {
	pause := 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || !isBusy(err) || attempt == busyAttempts {
			return err
		}
		t := time.NewTimer(pause/2 + rand.N(pause))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		pause *= 4
	}
}

// inTx runs fn in a transaction, committing when it returns nil.
func inTx(db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
