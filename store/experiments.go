package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// A store holds any number of experiments, each name and version of its
// own, as the Python library's store root holds a folder per experiment
// and version. Their runs share the segments and indexes (a run ID hashes
// the name and version, so two never share a run); what the store knows of
// each beyond its runs is one small file, experiments/<name>@<version>-<hash>.json,
// rewritten whole by each sweep or submit of it (under the store's lock).
//
// The rule of what goes in: anything that changes only which runs a plan
// has (params, seeds, context) goes into the same experiment, whose runs
// the store already has are skipped; another name or version is another
// experiment. Nothing is refused. An operation that changed under the same
// name and version, as far as metalab can see one
// ([ExperimentInfo.Operation]), is reported ([OperationChange]): run IDs do
// not hash the operation, so the runs the store has of the old one pass
// for runs of the new one. docs/store.md says it for users.

// ExperimentInfo is what a store keeps of one version of an experiment it
// holds.
type ExperimentInfo struct {
	Name    string `json:"experiment"`
	Version string `json:"version"`
	// Operation is what the experiment's operation runs, as far as metalab
	// can see it: a JSON object of named fields (a command's argv), or
	// empty when it sees nothing (a Go function; an experiment recorded by
	// a metalab before this). It is the latest sweep's; OperationSince is
	// when the store first saw it.
	Operation      json.RawMessage `json:"operation,omitempty"`
	OperationSince time.Time       `json:"operation_since,omitzero"`
	// Code is the fingerprint of the code the latest sweep or submit ran
	// (see [Code]); Codes holds the parts of every fingerprint the store
	// has seen of the experiment, so that a reader of a record with an
	// older one can say which file changed since. Both are empty in an
	// experiment recorded by a metalab before code fingerprints.
	Code  string                       `json:"code,omitempty"`
	Codes map[string]map[string]string `json:"codes,omitempty"`
	// Postgres is the PostgreSQL database that collect exports the store
	// to after each merge ([store] postgres; launcher.Experiment.Postgres),
	// of the latest sweep; never with a password.
	Postgres string `json:"postgres,omitempty"`
	// Created is when the store first held the experiment.
	Created time.Time `json:"created"`
	// Plan is its latest plan, run or submitted.
	Plan PlanInfo `json:"plan"`
}

// PlanInfo is what a store keeps of the latest plan of an experiment.
type PlanInfo struct {
	Identity string          `json:"identity"` // hex SHA-256 of Spec
	Spec     json.RawMessage `json:"spec"`     // canonical plan document
	Made     time.Time       `json:"made"`
	// Runs is the plan's number of runs. Outside is the number of runs of
	// the experiment that the store held when the plan was made and the
	// plan does not (their values were removed since): the store keeps
	// them, so the experiment has Runs+Outside runs until another plan.
	Runs    int `json:"runs"`
	Outside int `json:"outside,omitempty"`
}

// Ref is NAME@VERSION, how commands name an experiment version.
func (e *ExperimentInfo) Ref() string { return Ref(e.Name, e.Version) }

// Ref is NAME@VERSION.
func Ref(name, version string) string { return name + "@" + version }

// OperationChange says that the operation of an experiment version is not
// the one the store recorded for it: the runs the store has of it ran the
// recorded one, and a sweep does not run them again.
type OperationChange struct {
	Dir        string
	Experiment string
	Version    string
	// Since is when the store recorded the operation it has.
	Since time.Time
	// Diffs are the fields of the operation that differ, sorted by name.
	Diffs []FieldDiff
}

// FieldDiff is a field that differs: what the store has, and what was
// given (JSON; empty when a side lacks the field).
type FieldDiff struct {
	Field      string
	Have, Want json.RawMessage
}

func (c *OperationChange) String() string {
	parts := make([]string, len(c.Diffs))
	for i, d := range c.Diffs {
		parts[i] = fmt.Sprintf("%s was %s, is %s now", d.Field, jsonOrNone(d.Have), jsonOrNone(d.Want))
	}
	return fmt.Sprintf("the operation of experiment %q version %q changed since store %s recorded it on %s: %s",
		c.Experiment, c.Version, c.Dir, c.Since.UTC().Format(time.DateOnly), strings.Join(parts, "; "))
}

// Hint is what the user can do about it.
func (c *OperationChange) Hint() string {
	return "run IDs do not depend on the operation, so the runs the store has completed are not run again with this one: " +
		"--rerun-changed runs again those whose code changed with it (each record names its code), " +
		"or give the experiment a new version (it goes beside the old one in this store) or use another store"
}

