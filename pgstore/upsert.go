package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/store"
)

// runColumns are the columns of runs that a batch fills, in COPY order.
var runColumns = []string{
	"run_id", "experiment", "version", "status", "rank", "at_ns", "params", "metrics", "data",
	"seed_base", "replicate", "seed", "code", "started", "ended", "duration_s", "host", "writer",
	"error", "exit_code", "slurm_job_id", "store_id", "segment", "seg_offset", "record",
}

var seriesColumns = []string{"run_id", "name", "step", "value"}

var artifactColumns = []string{"run_id", "name", "path", "format", "sha256", "size", "content"}

// tempTables are made once per connection; ON COMMIT DELETE ROWS empties
// them after each batch, and a rolled-back batch leaves nothing in them.
const tempTables = `
CREATE TEMP TABLE IF NOT EXISTS tmp_runs (LIKE runs INCLUDING DEFAULTS) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS tmp_series (LIKE series) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS tmp_artifacts (LIKE artifacts) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS tmp_changed (run_id text COLLATE "C", inserted boolean) ON COMMIT DELETE ROWS;
`

// upsertRuns keeps, of the rows of tmp_runs and runs with one run ID, the
// one that wins as store.Record.Beats says: the higher status rank, then
// the later time; an equal one changes nothing, so that sending a record
// again is harmless. With overwrite, the new row always replaces the old.
// The run IDs whose row changed go to tmp_changed, with whether the row is
// new (xmax is 0 in a row that an INSERT made, not an UPDATE).
func upsertRuns(overwrite bool) string {
	var set []string
	for _, c := range runColumns[1:] {
		set = append(set, c+" = excluded."+c)
	}
	set = append(set, "exported_at = now()")
	cols := strings.Join(runColumns, ", ")
	where := " WHERE (excluded.rank, excluded.at_ns) > (r.rank, r.at_ns)"
	if overwrite {
		where = ""
	}
	return "WITH up AS (INSERT INTO runs AS r (" + cols + ") SELECT " + cols + " FROM tmp_runs" +
		" ON CONFLICT (run_id) DO UPDATE SET " + strings.Join(set, ", ") + where +
		" RETURNING run_id, xmax = 0) INSERT INTO tmp_changed SELECT * FROM up"
}

// batch is what one transaction writes: records (at most one per run ID,
// see add), and the export offsets that they bring up to date.
type batch struct {
	recs    []*store.Record
	pos     []position // of each record in its source
	lines   [][]byte   // of each record as its segment has it; nil: encode it
	read    int        // records read when the batch was made, for progress
	byID    map[string]int
	offsets map[string]int64 // segment -> offset, for the export
	series  int
}

func newBatch() *batch {
	return &batch{byID: map[string]int{}, offsets: map[string]int64{}}
}

// position is where a record is in its source: a segment and an offset.
type position struct {
	segment string
	offset  int64
}

// add keeps rec, or the record it beats of its run ID in the batch: one
// INSERT ... ON CONFLICT may not touch a row twice.
func (b *batch) add(rec *store.Record, at position, line []byte) {
	if i, ok := b.byID[rec.RunID]; ok {
		if rec.Beats(b.recs[i]) {
			b.series += seriesLen(rec) - seriesLen(b.recs[i])
			b.recs[i], b.pos[i], b.lines[i] = rec, at, line
		}
		return
	}
	b.byID[rec.RunID] = len(b.recs)
	b.recs = append(b.recs, rec)
	b.pos = append(b.pos, at)
	b.lines = append(b.lines, line)
	b.series += seriesLen(rec)
}

func seriesLen(rec *store.Record) int {
	n := 0
	for _, pts := range rec.Series {
		n += len(pts)
	}
	return n
}

func (b *batch) empty() bool { return len(b.recs) == 0 && len(b.offsets) == 0 }

// writeOptions say how a batch is written.
type writeOptions struct {
	storeID, storeDir string
	overwrite         bool
	// content returns the bytes of an artifact, for --include-artifacts;
	// nil keeps only their metadata.
	content func(*store.Record, capture.Artifact) ([]byte, error)
}

// written counts the runs a write added, and those whose record it
// replaced.
type written struct{ added, updated int }

