package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// SchemaVersion is the version of the tables this code reads and writes.
// Any change to them gets a new version: a database of another version is
// refused rather than misread.
const SchemaVersion = 1

// schema creates the tables of version 1. docs/postgres.md describes them.
//
// runs holds the winning record of each run ID, whatever store it came
// from: run IDs hash the experiment's name, version, params, seeds and
// context, so the same ID from two stores is the same run. rank and at_ns
// order records as store.Record.Beats does (status rank, then end time in
// nanoseconds, which timestamptz would round to microseconds). record is
// the whole record as JSON text, as the store's segment had it, so that a
// store rebuilt from the database reads as the original; segment and
// seg_offset are where the store had it, so that the rebuilt store holds
// the records in the original's order (which csv and jsonl stream in).
const schema = `
CREATE TABLE metalab_schema (
	version    integer NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE experiments (
	experiment text NOT NULL,
	version    text NOT NULL,
	info       jsonb NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (experiment, version)
);
CREATE TABLE runs (
	run_id      text COLLATE "C" PRIMARY KEY,
	experiment  text NOT NULL,
	version     text NOT NULL,
	status      text NOT NULL,
	rank        smallint NOT NULL,
	at_ns       bigint NOT NULL,
	params      jsonb NOT NULL,
	metrics     jsonb NOT NULL,
	data        jsonb NOT NULL,
	seed_base   bigint NOT NULL,
	replicate   integer NOT NULL,
	seed        numeric(20, 0) NOT NULL,
	code        text NOT NULL,
	started     timestamptz,
	ended       timestamptz,
	duration_s  double precision,
	host        text NOT NULL,
	writer      text NOT NULL,
	error       text NOT NULL,
	exit_code   integer,
	slurm_job_id text NOT NULL,
	store_id    text NOT NULL,
	segment     text NOT NULL,
	seg_offset  bigint NOT NULL,
	exported_at timestamptz NOT NULL DEFAULT now(),
	record      json NOT NULL
);
CREATE INDEX runs_experiment ON runs (experiment, version);
CREATE INDEX runs_params ON runs USING gin (params jsonb_path_ops);
CREATE INDEX runs_metrics ON runs USING gin (metrics jsonb_path_ops);
CREATE TABLE series (
	run_id text COLLATE "C" NOT NULL REFERENCES runs ON DELETE CASCADE,
	name   text NOT NULL,
	step   bigint NOT NULL,
	value  double precision,
	PRIMARY KEY (run_id, name, step)
);
CREATE TABLE artifacts (
	run_id  text COLLATE "C" NOT NULL REFERENCES runs ON DELETE CASCADE,
	name    text NOT NULL,
	path    text NOT NULL,
	format  text NOT NULL,
	sha256  text NOT NULL,
	size    bigint NOT NULL,
	content bytea,
	PRIMARY KEY (run_id, name)
);
CREATE TABLE export_segments (
	store_id    text NOT NULL,
	segment     text NOT NULL,
	"offset"    bigint NOT NULL,
	store_dir   text NOT NULL,
	exported_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (store_id, segment)
);
`

// schemaLock is the key of the advisory lock under which Open creates the
// schema, so that two metalabs that open an empty database at once do not
// both create it.
const schemaLock = 0x6d6574616c6162 // "metalab"

// VersionError is returned by [Open] for a database whose metalab schema is
// of another version than [SchemaVersion].
type VersionError struct {
	Database string // the URL, its password hidden
	Version  int
}

func (e *VersionError) Error() string {
	if e.Version > SchemaVersion {
		return fmt.Sprintf("database %s has metalab schema version %d, newer than this metalab's (%d)", e.Database, e.Version, SchemaVersion)
	}
	return fmt.Sprintf("database %s has metalab schema version %d; this metalab reads and writes version %d", e.Database, e.Version, SchemaVersion)
}

// Hint is what the user can do about it.
func (e *VersionError) Hint() string {
	if e.Version > SchemaVersion {
		return "use the metalab that wrote it (metalab version), or export into another database"
	}
	return "export into a new database (the store directories are the truth: nothing is lost), or drop this one's tables"
}

// ensureSchema creates the schema in an empty database, or checks the
// version of the one there.
func ensureSchema(ctx context.Context, conn *pgx.Conn, name string) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(schemaLock)); err != nil {
		return err
	}
	var version int
	err = tx.QueryRow(ctx, "SELECT version FROM metalab_schema LIMIT 1").Scan(&version)
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "42P01": // undefined_table
		tx.Rollback(ctx)
		if tx, err = conn.Begin(ctx); err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(schemaLock)); err != nil {
			return err
		}
		// Another process may have made it while this one waited.
		var n int
		if err := tx.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'metalab_schema'").Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			if _, err := tx.Exec(ctx, schema); err != nil {
				return fmt.Errorf("creating the metalab schema: %w", err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO metalab_schema (version) VALUES ($1)", SchemaVersion); err != nil {
				return err
			}
			return tx.Commit(ctx)
		}
		if err := tx.QueryRow(ctx, "SELECT version FROM metalab_schema LIMIT 1").Scan(&version); err != nil {
			return err
		}
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("database %s: table metalab_schema is empty (not made by metalab, or damaged)", name)
	case err != nil:
		return err
	}
	if version != SchemaVersion {
		return &VersionError{Database: name, Version: version}
	}
	return nil
}
