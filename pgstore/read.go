package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/metalab-hpc/metalab/store"
)

// Filter picks experiments: "" is all, NAME every version of one,
// NAME@VERSION one version.
type Filter string

// where is the SQL condition of the filter on columns experiment and
// version, and its arguments, numbered from $1.
func (f Filter) where() (string, []any) {
	if f == "" {
		return "TRUE", nil
	}
	name, version, ok := strings.Cut(string(f), "@")
	if !ok {
		return "experiment = $1", []any{name}
	}
	return "experiment = $1 AND version = $2", []any{name, version}
}

// ExperimentCount is one experiment version of the database and the
// number of its runs by status.
type ExperimentCount struct {
	Experiment string `json:"experiment"`
	Version    string `json:"version"`
	Runs       int    `json:"runs"`
	store.Counts
}

// List lists the experiment versions that the filter picks, with their
// runs counted by status, sorted by name and version.
func (db *DB) List(ctx context.Context, f Filter) ([]ExperimentCount, error) {
	where, args := f.where()
	rows, err := db.pool.Query(ctx, `SELECT e.experiment, e.version,
			count(r.run_id), count(*) FILTER (WHERE r.status = 'completed'), count(*) FILTER (WHERE r.status = 'failed'),
			count(*) FILTER (WHERE r.status = 'cancelled'), count(*) FILTER (WHERE r.status = 'running')
		FROM (SELECT experiment, version FROM experiments UNION SELECT DISTINCT experiment, version FROM runs) e
		LEFT JOIN runs r ON r.experiment = e.experiment AND r.version = e.version
		WHERE `+strings.NewReplacer("experiment", "e.experiment", "version", "e.version").Replace(where)+`
		GROUP BY e.experiment, e.version ORDER BY e.experiment, e.version`, args...)
	if err != nil {
		return nil, db.lost(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ExperimentCount, error) {
		var c ExperimentCount
		err := r.Scan(&c.Experiment, &c.Version, &c.Runs, &c.Completed, &c.Failed, &c.Cancelled, &c.Running)
		return c, err
	})
	if err != nil {
		return nil, db.lost(err)
	}
	return out, nil
}

// Experiments returns what the stores exported of the experiment versions
// that the filter picks, sorted by name and version.
func (db *DB) Experiments(ctx context.Context, f Filter) ([]store.ExperimentInfo, error) {
	where, args := f.where()
	rows, err := db.pool.Query(ctx, "SELECT info FROM experiments WHERE "+where+" ORDER BY experiment, version", args...)
	if err != nil {
		return nil, db.lost(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.ExperimentInfo, error) {
		var b []byte
		var e store.ExperimentInfo
		if err := r.Scan(&b); err != nil {
			return e, err
		}
		if err := json.Unmarshal(b, &e); err != nil {
			return e, fmt.Errorf("an experiment's info is not what metalab wrote: %w", err)
		}
		return e, nil
	})
	if err != nil {
		return nil, db.lost(err)
	}
	return out, nil
}

// Records calls fn with the record of each run that the filter picks, in
// the order of their stores: by store, segment and offset. fn may keep
// the record.
func (db *DB) Records(ctx context.Context, f Filter, fn func(*store.Record) error) error {
	where, args := f.where()
	rows, err := db.pool.Query(ctx, "SELECT run_id, record::text FROM runs WHERE "+where+" ORDER BY store_id, segment, seg_offset, run_id", args...)
	if err != nil {
		return db.lost(err)
	}
	defer rows.Close()
	var id string
	var line []byte
	for rows.Next() {
		if err := rows.Scan(&id, &line); err != nil {
			return db.lost(err)
		}
		rec := new(store.Record)
		if err := json.Unmarshal(line, rec); err != nil {
			return fmt.Errorf("database %s: the record of run %s is not one metalab reads: %w", db.name, id, err)
		}
		if rec.Format > store.RecordFormat {
			return fmt.Errorf("database %s: the record of run %s has format %d, newer than this metalab reads (%d)", db.name, id, rec.Format, store.RecordFormat)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	return db.lost(rows.Err())
}

// ArtifactContent returns the bytes of a run's artifact that an export
// with IncludeArtifacts copied, and whether it has them.
func (db *DB) ArtifactContent(ctx context.Context, runID, name string) ([]byte, bool, error) {
	var b []byte
	err := db.pool.QueryRow(ctx, "SELECT content FROM artifacts WHERE run_id = $1 AND name = $2", runID, name).Scan(&b)
	if err == pgx.ErrNoRows {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, db.lost(err)
	}
	return b, b != nil, nil
}
