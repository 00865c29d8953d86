package store

// CONTRACT STUB: the signatures below are fixed; the bodies are being written
// (this file is replaced by the real implementation).

import (
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"
)

// FormatVersion is the store layout version this code reads and writes.
const FormatVersion = 1

// Manifest records a store's experiment identity (metalab.json).
type Manifest struct {
	Format     int             `json:"format"`
	Experiment string          `json:"experiment"`
	Version    string          `json:"version"`
	Identity   string          `json:"identity"` // hex SHA-256 of Spec
	Spec       json.RawMessage `json:"spec"`     // canonical identity document
	Created    time.Time       `json:"created"`
}

// IdentityError: the store belongs to another experiment identity.
type IdentityError struct {
	Dir        string
	Have, Want Manifest
}

func (e *IdentityError) Error() string { panic("stub") }

type Store struct{ dir string }

func Open(dir string) (*Store, error)            { panic("stub") }
func (s *Store) Dir() string                     { panic("stub") }
func (s *Store) Manifest() (*Manifest, error)    { panic("stub") }
func (s *Store) Bind(m Manifest) error           { panic("stub") }
func (s *Store) ArtifactDir(runID string) string { panic("stub") }
func (s *Store) Close() error                    { panic("stub") }

type WriterOptions struct {
	Name          string        // segment base name; "" = <host>-p<pid>-<rand>
	Node          string        // node index name; "" = short host name
	FlushInterval time.Duration // group commit window; 0 = 100ms
}

type Writer struct{}

func (s *Store) NewWriter(o WriterOptions) (*Writer, error) { panic("stub") }
func (w *Writer) Name() string                              { panic("stub") }
func (w *Writer) Append(r *Record) error                    { panic("stub") }
func (w *Writer) Flush() error                              { panic("stub") }
func (w *Writer) Close() error                              { panic("stub") }

type Torn struct {
	Segment string
	Offset  int64
	Length  int
	Reason  string
}

type ReadReport struct {
	Records int
	Bytes   int64 // offset just past the last complete line
	Torn    []Torn
}

func ReadSegment(r io.Reader, fn func(rec *Record, off int64, n int) error) (ReadReport, error) {
	panic("stub")
}

type CollectReport struct {
	Segments, Records, Runs               int
	Completed, Failed, Cancelled, Running int
	Duplicates                            int
	Torn                                  []Torn
	Rebuilt                               []string
}

func (s *Store) Collect(ctx context.Context) (CollectReport, error) { panic("stub") }
func (s *Store) Statuses() (map[string]Status, error)               { panic("stub") }
func (s *Store) Records(fn func(*Record) error) error               { panic("stub") }
func TestStore(t testing.TB) *Store                                 { panic("stub") }
