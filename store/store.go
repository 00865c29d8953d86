package store

import (
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/metalab-hpc/metalab/internal/safefs"
)

// Names of the files and directories of a store, relative to its root.
// Only this package spells them; others ask the functions below.
const (
	manifestFile   = "metalab.json"
	segmentsDir    = "segments"
	artifactsDir   = "artifacts"
	logsDir        = "logs"
	slurmLogsDir   = "logs/slurm"
	nodesDir       = "index/nodes"
	storeIndex     = "index/store.sqlite"
	submissionsDir = "submissions"
	binDir         = "bin"
	experimentsDir = "experiments"

	segmentExt = ".jsonl"
	indexExt   = ".sqlite"
)

// layout lists the directories Open creates.
var layout = []string{segmentsDir, artifactsDir, logsDir, nodesDir, submissionsDir, binDir, experimentsDir, "tmp"}

// LayoutNames are the names that a store directory holds before any sweep
// has bound it to an experiment: the directories [Open] makes, and the
// lock's. A directory that holds anything else is not a new store.
func LayoutNames() []string {
	seen := map[string]bool{locksDir: true}
	names := []string{locksDir}
	for _, d := range layout {
		top, _, _ := strings.Cut(d, "/")
		if !seen[top] {
			seen[top] = true
			names = append(names, top)
		}
	}
	return names
}

// OwnsName reports whether name, an entry at the top of a directory that
// has no manifest yet, is one a store makes there: a directory of
// [LayoutNames], or the temporary file that another process making the
// same store writes its manifest to, for a moment, before it links it.
func OwnsName(name string) bool {
	return slices.Contains(LayoutNames(), name) || strings.HasPrefix(name, manifestTempPrefix)
}

// manifestTempPrefix starts the name of a manifest being written.
const manifestTempPrefix = "." + manifestFile + ".tmp-"

// ManifestPath is the manifest of the store in dir: a directory is a store
// when it holds one.
func ManifestPath(dir string) string { return filepath.Join(dir, manifestFile) }

// SubmissionsDir is where the store in dir keeps its SLURM submissions, one
// directory each (see [SubmissionDir]).
func SubmissionsDir(dir string) string { return filepath.Join(dir, submissionsDir) }

// SubmissionDir is the directory of submission id of the store in dir: its
// record, shard layout and batch scripts.
func SubmissionDir(dir, id string) string { return filepath.Join(dir, submissionsDir, id) }

// SubmissionScript is the path, relative to the store, of a submission's
// batch script name (the form records keep).
func SubmissionScript(id, name string) string { return filepath.Join(submissionsDir, id, name) }

// SlurmLogDir is where SLURM writes the logs of a store's jobs.
func SlurmLogDir(dir string) string { return filepath.Join(dir, filepath.FromSlash(slurmLogsDir)) }

// BinDir is where the store in dir keeps the pinned copies of the binary
// its submissions run.
func BinDir(dir string) string { return filepath.Join(dir, binDir) }

// LogPath is the path, relative to the store and with slashes, of the log
// logs/name that records point at (see [Store.OpenLog]).
func LogPath(name string) string { return logsDir + "/" + name }

// Store is an open store directory. Its methods are safe for concurrent use.
type Store struct {
	dir string
	// root is dir, opened once: the files that runs can reach (artifacts,
	// logs) are written through it, so that a run that swaps a directory
	// of the store for a symlink cannot send metalab outside the store.
	root *os.Root

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
//
// The directories of the store's layout must be real directories: one that
// is a symlink (which a run, given $METALAB_STORE, may have planted) is
// refused with an error that names it, as metalab never follows a link
// inside a store. The store directory itself may be a symlink.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, safefs.DirCreate); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	s := &Store{dir: dir, root: root, dbs: make(map[string]openDB)}
	if _, err := s.Manifest(); err != nil && !errors.Is(err, os.ErrNotExist) {
		root.Close()
		return nil, err
	}
	for _, d := range layout {
		if err := s.mkdir(d); err != nil {
			root.Close()
			return nil, err
		}
	}
	return s, nil
}

// mkdir creates the store directory rel and its parents where missing, and
// refuses any of them that is not a real directory.
func (s *Store) mkdir(rel string) error {
	p := ""
	for _, part := range strings.Split(rel, "/") {
		p += part
		info, err := s.root.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			err = s.root.Mkdir(p, safefs.DirCreate)
			if errors.Is(err, fs.ErrExist) {
				err = nil // another process made it
			}
			if err == nil {
				info, err = s.root.Lstat(p)
			}
		}
		if err != nil {
			return fmt.Errorf("store: %w", err)
		}
		if !info.IsDir() {
			return fmt.Errorf("store: %w", &safefs.NotRegularError{Path: s.path(p), Mode: info.Mode(), Want: "a directory"})
		}
		p += "/"
	}
	return nil
}

// Root is the store directory opened as an [os.Root]: operations that write
// into the store on behalf of a run (artifacts) go through it.
func (s *Store) Root() *os.Root { return s.root }

// OpenLog opens the log file logs/name for appending (and reading back
// what was appended), creating it if missing. It refuses a symlink (a run may have planted one to make metalab
// append to a file it could not write itself) or anything but a regular
// file in its place, and a name that is not a plain file name. The path
// the log's records point at is "logs/" + name.
func (s *Store) OpenLog(name string) (*os.File, error) {
	if !validName(name) {
		return nil, fmt.Errorf("store: invalid log name %q", name)
	}
	f, _, err := safefs.OpenRegularIn(s.root, LogPath(name), os.O_RDWR|os.O_CREATE|os.O_APPEND, safefs.FileCreate)
	if err != nil {
		return nil, fmt.Errorf("store: opening log: %w", err)
	}
	return f, nil
}

// SlotLogName is the name (in logs/, see [Store.OpenLog]) of the log of
// one worker slot of a writer; with ".out" or ".err" appended, it holds the
// output of the runs that slot executed.
func SlotLogName(writer string, slot int) string { return writer + "-s" + strconv.Itoa(slot) }

// OpenFile opens the file rel (a slash-separated path relative to the
// store, as records give log and artifact paths) for reading. A path that
// leaves the store, or passes through a symlink, or names anything but a
// regular file is refused: a record's paths come from a segment anybody
// with write access to the store could have edited.
func (s *Store) OpenFile(rel string) (*os.File, error) {
	f, _, err := safefs.OpenRegularIn(s.root, rel, os.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return f, nil
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
	return filepath.Join(s.dir, filepath.FromSlash(s.ArtifactRel(runID)))
}

// ArtifactRel is [Store.ArtifactDir] relative to the store, with slashes:
// the path to give [Store.Root].
func (s *Store) ArtifactRel(runID string) string {
	if !validRunID(runID) {
		sum := sha256.Sum256([]byte(runID))
		runID = "invalid-" + hex.EncodeToString(sum[:8])
	}
	return artifactsDir + "/" + runID
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
	if s.root != nil {
		s.root.Close()
		s.root = nil
	}
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
