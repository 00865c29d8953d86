package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/metalab-hpc/metalab/internal/host"
	"github.com/metalab-hpc/metalab/internal/safefs"
)

// WriterOptions configures [Store.NewWriter].
type WriterOptions struct {
	Name          string        // segment base name; "" = <host>-p<pid>-<rand>
	Node          string        // node index name; "" = short host name
	FlushInterval time.Duration // group commit window; 0 = 100ms
}

// ErrWriterClosed is returned by [Writer.Append] after [Writer.Close].
var ErrWriterClosed = errors.New("store: writer is closed")

const (
	defaultFlushInterval = 100 * time.Millisecond
	// kickSize of buffered lines starts a group commit before the window
	// ends.
	kickSize = 4 << 20
	// maxBuffered of buffered lines make Append wait for the commit in
	// progress to end. Without it, producers that outrun the disk or the
	// node index (whose updates slow down as it grows) buffered without
	// bound: a sweep of a million trivial runs peaked at 1.1 GiB.
	maxBuffered = 4 * kickSize
	// maxUnindexed rows are kept for retrying a failing node index; past
	// that they are dropped and Collect reads them from the segment.
	maxUnindexed = 1 << 20
	// maxIndexLag rows committed but not yet indexed make a commit update
	// the node index itself, so that the backlog, and memory, stay bounded
	// when the index cannot keep up.
	maxIndexLag = 1 << 18
)

// Writer appends records to one segment of its own and indexes them in its
// node's index. Its methods are safe for concurrent use.
//
// Durability comes in group commits: [Writer.Append] only buffers, and the
// records appended before a commit are on disk when it returns. A commit
// runs every FlushInterval, and on [Writer.Flush] and [Writer.Close].
// The node index is updated after each commit by a goroutine of its own,
// so that a slow index update (a large index on a slow disk) does not
// delay the next commit; Flush and Close return once it is up to date.
//
// When writing or fsyncing the segment fails (a full disk, say), the Writer
// truncates away what it may have written of the failed commit and stops:
// Append, Flush and Close return that error from then on. Records committed
// before stay valid.
//
// A failure to update the node index does not stop the Writer, because the
// index is a cache: the records are durable in the segment and
// [Store.Collect] reads whatever the index misses. [Writer.IndexErr] tells
// whether the last index update failed.
type Writer struct {
	name      string
	path      string // of the segment
	store     *Store
	indexPath string
	interval  time.Duration

	mu     sync.Mutex // guards the fields up to commitMu
	buf    []byte     // encoded lines not yet written
	rows   []indexRow // of the lines in buf, offsets relative to buf
	err    error      // the segment failed; sticky
	idxErr error
	closed bool
	// swapped is signalled when a commit takes the buffer, or the Writer
	// stops, for appenders waiting on maxBuffered.
	swapped sync.Cond

	commitMu  sync.Mutex // serialises commits; guards the fields below
	f         segmentFile
	size      int64 // bytes of the segment written and fsynced
	spare     []byte
	spareRows []indexRow

	idxMu     sync.Mutex // serialises index updates; guards the fields below
	lagMu     sync.Mutex // guards unindexed and covered, also taken by commit
	unindexed []indexRow // durable, not yet in the node index
	covered   int64      // the segment size up to which unindexed goes
	pending   int64      // offset from which unindexed covers the segment

	kick    chan struct{}
	idxKick chan struct{}
	stop    chan struct{}
	done    chan struct{}
	idxDone chan struct{}
}

// segmentFile is the part of *os.File a Writer uses; tests substitute a
// failing one.
type segmentFile interface {
	io.Writer
	Sync() error
	Truncate(size int64) error
	Close() error
}

// NewWriter creates a new segment and returns its writer. A segment of the
// same name that exists already is never reused: the name gets a suffix -2,
// -3, ... instead. Names (of the segment and the node) consist of letters,
// digits, '.', '_' and '-' and do not begin with '.'.
func (s *Store) NewWriter(o WriterOptions) (*Writer, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("store %s is closed", s.dir)
	}
	host := host.Short()
	node := o.Node
	if node == "" {
		node = host
	}
	name := o.Name
	if name == "" {
		var r [2]byte
		rand.Read(r[:])
		name = fmt.Sprintf("%s-p%d-%s", host, os.Getpid(), hex.EncodeToString(r[:]))
	}
	if !validName(node) {
		return nil, fmt.Errorf("store: invalid node name %q (want letters, digits, '.', '_', '-')", node)
	}
	if !validName(name) {
		return nil, fmt.Errorf("store: invalid segment name %q (want letters, digits, '.', '_', '-')", name)
	}
	interval := o.FlushInterval
	if interval <= 0 {
		interval = defaultFlushInterval
	}
	f, name, err := s.createSegment(name)
	if err != nil {
		return nil, err
	}
	w := &Writer{
		name:      name,
		path:      f.Name(),
		store:     s,
		indexPath: filepath.Join(s.path(nodesDir), node+indexExt),
		interval:  interval,
		f:         f,
		kick:      make(chan struct{}, 1),
		idxKick:   make(chan struct{}, 1),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
		idxDone:   make(chan struct{}),
	}
	w.swapped.L = &w.mu
	// Open (and create) the node index now, so that a problem with it shows
	// early; it is not fatal.
	if _, err := s.index(w.indexPath); err != nil {
		w.idxErr = err
	}
	go w.loop()
	go w.indexLoop()
	return w, nil
}

