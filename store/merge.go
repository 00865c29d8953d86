package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

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
