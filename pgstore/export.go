package pgstore

import (
	"bytes"
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
	// BatchRecords is the number of runs per transaction; 0 is 25000.
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
		per = 25000
	}
	// The segments are read and decoded on one goroutine while the batch
	// before goes into the database on this one.
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	// Unbuffered: one batch is read while one is written, and no more
	// are held (25,000 decoded records each).
	batches := make(chan *batch)
	var readRep ExportReport
	readErr := make(chan error, 1)
	go func() {
		defer close(batches)
		readErr <- readSegments(rctx, st, segs, done, per, batches, &readRep)
	}()
	var werr error
	for b := range batches {
		if werr != nil {
			continue // drain, so that the reader ends
		}
		n, err := write(ctx, conn, b, o)
		if err != nil {
			werr = db.lost(err)
			stop()
			continue
		}
		rep.Added += n.added
		rep.Updated += n.updated
		if opts.Progress != nil {
			opts.Progress(b.read)
		}
	}
	rerr := <-readErr
	rep.Read, rep.Bytes, rep.Torn = readRep.Read, readRep.Bytes, readRep.Torn
	if werr != nil {
		return rep, werr
	}
	return rep, rerr
}

// readSegments reads each segment past its offset in done, and sends the
// records in batches of per runs, each with the offsets it brings its
// segments to. It fills rep's Read, Bytes and Torn.
func readSegments(ctx context.Context, st *store.Store, segs []string, done map[string]int64, per int, out chan<- *batch, rep *ExportReport) error {
	b := newBatch()
	send := func() error {
		b.read = rep.Read
		select {
		case out <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
		b = newBatch()
		return nil
	}
	for _, seg := range segs {
		from := done[seg]
		f, err := st.OpenSegment(seg)
		if err != nil {
			return err
		}
		info, err := f.Stat()
		if err != nil {
			f.Close()
			return fmt.Errorf("store: %w", err)
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
			return fmt.Errorf("store: %w", err)
		}
		t := &tap{r: f}
		read, err := store.ReadSegment(t, func(rec *store.Record, off int64, n int) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			rep.Read++
			b.add(rec, position{seg, from + off}, t.line(off, n))
			if len(b.recs) >= per {
				b.offsets[seg] = from + off + int64(n)
				return send()
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
			return err
		}
		rep.Bytes += read.Bytes
		if end := from + read.Bytes; end != done[seg] {
			b.offsets[seg] = end
		}
	}
	if b.empty() {
		return nil
	}
	return send()
}

// tap keeps what a segment reader read, so that the line of each record
// goes into the database as the segment has it, without encoding the
// record again.
type tap struct {
	r    io.Reader
	buf  []byte
	base int64 // offset of buf[0] in what r gave
}

func (t *tap) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.buf = append(t.buf, p[:n]...)
	return n, err
}

// line is a copy of the n bytes at off, without the newline; what comes
// before them is forgotten.
func (t *tap) line(off int64, n int) []byte {
	i := off - t.base
	l := bytes.Clone(t.buf[i : i+int64(n)-1])
	if i > 4<<20 {
		t.buf = append(t.buf[:0], t.buf[i:]...)
		t.base = off
	}
	return l
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