// write writes the batch in one transaction on conn.
func write(ctx context.Context, conn *pgx.Conn, b *batch, o writeOptions) (written, error) {
	var n written
	tx, err := conn.Begin(ctx)
	if err != nil {
		return n, err
	}
	defer tx.Rollback(ctx)
	if len(b.recs) > 0 {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"tmp_runs"}, runColumns, runRows(b, o.storeID)); err != nil {
			return n, fmt.Errorf("copying runs: %w", err)
		}
		tag, err := tx.Exec(ctx, upsertRuns(o.overwrite))
		if err != nil {
			return n, fmt.Errorf("upserting runs: %w", err)
		}
		if changed := int(tag.RowsAffected()); changed > 0 {
			if err := tx.QueryRow(ctx, "SELECT count(*) FILTER (WHERE inserted) FROM tmp_changed").Scan(&n.added); err != nil {
				return n, err
			}
			n.updated = changed - n.added
			if err := writeChildren(ctx, tx, b, o); err != nil {
				return n, err
			}
		}
	}
	for seg, off := range b.offsets {
		_, err := tx.Exec(ctx, `INSERT INTO export_segments (store_id, segment, "offset", store_dir) VALUES ($1, $2, $3, $4)
			ON CONFLICT (store_id, segment) DO UPDATE SET "offset" = excluded."offset", store_dir = excluded.store_dir, exported_at = now()`,
			o.storeID, seg, off, o.storeDir)
		if err != nil {
			return n, fmt.Errorf("recording the export offset of segment %s: %w", seg, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return n, err
	}
	return n, nil
}

// writeChildren replaces the series points and artifacts of the runs whose
// row changed by those of their new record.
func writeChildren(ctx context.Context, tx pgx.Tx, b *batch, o writeOptions) error {
	for _, q := range []string{
		"DELETE FROM series WHERE run_id IN (SELECT run_id FROM tmp_changed)",
		"DELETE FROM artifacts WHERE run_id IN (SELECT run_id FROM tmp_changed)",
	} {
		if _, err := tx.Exec(ctx, q); err != nil {
			return err
		}
	}
	if b.series > 0 {
		var rows [][]any
		for _, rec := range b.recs {
			for name, pts := range rec.Series {
				for _, p := range pts {
					var v any
					if p.Value != nil && !math.IsNaN(*p.Value) && !math.IsInf(*p.Value, 0) {
						v = *p.Value
					}
					rows = append(rows, []any{rec.RunID, name, p.Step, v})
				}
			}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"tmp_series"}, seriesColumns, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("copying series: %w", err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO series SELECT s.* FROM tmp_series s JOIN tmp_changed USING (run_id) ON CONFLICT DO NOTHING"); err != nil {
			return fmt.Errorf("inserting series: %w", err)
		}
	}
	var rows [][]any
	for _, rec := range b.recs {
		for _, a := range rec.Artifacts {
			var content []byte
			if o.content != nil {
				c, err := o.content(rec, a)
				if err != nil {
					return err
				}
				content = c
			}
			rows = append(rows, []any{rec.RunID, a.Name, a.Path, a.Format, a.SHA256, a.Size, content})
		}
	}
	if len(rows) > 0 {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"tmp_artifacts"}, artifactColumns, pgx.CopyFromRows(rows)); err != nil {
			return fmt.Errorf("copying artifacts: %w", err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO artifacts SELECT a.* FROM tmp_artifacts a JOIN tmp_changed USING (run_id) ON CONFLICT DO NOTHING"); err != nil {
			return fmt.Errorf("inserting artifacts: %w", err)
		}
	}
	return nil
}

// runRows are the rows of runs of recs, for COPY.
func runRows(b *batch, storeID string) pgx.CopyFromSource {
	return pgx.CopyFromSlice(len(b.recs), func(i int) ([]any, error) {
		return runRow(b.recs[i], b.pos[i], b.lines[i], storeID)
	})
}

