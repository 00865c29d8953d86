package store

import (
	"context"
	"database/sql"
	"encoding/json"
)

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
