package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/metalab-hpc/metalab/internal/safefs"
)

// FormatVersion is the store layout version this code reads and writes.
const FormatVersion = 1

// Manifest is a store's manifest (metalab.json): written once, when the
// store is made, and never changed after. It names the store ([StoreID])
// and records the experiment and plan of the first sweep run or submitted
// into it; what the store holds since is in its experiments (see
// [Store.Experiments]). A metalab before stores held several experiments
// bound the store to this plan alone, and refuses any other, so that one
// still reads a store grown since as it did.
type Manifest struct {
	Format     int             `json:"format"`
	Experiment string          `json:"experiment"`
	Version    string          `json:"version"`
	Identity   string          `json:"identity"` // hex SHA-256 of Spec
	Spec       json.RawMessage `json:"spec"`     // canonical plan document
	Created    time.Time       `json:"created"`
}

// StoreID names this store among all stores, for the jobs it submits to a
// scheduler: 12 hex digits of a hash of its first plan's identity and the
// moment its manifest was created. Two stores of one experiment differ in
// it; a copy of a store keeps it, and so does a store that is moved or
// grows, as the manifest never changes.
func (m *Manifest) StoreID() string {
	sum := sha256.Sum256([]byte(m.Identity + "\n" + m.Created.UTC().Format(time.RFC3339Nano)))
	return hex.EncodeToString(sum[:6])
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8] + "…"
	}
	return id
}

// FormatError is returned by [Open] and [Store.Manifest] for a manifest
// whose format this code cannot trust: one written by a newer metalab, whose
// layout this code may misread, or one whose "format" is missing, zero or
// negative, which no metalab writes (the manifest was edited or damaged).
type FormatError struct {
	Dir     string
	Path    string // of the manifest
	Format  int    // the manifest's format; 0 when Missing
	Missing bool   // the manifest has no "format"
}

func (e *FormatError) Error() string {
	switch {
	case e.Format > FormatVersion:
		return fmt.Sprintf("store %s was written by a newer metalab (format %d; this one reads up to %d)", e.Dir, e.Format, FormatVersion)
	case e.Missing:
		return fmt.Sprintf("store %s: %s has no \"format\" (want a store format from 1 to %d)", e.Dir, e.Path, FormatVersion)
	}
	return fmt.Sprintf("store %s: %s has \"format\": %d (want a store format from 1 to %d)", e.Dir, e.Path, e.Format, FormatVersion)
}

// Hint is what the user can do about it.
func (e *FormatError) Hint() string {
	switch {
	case e.Format > FormatVersion:
		return "upgrade metalab to use this store"
	case e.Missing:
		return fmt.Sprintf("metalab always writes it, so the manifest was edited or damaged; if this metalab wrote the store, add \"format\": %d to it", FormatVersion)
	}
	return fmt.Sprintf("metalab never writes a format below 1, so the manifest was edited or damaged; if this metalab wrote the store, set \"format\": %d", FormatVersion)
}

// Manifest reads the store's manifest. A store that has none yet (no [Store.Init]
// so far) gives an error that wraps [fs.ErrNotExist].
func (s *Store) Manifest() (*Manifest, error) {
	b, err := os.ReadFile(s.path(manifestFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("store %s has no manifest (%s) yet: %w", s.dir, manifestFile, fs.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("store %s: %s is not a valid manifest: %w", s.dir, manifestFile, err)
	}
	if m.Format < 1 || m.Format > FormatVersion {
		// A format of 0 could be "format": 0 or no format at all; the
		// message says which.
		var probe struct {
			Format json.RawMessage `json:"format"`
		}
		json.Unmarshal(b, &probe)
		missing := probe.Format == nil || string(probe.Format) == "null"
		return nil, &FormatError{Dir: s.dir, Path: s.path(manifestFile), Format: m.Format, Missing: missing}
	}
	return &m, nil
}

// Init makes the directory a store: the first Init writes the manifest m,
// and later ones leave the manifest that is there as it is (it never
// changes, see [Manifest]). Init fills in m's Format, its Identity when
// empty (the hex SHA-256 of Spec, which must be JSON and is kept
// compacted), and Created when zero.
//
// Processes on different nodes may Init the same store at once: the
// manifest appears whole and only once (by link, or by rename where the
// filesystem has no hard links).
func (s *Store) Init(m Manifest) error {
	m.Format = FormatVersion
	// The manifest keeps Spec compacted (encoding/json compacts raw JSON
	// anyway), and the identity is the hash of what it keeps.
	if len(m.Spec) == 0 {
		m.Spec = json.RawMessage("null")
	}
	var spec bytes.Buffer
	if err := json.Compact(&spec, m.Spec); err != nil {
		return fmt.Errorf("store: experiment spec: %w", err)
	}
	m.Spec = spec.Bytes()
	if m.Identity == "" {
		sum := sha256.Sum256(m.Spec)
		m.Identity = hex.EncodeToString(sum[:])
	}
	if m.Created.IsZero() {
		m.Created = time.Now().UTC()
	}
	_, err := s.Manifest()
	if errors.Is(err, fs.ErrNotExist) {
		if err := s.createManifest(&m); err != nil {
			return err
		}
		_, err = s.Manifest()
	}
	return err
}

// createManifest writes m to a temporary file, fsyncs it and links it to
// its final name, which fails if another process got there first (that
// manifest then wins). Where hard links are not supported it renames
// instead, and the last one wins; the store's lock keeps sweeps and
// submits, which make stores, from racing there.
func (s *Store) createManifest(m *Manifest) error {
	// Not indented, and without HTML escapes: either would change the bytes
	// of Spec, which the identity hashes.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return fmt.Errorf("store: encoding manifest: %w", err)
	}
	b := buf.Bytes()
	final := s.path(manifestFile)
	tmp, err := writeTemp(filepath.Dir(final), manifestTempPrefix+"*", b)
	if err != nil {
		return fmt.Errorf("store: writing manifest: %w", err)
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, final); err != nil && !errors.Is(err, fs.ErrExist) {
		if err := os.Rename(tmp, final); err != nil {
			return fmt.Errorf("store: writing manifest: %w", err)
		}
	}
	if err := syncDir(filepath.Dir(final)); err != nil {
		return fmt.Errorf("store: writing manifest: %w", err)
	}
	return nil
}

// writeTemp writes b to a new temporary file in dir and fsyncs it.
func writeTemp(dir, pattern string, b []byte) (string, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	_, err = f.Write(b)
	if err == nil {
		// CreateTemp makes 0600; a group-shared store needs the umask's.
		err = f.Chmod(safefs.Mode(0o664))
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}