func runRow(rec *store.Record, at position, line []byte, storeID string) ([]any, error) {
	whole := line
	if whole == nil {
		var err error
		if whole, err = json.Marshal(rec); err != nil {
			return nil, fmt.Errorf("run %s: encoding its record: %w", rec.RunID, err)
		}
	}
	params, err := jsonObject(rec.Params == nil, rec.Params)
	if err != nil {
		return nil, fmt.Errorf("run %s: encoding its params: %w", rec.RunID, err)
	}
	metrics, err := jsonObject(rec.Metrics == nil, rec.Metrics)
	if err != nil {
		return nil, fmt.Errorf("run %s: encoding its metrics: %w", rec.RunID, err)
	}
	data, err := jsonObject(rec.Data == nil, rec.Data)
	if err != nil {
		return nil, fmt.Errorf("run %s: encoding its data: %w", rec.RunID, err)
	}
	var atNS int64
	if w := rec.When(); !w.IsZero() {
		atNS = w.UnixNano()
	}
	var started, ended, duration, exit any
	if !rec.Started.IsZero() {
		started = rec.Started
	}
	if !rec.Ended.IsZero() {
		ended = rec.Ended
		duration = rec.Duration().Seconds()
	}
	if rec.ExitCode != nil {
		exit = int32(*rec.ExitCode)
	}
	seed := pgtype.Numeric{Int: new(big.Int).SetUint64(rec.Seed), Valid: true}
	return []any{
		rec.RunID, rec.Experiment, rec.Version, string(rec.Status), int16(rec.Status.Rank()), atNS,
		params, metrics, data,
		rec.SeedBase, int32(rec.Replicate), seed, rec.Code, started, ended, duration, rec.Host, rec.Writer,
		rec.Error, exit, rec.SlurmJobID, storeID, at.segment, at.offset, whole,
	}, nil
}

// jsonObject encodes v, or {} when it is nil.
func jsonObject(isNil bool, v any) ([]byte, error) {
	if isNil {
		return []byte("{}"), nil
	}
	return json.Marshal(v)
}

// prepare makes the temporary tables on conn.
func prepare(ctx context.Context, conn *pgx.Conn) error {
	_, err := conn.Exec(ctx, tempTables)
	return err
}

// putExperiments records what the stores know of their experiments. The
// latest export of an experiment version replaces its info.
func putExperiments(ctx context.Context, conn *pgx.Conn, infos []store.ExperimentInfo) error {
	for _, e := range infos {
		b, err := json.Marshal(e)
		if err != nil {
			return err
		}
		_, err = conn.Exec(ctx, `INSERT INTO experiments (experiment, version, info) VALUES ($1, $2, $3)
			ON CONFLICT (experiment, version) DO UPDATE SET info = excluded.info, updated_at = now()`, e.Name, e.Version, b)
		if err != nil {
			return fmt.Errorf("recording experiment %s: %w", e.Ref(), err)
		}
	}
	return nil
}

// PutOptions configure [DB.Put].
type PutOptions struct {
	// Source names where the records come from, in the store_id column.
	Source string
	// First is the position of the first record among those of Source,
	// which keep their order in the database (seg_offset).
	First     int64
	Overwrite bool
	// Content returns an artifact's bytes; nil keeps only their metadata.
	Content func(*store.Record, int) ([]byte, error)
}

// Put writes records that come from elsewhere than a store's segments
// (another database, the Python library's store), with the experiments
// they belong to, in one transaction, keeping of each run the record
// that wins. It returns how many runs it added, and how many it updated.
func (db *DB) Put(ctx context.Context, infos []store.ExperimentInfo, recs []*store.Record, opts PutOptions) (added, updated int, err error) {
	pc, err := db.pool.Acquire(ctx)
	if err != nil {
		return 0, 0, db.lost(err)
	}
	defer pc.Release()
	conn := pc.Conn()
	if err := prepare(ctx, conn); err != nil {
		return 0, 0, db.lost(err)
	}
	if err := putExperiments(ctx, conn, infos); err != nil {
		return 0, 0, db.lost(err)
	}
	b := newBatch()
	for i, r := range recs {
		b.add(r, position{"", opts.First + int64(i)}, nil)
	}
	o := writeOptions{storeID: opts.Source, overwrite: opts.Overwrite}
	if opts.Content != nil {
		o.content = func(rec *store.Record, a capture.Artifact) ([]byte, error) {
			for i := range rec.Artifacts {
				if rec.Artifacts[i].Name == a.Name {
					return opts.Content(rec, i)
				}
			}
			return nil, nil
		}
	}
	n, err := write(ctx, conn, b, o)
	return n.added, n.updated, db.lost(err)
}