// createSegment creates segments/<name>.jsonl, or name-2, name-3, ... when
// that exists. O_EXCL makes the file this process's own, also over NFS (v3
// and later).
func (s *Store) createSegment(name string) (*os.File, string, error) {
	dir := s.path(segmentsDir)
	for i := 1; i <= 1000; i++ {
		n := name
		if i > 1 {
			n = fmt.Sprintf("%s-%d", name, i)
		}
		f, err := os.OpenFile(s.segmentPath(n), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, safefs.FileCreate)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("store: creating segment: %w", err)
		}
		if err := syncDir(dir); err != nil {
			f.Close()
			return nil, "", fmt.Errorf("store: creating segment: %w", err)
		}
		return f, n, nil
	}
	return nil, "", fmt.Errorf("store: creating segment: %s and 999 variants exist", s.segmentPath(name))
}

// Name is the segment's name: its file name without the extension, which
// the Writer puts into each record it appends.
func (w *Writer) Name() string { return w.name }

// lineEncoder encodes a record into a reusable buffer: line for
// appendRecord, buf for encoding/json when appendRecord declines.
type lineEncoder struct {
	line []byte
	buf  bytes.Buffer
	enc  *json.Encoder
}

var encoders = sync.Pool{New: func() any {
	e := new(lineEncoder)
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}}

// Append adds a record to the segment's next group commit. It sets the
// record's Format, and its Writer to the segment name when that is empty.
// A record needs a run ID and a known status. Append does not wait for the
// disk: call Flush when the record must be durable.
func (w *Writer) Append(r *Record) error {
	if r.RunID == "" {
		return errors.New("store: record without a run ID")
	}
	if !r.Status.Valid() {
		return fmt.Errorf("store: record %s has unknown status %q", r.RunID, r.Status)
	}
	r.Format = RecordFormat
	if r.Writer == "" {
		r.Writer = w.name
	}
	e := encoders.Get().(*lineEncoder)
	// Both encodings end the line with '\n'; no newline can occur inside
	// it, as JSON strings escape theirs and embedded raw JSON is compacted.
	line, ok := appendRecord(e.line[:0], r)
	e.line = line
	if !ok {
		e.buf.Reset()
		if err := e.enc.Encode(r); err != nil {
			encoders.Put(e)
			return fmt.Errorf("store: encoding record %s: %w", r.RunID, err)
		}
		line = e.buf.Bytes()
	}
	row := indexRow{runID: r.RunID, status: r.Status, at: unixNanos(r.When()), n: len(line)}

	w.mu.Lock()
	for len(w.buf) >= maxBuffered && w.err == nil && !w.closed {
		select {
		case w.kick <- struct{}{}:
		default:
		}
		w.swapped.Wait()
	}
	err := w.err
	if err == nil && w.closed {
		err = ErrWriterClosed
	}
	if err == nil {
		row.off = int64(len(w.buf))
		w.buf = append(w.buf, line...)
		w.rows = append(w.rows, row)
	}
	full := len(w.buf) >= kickSize
	w.mu.Unlock()

	if e.buf.Cap() <= 1<<20 && cap(e.line) <= 1<<20 {
		encoders.Put(e)
	}
	if full {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
	return err
}

// Flush commits the records appended so far: when it returns nil they are
// durable in the segment (and in the node index, unless [Writer.IndexErr]).
func (w *Writer) Flush() error {
	err := w.commit()
	w.indexNow()
	return err
}

// Close commits the buffered records and closes the segment. Later calls
// of Append return [ErrWriterClosed].
func (w *Writer) Close() error {
	w.mu.Lock()
	if w.closed {
		err := w.err
		w.mu.Unlock()
		return err
	}
	w.closed = true
	w.swapped.Broadcast()
	w.mu.Unlock()

	close(w.stop)
	<-w.done
	<-w.idxDone
	err := w.commit()
	w.indexNow()
	w.commitMu.Lock()
	defer w.commitMu.Unlock()
	if cerr := w.f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("store: closing segment %s: %w", w.path, cerr)
	}
	return err
}

// IndexErr is the error of the Writer's last attempt to update its node
// index, or nil when the index covers everything committed. It is for
// diagnostics only: the records are durable in the segment either way.
func (w *Writer) IndexErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.idxErr
}