func jsonOrNone(b json.RawMessage) string {
	if len(b) == 0 {
		return "(none)"
	}
	return string(b)
}

// experimentFile is the file of name@version under experiments/: both
// made safe for a file name, and a hash of both so that two that are made
// alike still differ.
func experimentFile(name, version string) string {
	sum := sha256.Sum256([]byte(name + "\x00" + version))
	return safeFileName(name) + "@" + safeFileName(version) + "-" + hex.EncodeToString(sum[:4]) + ".json"
}

// safeFileName keeps letters, digits, '.', '_' and '-' of s, at most 40
// bytes, and writes '_' for the rest.
func safeFileName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= 40 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return strings.TrimLeft(b.String(), ".")
}

// Experiments lists the experiments the store holds, by name and version.
// A store written by a metalab before stores held several has no file of
// its experiment: its manifest names it, with the plan the manifest
// records and no operation.
func (s *Store) Experiments() ([]ExperimentInfo, error) {
	entries, err := os.ReadDir(s.path(experimentsDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("store: %w", err)
	}
	var out []ExperimentInfo
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasSuffix(name, ".json") || strings.HasPrefix(name, ".") {
			continue
		}
		info, err := s.readExperiment(filepath.Join(s.path(experimentsDir), name))
		if err != nil {
			return nil, err
		}
		out = append(out, *info)
	}
	m, err := s.Manifest()
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	case !slices.ContainsFunc(out, func(e ExperimentInfo) bool { return e.Name == m.Experiment && e.Version == m.Version }):
		out = append(out, manifestExperiment(m))
	}
	slices.SortFunc(out, func(a, b ExperimentInfo) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.Version, b.Version)
	})
	return out, nil
}

// manifestExperiment is the experiment of a manifest: the first plan of a
// store, or the only one a metalab before this recorded.
func manifestExperiment(m *Manifest) ExperimentInfo {
	var spec struct {
		Runs int `json:"runs"`
	}
	json.Unmarshal(m.Spec, &spec)
	return ExperimentInfo{
		Name: m.Experiment, Version: m.Version, Created: m.Created,
		Plan: PlanInfo{Identity: m.Identity, Spec: m.Spec, Made: m.Created, Runs: spec.Runs},
	}
}

// Experiment is what the store keeps of name@version, or nil when it holds
// no such experiment.
func (s *Store) Experiment(name, version string) (*ExperimentInfo, error) {
	info, err := s.readExperiment(s.path(filepath.Join(experimentsDir, experimentFile(name, version))))
	if !errors.Is(err, fs.ErrNotExist) {
		return info, err
	}
	m, err := s.Manifest()
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, err
	case m.Experiment == name && m.Version == version:
		e := manifestExperiment(m)
		return &e, nil
	}
	return nil, nil
}

func (s *Store) readExperiment(path string) (*ExperimentInfo, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("store: %w", err)
	}
	var info ExperimentInfo
	if err := json.Unmarshal(b, &info); err != nil {
		return nil, fmt.Errorf("store %s: %s is not a valid experiment record: %w", s.dir, path, err)
	}
	return &info, nil
}

// CheckExperiment tells whether the store holds e's name and version with
// another operation (nil when it does not hold them, or either operation
// is unknown). It writes nothing.
func (s *Store) CheckExperiment(e ExperimentInfo) (*OperationChange, error) {
	have, err := s.Experiment(e.Name, e.Version)
	if err != nil || have == nil {
		return nil, err
	}
	return s.compare(have, &e), nil
}

func (s *Store) compare(have, want *ExperimentInfo) *OperationChange {
	if len(have.Operation) == 0 || len(want.Operation) == 0 || jsonEqual(have.Operation, want.Operation) {
		return nil
	}
	since := have.OperationSince
	if since.IsZero() {
		since = have.Created
	}
	return &OperationChange{Dir: s.dir, Experiment: want.Name, Version: want.Version, Since: since,
		Diffs: diffFields(have.Operation, want.Operation)}
}

