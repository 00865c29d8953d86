package store

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// Names of the files and directories of a store, relative to its root.
const (
	manifestFile = "metalab.json"
	segmentsDir  = "segments"
	artifactsDir = "artifacts"
	logsDir      = "logs"
	nodesDir     = "index/nodes"
	storeIndex   = "index/store.sqlite"

	segmentExt = ".jsonl"
	indexExt   = ".sqlite"
)

// layout lists the directories Open creates.
var layout = []string{segmentsDir, artifactsDir, logsDir, nodesDir, "submissions", "bin", "tmp"}

// Store is an open store directory. Its methods are safe for concurrent use.
type Store struct {
	dir string

	mu     sync.Mutex
	dbs    map[string]openDB // index handles by path
	closed bool
}

// openDB is an open index and the file it was opened on.
type openDB struct {
	db   *sql.DB
	file os.FileInfo
}

// Open opens the store in dir, creating the directory tree if it is missing.
// It refuses, with a [*FormatError], a store whose manifest was written by a
// newer metalab, before creating anything in it.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	s := &Store{dir: dir, dbs: make(map[string]openDB)}
	if _, err := s.Manifest(); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, d := range layout {
		if err := os.MkdirAll(s.path(d), 0o777); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	return s, nil
}

// Dir is the store's directory, as given to Open.
func (s *Store) Dir() string { return s.dir }

func (s *Store) path(rel string) string { return filepath.Join(s.dir, filepath.FromSlash(rel)) }

func (s *Store) segmentPath(name string) string {
	return filepath.Join(s.dir, segmentsDir, name+segmentExt)
}

// ArtifactDir is the directory of a run's artifacts, DIR/artifacts/<runID>.
// Run IDs are 16 lowercase hex digits; any other string (which a caller
// should never pass) maps to DIR/artifacts/invalid-<16 hex digits of its
// SHA-256>, so that no run ID can name a path outside the artifacts
// directory or collide with a valid run's directory.
func (s *Store) ArtifactDir(runID string) string {
	if !validRunID(runID) {
		sum := sha256.Sum256([]byte(runID))
		runID = "invalid-" + hex.EncodeToString(sum[:8])
	}
	return filepath.Join(s.dir, artifactsDir, runID)
}

func validRunID(id string) bool {
	if len(id) != 16 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Close closes the index handles the store keeps open. Close the store's
// writers first.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	var errs []error
	for path, o := range s.dbs {
		if err := o.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("store: closing %s: %w", path, err))
		}
		delete(s.dbs, path)
	}
	return errors.Join(errs...)
}

// index returns the cached handle of the index at path, opening (and if need
// be creating) it on first use, and again when the file was removed or
// replaced (as Collect does with a broken index, maybe in another process).
func (s *Store) index(path string) (*sql.DB, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("store %s is closed", s.dir)
	}
	if o, ok := s.dbs[path]; ok {
		if info, err := os.Stat(path); err == nil && os.SameFile(info, o.file) {
			return o.db, nil
		}
		o.db.Close()
		delete(s.dbs, path)
	}
	db, err := openIndex(path)
	if err != nil {
		return nil, err
	}
	info, err := os.Stat(path)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %w", err)
	}
	s.dbs[path] = openDB{db, info}
	return db, nil
}

// forget closes and drops the cached handle of the index at path, so that
// the file can be moved aside.
func (s *Store) forget(path string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o, ok := s.dbs[path]; ok {
		o.db.Close()
		delete(s.dbs, path)
	}
}

// syncDir fsyncs a directory, making the creation, rename or removal of its
// entries durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