func (w *Writer) loop() {
	defer close(w.done)
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
		case <-w.kick:
		}
		// An error sticks in w.err, where Append and Flush report it.
		w.commit()
		select {
		case w.idxKick <- struct{}{}:
		default:
		}
	}
}

// indexLoop updates the node index after commits of loop.
func (w *Writer) indexLoop() {
	defer close(w.idxDone)
	for {
		select {
		case <-w.stop:
			return
		case <-w.idxKick:
		}
		w.indexNow()
	}
}

// commit writes the buffered lines with one write and fsyncs the segment;
// the node index is left to indexNow, unless it lags by maxIndexLag rows.
func (w *Writer) commit() error {
	w.commitMu.Lock()
	defer w.commitMu.Unlock()

	w.mu.Lock()
	buf, rows, err := w.buf, w.rows, w.err
	if err == nil && len(buf) > 0 {
		// Double buffering: appenders fill the spare buffers (now theirs)
		// while these are written.
		w.buf, w.rows = w.spare[:0], w.spareRows[:0]
		if w.buf == nil {
			// The first swap: size the second buffer like the first,
			// rather than have appenders grow it again by copying.
			w.buf, w.rows = make([]byte, 0, cap(buf)), make([]indexRow, 0, cap(rows))
		}
		w.spare, w.spareRows = nil, nil
		w.swapped.Broadcast()
	}
	w.mu.Unlock()
	if err != nil {
		return err
	}

	if len(buf) > 0 {
		if err := w.writeSync(buf); err != nil {
			w.mu.Lock()
			w.err = err
			w.swapped.Broadcast()
			w.mu.Unlock()
			return err
		}
		base := w.size
		w.size += int64(len(buf))
		w.lagMu.Lock()
		for _, r := range rows {
			r.off += base
			w.unindexed = append(w.unindexed, r)
		}
		w.covered = w.size
		lag := len(w.unindexed)
		w.lagMu.Unlock()
		if cap(buf) <= 4*kickSize { // else let a huge one go
			w.spare, w.spareRows = buf[:0], rows[:0]
		}
		if lag > maxIndexLag {
			w.indexNow()
		}
	}
	return nil
}

// indexNow brings the node index up to date with what is committed.
func (w *Writer) indexNow() {
	w.idxMu.Lock()
	defer w.idxMu.Unlock()
	w.lagMu.Lock()
	rows, covered := w.unindexed, w.covered
	w.unindexed = nil
	w.lagMu.Unlock()
	if len(rows) == 0 {
		return
	}
	if err := w.updateIndex(rows, covered); err != nil {
		// Keep the rows for the next update, up to maxUnindexed; past
		// that, Collect reads them from the segment.
		w.lagMu.Lock()
		if len(rows)+len(w.unindexed) > maxUnindexed {
			w.unindexed, w.pending = w.unindexed[:0], w.covered
		} else {
			w.unindexed = append(rows, w.unindexed...)
		}
		w.lagMu.Unlock()
		return
	}
	w.pending = covered
}

// writeSync appends buf to the segment and fsyncs it. On failure it cuts the
// segment back to its last good size, so that no partial line is left for
// later lines to follow, and no line whose fsync failed seems durable.
func (w *Writer) writeSync(buf []byte) error {
	_, err := w.f.Write(buf)
	if err == nil {
		err = w.f.Sync()
	}
	if err != nil {
		if w.f.Truncate(w.size) == nil {
			w.f.Sync()
		}
		return fmt.Errorf("store: writing segment %s: %w", w.path, err)
	}
	return nil
}

// updateIndex upserts rows, committed but unindexed records that cover the
// segment from w.pending up to covered, into the node index in one
// transaction, with the segment's new indexed offset. It runs under idxMu.
func (w *Writer) updateIndex(rows []indexRow, covered int64) error {
	db, err := w.store.index(w.indexPath)
	if err == nil {
		err = withRetry(context.Background(), func() error {
			return inTx(db, func(tx *sql.Tx) error {
				var seq int64
				if err := tx.QueryRow(nextSeqSQL).Scan(&seq); err != nil {
					return err
				}
				if err := upsertRows(tx, w.name, rows, seq); err != nil {
					return err
				}
				_, err := tx.Exec(upsertSegmentSQL, w.name, w.pending, covered)
				return err
			})
		})
	}
	if err != nil {
		if isCorrupt(err) {
			// Let a later commit open the index afresh, after Collect
			// has moved the broken file aside.
			w.store.forget(w.indexPath)
		}
		err = fmt.Errorf("store: updating node index %s: %w", w.indexPath, err)
	}
	w.mu.Lock()
	w.idxErr = err
	w.mu.Unlock()
	return err
}

func validName(s string) bool {
	if s == "" || len(s) > 200 || s[0] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !nameChar(s[i]) {
			return false
		}
	}
	return true
}

func nameChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
}