// AddExperiment records e and its latest plan in the store, and returns
// what [Store.CheckExperiment] returns: the record then holds e's
// operation. A store without a manifest gets one, of e's plan (see
// [Store.Init]). The store's lock should be held, as the record is read,
// merged and rewritten: its Created stays, and so does an operation (or a
// code) that e does not know; e's Codes join those recorded.
func (s *Store) AddExperiment(e ExperimentInfo) (*OperationChange, error) {
	if err := s.Init(Manifest{Experiment: e.Name, Version: e.Version, Identity: e.Plan.Identity, Spec: e.Plan.Spec}); err != nil {
		return nil, err
	}
	have, err := s.Experiment(e.Name, e.Version)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	if e.Plan.Made.IsZero() {
		e.Plan.Made = now
	}
	e.Created, e.OperationSince = now, now
	var change *OperationChange
	if have != nil {
		change = s.compare(have, &e)
		e.Created = have.Created
		if len(e.Operation) == 0 {
			e.Operation = have.Operation
		}
		if change == nil && !have.OperationSince.IsZero() {
			e.OperationSince = have.OperationSince
		}
		if e.Code == "" {
			e.Code = have.Code
		}
		codes := maps.Clone(have.Codes)
		if codes == nil {
			codes = map[string]map[string]string{}
		}
		maps.Copy(codes, e.Codes)
		if len(codes) > 0 {
			e.Codes = codes
		}
	}
	if len(e.Operation) == 0 {
		e.OperationSince = time.Time{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if len(e.Plan.Spec) < 1<<16 {
		// Indented for people; a grid of a million values is not read
		// by people, and indenting it cost 150 MB at the start of a
		// sweep (docs/performance.md).
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(e); err != nil {
		return nil, fmt.Errorf("store: encoding experiment record: %w", err)
	}
	if err := s.mkdir(experimentsDir); err != nil {
		return nil, err
	}
	path := s.path(filepath.Join(experimentsDir, experimentFile(e.Name, e.Version)))
	err = WriteFileAtomic(path, 0o664, func(w io.Writer) error { _, err := w.Write(buf.Bytes()); return err })
	if err != nil {
		return nil, fmt.Errorf("store: recording experiment %s: %w", e.Ref(), err)
	}
	return change, nil
}

// jsonEqual compares two JSON documents by value, not by bytes.
func jsonEqual(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	ca, _ := json.Marshal(x) // sorts object keys
	cb, _ := json.Marshal(y)
	return bytes.Equal(ca, cb)
}

// diffFields lists the members of two JSON objects that differ; documents
// that are not objects differ as a whole, as "operation".
func diffFields(have, want json.RawMessage) []FieldDiff {
	var h, w map[string]json.RawMessage
	if json.Unmarshal(have, &h) != nil || json.Unmarshal(want, &w) != nil {
		return []FieldDiff{{Field: "operation", Have: have, Want: want}}
	}
	var out []FieldDiff
	for k, hv := range h {
		if wv, ok := w[k]; !ok || !jsonEqual(hv, wv) {
			out = append(out, FieldDiff{Field: k, Have: compact(hv), Want: compact(w[k])})
		}
	}
	for k, wv := range w {
		if _, ok := h[k]; !ok {
			out = append(out, FieldDiff{Field: k, Want: compact(wv)})
		}
	}
	slices.SortFunc(out, func(a, b FieldDiff) int { return strings.Compare(a.Field, b.Field) })
	return out
}

func compact(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return b
	}
	return buf.Bytes()
}

// Counts counts runs by the status of their winning records.
type Counts struct {
	Completed int `json:"completed"`
	Failed    int `json:"failed"`
	Cancelled int `json:"cancelled"`
	Running   int `json:"running"`
}

// Runs is the number of runs counted.
func (c Counts) Runs() int { return c.Completed + c.Failed + c.Cancelled + c.Running }

func (c *Counts) add(s Status) {
	switch s {
	case StatusCompleted:
		c.Completed++
	case StatusFailed:
		c.Failed++
	case StatusCancelled:
		c.Cancelled++
	case StatusRunning:
		c.Running++
	}
}

// CountByExperiment counts the store's runs by experiment version (keyed
// by [Ref]) and status, as of the last [Store.Collect]. The index does not
// know a run's experiment, so it reads every winning record (their keys
// only, see [ScanRecordKeys]); a store of one experiment needs none of it,
// as [CollectReport] counts its runs. Of a damaged store it counts what it
// can read and returns the [*DamageError] too.
func (s *Store) CountByExperiment() (map[string]*Counts, error) {
	sn, err := s.Snapshot()
	if err != nil {
		return nil, err
	}
	out := map[string]*Counts{}
	err = sn.Lines(func(line []byte) error {
		k, err := ScanRecordKeys(line)
		if err != nil {
			return nil // a damaged line: Lines reports it
		}
		ref := Ref(k.Experiment, k.Version)
		c := out[ref]
		if c == nil {
			c = &Counts{}
			out[ref] = c
		}
		c.add(k.Status)
		return nil
	})
	return out, err
}
