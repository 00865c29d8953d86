package pgstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/store"
)

// ExportOptions configure [DB.Export].
type ExportOptions struct {
	// IncludeArtifacts copies the bytes of artifacts into the database;
	// without it, only their path, size and hash go in.
	IncludeArtifacts bool
	// Overwrite replaces the database's record of a run by the store's
	// even when the database's would win (see [store.Record.Beats]).
	Overwrite bool
	// BatchRecords is the number of runs per transaction; 0 is 50000.
	BatchRecords int
	// Progress, when set, is called after each transaction with the
	// records read so far.
	Progress func(records int)
}

// ExportReport says what an export did.
type ExportReport struct {
	Segments    int // segments of the store
	Read        int // records read past the offsets of the last export
	Added       int // runs new to the database
	Updated     int // runs whose record in the database a better one replaced
	Experiments int
	Bytes       int64        // of segments read
	Torn        []store.Torn // lines that are not records, skipped
}

// maxArtifact is the largest artifact that --include-artifacts copies.
const maxArtifact = 1 << 30

// Export sends the store's records that the database does not have yet:
// it reads each segment from the offset the last export of this store
// reached, and writes the records in transactions that each bring the
// offsets of their segments up to date. It reads the segments only, never
// the store's indexes, and writes nothing into the store.
//
// Records of a segment that shrank since the last export (a damaged store
// repaired, or replaced by another of the same ID) are read again from its
// start; sending a record again changes nothing.
func (db *DB) Export(ctx context.Context, st *store.Store, opts ExportOptions) (ExportReport, error) {
	var rep ExportReport
	m, err := st.Manifest()
	if err != nil {
		return rep, err
	}
	storeID := m.StoreID()
	dir, _ := filepath.Abs(st.Dir())
	infos, err := st.Experiments()
	if err != nil {
		return rep, err
	}
	rep.Experiments = len(infos)
	segs, err := st.Segments()
	if err != nil {
		return rep, err
	}
	rep.Segments = len(segs)

	pc, err := db.pool.Acquire(ctx)
	if err != nil {
		return rep, db.lost(err)
	}
	defer pc.Release()
	conn := pc.Conn()
	if err := prepare(ctx, conn); err != nil {
		return rep, db.lost(err)
	}
	if err := putExperiments(ctx, conn, infos); err != nil {
		return rep, db.lost(err)
	}
	done := map[string]int64{}
	rows, err := conn.Query(ctx, `SELECT segment, "offset" FROM export_segments WHERE store_id = $1`, storeID)
	if err != nil {
		return rep, db.lost(err)
	}
	for rows.Next() {
		var seg string
		var off int64
		if err := rows.Scan(&seg, &off); err != nil {
			rows.Close()
			return rep, db.lost(err)
		}
		done[seg] = off
	}
	if err := rows.Err(); err != nil {
		return rep, db.lost(err)
	}

	o := writeOptions{storeID: storeID, storeDir: dir, overwrite: opts.Overwrite}
	if opts.IncludeArtifacts {
		o.content = func(rec *store.Record, a capture.Artifact) ([]byte, error) { return readArtifact(st, rec, a) }
	}
	per := opts.BatchRecords
	if per <= 0 {
		per = 50000
	}
	b := newBatch()
	flush := func() error {
		if b.empty() {
			return nil
		}
		n, err := write(ctx, conn, b, o)
		if err != nil {
			return db.lost(err)
		}
		rep.Added += n.added
		rep.Updated += n.updated
		b = newBatch()
		if opts.Progress != nil {
			opts.Progress(rep.Read)
		}
		return nil
	}
	for _, seg := range segs {
		from := done[seg]
		f, err := st.OpenSegment(seg)
		if err != nil {
			return rep, err
		}
		info, err := f.Stat()
		if err != nil {
			f.Close()
			return rep, fmt.Errorf("store: %w", err)
		}
		if info.Size() == from {
			f.Close()
			continue
		}
		if info.Size() < from {
			from = 0
		}
		if _, err := f.Seek(from, io.SeekStart); err != nil {
			f.Close()
			return rep, fmt.Errorf("store: %w", err)
		}
		read, err := store.ReadSegment(f, func(rec *store.Record, off int64, n int) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			rep.Read++
			b.add(rec, position{seg, from + off})
			if len(b.recs) >= per {
				b.offsets[seg] = from + off + int64(n)
				return flush()
			}
			return nil
		})
		f.Close()
		for _, t := range read.Torn {
			t.Segment = seg
			t.Offset += from
			rep.Torn = append(rep.Torn, t)
		}
		if err != nil {
			return rep, err
		}
		rep.Bytes += read.Bytes
		if end := from + read.Bytes; end != done[seg] {
			b.offsets[seg] = end
		}
	}
	return rep, flush()
}

// readArtifact reads an artifact's bytes from the store, refusing a path
// that leaves it, a symlink, a file larger than maxArtifact, or bytes
// whose size is not the recorded one.
func readArtifact(st *store.Store, rec *store.Record, a capture.Artifact) ([]byte, error) {
	f, err := st.OpenFile(a.Path)
	if err != nil {
		return nil, fmt.Errorf("artifact %q of run %s: %w", a.Name, rec.RunID, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxArtifact+1))
	if err != nil {
		return nil, fmt.Errorf("artifact %q of run %s: %w", a.Name, rec.RunID, err)
	}
	if len(b) > maxArtifact {
		return nil, fmt.Errorf("artifact %q of run %s is larger than %d bytes: not copied into a database", a.Name, rec.RunID, maxArtifact)
	}
	return b, nil
}

// LostError is a database that went away, or failed, in the middle of
// writing: what its committed transactions wrote is there, with the
// offsets that say so, and the next export goes on from them.
type LostError struct {
	Database string
	Err      error
}

func (e *LostError) Error() string {
	return fmt.Sprintf("database %s: %v", e.Database, e.Err)
}

func (e *LostError) Unwrap() error { return e.Err }

// Hint is what the user can do about it.
func (e *LostError) Hint() string {
	return "nothing is lost: each transaction wrote its records with the offsets that say so; run the same command again once the database is back"
}

func (db *DB) lost(err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	var le *LostError
	if errors.As(err, &le) {
		return err
	}
	return &LostError{Database: db.name, Err: err}
}
