// Package pystore reads a file store written by the Python metalab library,
// so that its runs can be imported into a metalab store: one folder per
// experiment and version (name_version/, with _meta.json), holding
// experiments/<name>_<version>_<time>.json, runs/<id>.json,
// results/<id>/<name>.json, artifacts/<id>/ and logs/<id>_run.log.
//
// [Read] reads all of it, and checks all of it, before anything is
// written anywhere: a broken file fails the import with its path, and the
// store it was going into is left as it was. It never writes into the
// Python store.
//
// What becomes what: a run's status "success" becomes completed (failed,
// cancelled and running stay); params_resolved the params; its numeric
// metrics the metrics; a result marked "stepped_metric" a series, other
// results data; its error's type and message the error, its traceback the
// stack; its log file's lines the logs; its artifacts files to copy. The
// Python run IDs are kept. The replicate of a run is the rank of its seed
// fingerprint among the experiment's runs in the order the Python library
// listed them (seeds do not depend on params, so a replicate's runs share
// one), and its seed is derived from the seed base and replicate as the
// Go side derives it, which is what Python's seeds.seed() returns. Each
// record carries a warning that says it was imported, and from where.
package pystore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/seeds"
	"github.com/metalab-hpc/metalab/store"
)

// Experiment is one experiment version of a Python store, and its runs.
type Experiment struct {
	Info store.ExperimentInfo
	Dir  string // its folder
	Runs []Run
}

// Run is one run's record and the artifact files to copy with it.
type Run struct {
	Record    *store.Record
	Artifacts []ArtifactFile
}

// ArtifactFile is an artifact of a run in the Python store.
type ArtifactFile struct {
	Name, Format string
	Path         string // the file, in the Python store
}

// Limits on what one file may hold: a Python store is input like any other.
const (
	maxJSON = 64 << 20
	maxLog  = 1 << 20
)

// FileError is a file of the Python store that cannot be imported.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string { return fmt.Sprintf("python store: %s: %v", e.Path, e.Err) }
func (e *FileError) Unwrap() error { return e.Err }

// Hint is what the user can do about it.
func (e *FileError) Hint() string {
	return "fix or remove that file (keep a copy), then import again: nothing was imported"
}

// Read reads the Python store in dir: every experiment folder in it (or dir
// itself, when it is one), sorted by name.
func Read(dir string) ([]Experiment, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("python store: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("python store: %s is not a directory", dir)
	}
	var folders []string
	if isExperimentDir(dir) {
		folders = []string{dir}
	} else {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("python store: %w", err)
		}
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			if e.IsDir() && isExperimentDir(p) {
				folders = append(folders, p)
			}
		}
	}
	if len(folders) == 0 {
		return nil, fmt.Errorf("python store: %s holds no experiment folder (a folder with a _meta.json written by the Python metalab)", dir)
	}
	var out []Experiment
	for _, f := range folders {
		e, err := readExperiment(f)
		if err != nil {
			return nil, err
		}
		out = append(out, *e)
	}
	return out, nil
}

func isExperimentDir(dir string) bool {
	info, err := os.Lstat(filepath.Join(dir, "_meta.json"))
	return err == nil && info.Mode().IsRegular()
}

// readJSON decodes the regular file at path into v.
func readJSON(path string, v any) error {
	b, err := readFile(path, maxJSON)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return &FileError{Path: path, Err: fmt.Errorf("not valid JSON: %w", err)}
	}
	return nil
}

// readFile reads a regular file (not a symlink), at most limit bytes.
func readFile(path string, limit int64) ([]byte, error) {
	info, err := os.Lstat(path)
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	if !info.Mode().IsRegular() {
		return nil, &FileError{Path: path, Err: fmt.Errorf("not a regular file (%s)", info.Mode().Type())}
	}
	f, err := OpenFile(path)
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	if int64(len(b)) > limit {
		return nil, &FileError{Path: path, Err: fmt.Errorf("larger than %d bytes", limit)}
	}
	return b, nil
}

type pyMeta struct {
	ExperimentID  string `json:"experiment_id"`
	CreatedBy     string `json:"created_by"`
	SchemaVersion string `json:"schema_version"`
}

type pyExperiment struct {
	Name        string          `json:"name"`
	Version     json.Number     `json:"version"`
	Operation   json.RawMessage `json:"operation"`
	RunIDs      []string        `json:"run_ids"`
	TotalRuns   int             `json:"total_runs"`
	SubmittedAt string          `json:"submitted_at"`
	Seeds       struct {
		Base json.Number `json:"base"`
	} `json:"seeds"`
}

type pyRun struct {
	RunID          string                     `json:"run_id"`
	Status         string                     `json:"status"`
	ParamsResolved map[string]json.RawMessage `json:"params_resolved"`
	Metrics        map[string]any             `json:"metrics"`
	StartedAt      *string                    `json:"started_at"`
	FinishedAt     *string                    `json:"finished_at"`
	SeedFP         string                     `json:"seed_fingerprint"`
	Error          *struct {
		Type      string `json:"type"`
		Message   string `json:"message"`
		Traceback string `json:"traceback"`
	} `json:"error"`
	Provenance struct {
		CodeHash string  `json:"code_hash"`
		Host     *string `json:"host"`
	} `json:"provenance"`
	Artifacts []struct {
		Name   string `json:"name"`
		Format string `json:"format"`
		URI    string `json:"uri"`
	} `json:"artifacts"`
	Warnings []any `json:"warnings"`
}

type pyResult struct {
	Data     json.RawMessage `json:"data"`
	Metadata struct {
		Type string `json:"type"`
	} `json:"metadata"`
}

func readExperiment(dir string) (*Experiment, error) {
	var meta pyMeta
	metaPath := filepath.Join(dir, "_meta.json")
	if err := readJSON(metaPath, &meta); err != nil {
		return nil, err
	}
	if meta.SchemaVersion != "" && !strings.HasPrefix(meta.SchemaVersion, "0.") {
		return nil, &FileError{Path: metaPath, Err: fmt.Errorf("schema_version %q: this metalab imports the Python library's schema 0.x", meta.SchemaVersion)}
	}
	name, version, ok := cutLast(meta.ExperimentID, ":")
	if !ok || name == "" {
		return nil, &FileError{Path: metaPath, Err: fmt.Errorf("experiment_id %q is not NAME:VERSION", meta.ExperimentID)}
	}
	// The experiment's record: the latest of experiments/*.json, by name
	// (they end in the time they were written).
	var exp pyExperiment
	var spec json.RawMessage
	specs, _ := filepath.Glob(filepath.Join(dir, "experiments", "*.json"))
	slices.Sort(specs)
	if len(specs) > 0 {
		p := specs[len(specs)-1]
		if err := readJSON(p, &exp); err != nil {
			return nil, err
		}
		b, _ := readFile(p, maxJSON)
		var buf bytes.Buffer
		json.Compact(&buf, b)
		spec = buf.Bytes()
	}
	base, _ := exp.Seeds.Base.Int64()
	created := parseTime(exp.SubmittedAt)
	sum := sha256.Sum256(spec)
	info := store.ExperimentInfo{Name: name, Version: version, Created: created,
		Plan: store.PlanInfo{Identity: hex.EncodeToString(sum[:]), Spec: spec, Made: created, Runs: exp.TotalRuns}}
	if len(exp.Operation) > 0 && json.Valid(exp.Operation) {
		info.Operation = exp.Operation
		info.OperationSince = created
	}

	// The runs, in the order the experiment lists them, then any others.
	runFiles, err := filepath.Glob(filepath.Join(dir, "runs", "*.json"))
	if err != nil {
		return nil, fmt.Errorf("python store: %w", err)
	}
	order := map[string]int{}
	for i, id := range exp.RunIDs {
		order[id] = i
	}
	ids := make([]string, 0, len(runFiles))
	for _, f := range runFiles {
		ids = append(ids, strings.TrimSuffix(filepath.Base(f), ".json"))
	}
	slices.SortStableFunc(ids, func(a, b string) int {
		ia, oka := order[a]
		ib, okb := order[b]
		switch {
		case oka && okb:
			return ia - ib
		case oka:
			return -1
		case okb:
			return 1
		}
		return strings.Compare(a, b)
	})
	e := &Experiment{Info: info, Dir: dir}
	replicates := map[string]int{}
	codes := map[string]map[string]string{}
	for _, id := range ids {
		path := filepath.Join(dir, "runs", id+".json")
		var r pyRun
		if err := readJSON(path, &r); err != nil {
			return nil, err
		}
		if r.RunID == "" {
			r.RunID = id
		}
		if r.RunID != id {
			return nil, &FileError{Path: path, Err: fmt.Errorf("holds run %q, not %q", r.RunID, id)}
		}
		if !validID(id) {
			return nil, &FileError{Path: path, Err: fmt.Errorf("run ID %q is not letters, digits, '-' and '_'", id)}
		}
		rep, ok := replicates[r.SeedFP]
		if !ok {
			rep = len(replicates)
			replicates[r.SeedFP] = rep
		}
		run, err := readRun(dir, path, name, version, base, rep, &r)
		if err != nil {
			return nil, err
		}
		if r.Provenance.CodeHash != "" {
			c := pythonCode(&r)
			codes[c.Fingerprint] = c.Parts
			e.Info.Code = c.Fingerprint
		}
		e.Runs = append(e.Runs, *run)
	}
	if len(codes) > 0 {
		e.Info.Codes = codes
	}
	if e.Info.Plan.Runs < len(e.Runs) {
		e.Info.Plan.Runs = len(e.Runs)
	}
	return e, nil
}

// pythonCode is the code fingerprint of a Python run: its operation's
// code hash, as the Python library computed it.
func pythonCode(r *pyRun) store.Code {
	return store.NewCode(map[string]string{store.CodePart("python", "operation"): r.Provenance.CodeHash})
}

func readRun(dir, path, name, version string, base int64, replicate int, r *pyRun) (*Run, error) {
	rec := &store.Record{Format: store.RecordFormat, RunID: r.RunID, Experiment: name, Version: version,
		SeedBase: base, Replicate: replicate, Seed: seeds.New(base, replicate+1).Bundle(replicate).Seed()}
	switch r.Status {
	case "success", "completed":
		rec.Status = store.StatusCompleted
	case "failed", "error":
		rec.Status = store.StatusFailed
	case "cancelled", "canceled":
		rec.Status = store.StatusCancelled
	case "running":
		rec.Status = store.StatusRunning
	default:
		return nil, &FileError{Path: path, Err: fmt.Errorf("status %q is none of success, failed, cancelled, running", r.Status)}
	}
	if r.ParamsResolved != nil {
		b, _ := json.Marshal(r.ParamsResolved)
		var p params.Point
		if err := json.Unmarshal(b, &p); err != nil {
			return nil, &FileError{Path: path, Err: fmt.Errorf("params_resolved: %w", err)}
		}
		rec.Params = p
	}
	for _, t := range []struct {
		field string
		s     *string
		to    *time.Time
	}{{"started_at", r.StartedAt, &rec.Started}, {"finished_at", r.FinishedAt, &rec.Ended}} {
		if t.s == nil || *t.s == "" {
			continue
		}
		if *t.to = parseTime(*t.s); t.to.IsZero() {
			return nil, &FileError{Path: path, Err: fmt.Errorf("%s %q is not an ISO 8601 time", t.field, *t.s)}
		}
	}
	if r.Provenance.Host != nil {
		rec.Host = *r.Provenance.Host
	}
	if r.Provenance.CodeHash != "" {
		rec.Code = pythonCode(r).Fingerprint
	}
	if r.Error != nil {
		rec.Error = strings.TrimPrefix(r.Error.Type+": "+r.Error.Message, ": ")
		rec.Stack = r.Error.Traceback
	}
	for k, v := range r.Metrics {
		switch x := v.(type) {
		case json.Number:
			f, err := x.Float64()
			if err != nil {
				return nil, &FileError{Path: path, Err: fmt.Errorf("metric %q: %w", k, err)}
			}
			if rec.Metrics == nil {
				rec.Metrics = capture.Metrics{}
			}
			rec.Metrics[k] = f
		case nil:
			if rec.Metrics == nil {
				rec.Metrics = capture.Metrics{}
			}
			rec.Metrics[k] = math.NaN() // Python wrote a non-finite number as null
		default:
			// A string or a structure: not a metric here, but kept.
			b, _ := json.Marshal(v)
			if rec.Data == nil {
				rec.Data = map[string]json.RawMessage{}
			}
			rec.Data[k] = b
			rec.Warnings = append(rec.Warnings, fmt.Sprintf("metric %q of the Python run is not a number: kept as data", k))
		}
	}
	if err := readResults(filepath.Join(dir, "results", r.RunID), rec); err != nil {
		return nil, err
	}
	if b, err := readFile(filepath.Join(dir, "logs", r.RunID+"_run.log"), maxLog); err == nil {
		for _, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
			if line != "" {
				rec.Logs = append(rec.Logs, line)
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, w := range r.Warnings {
		if s, ok := w.(string); ok {
			rec.Warnings = append(rec.Warnings, s)
		} else {
			b, _ := json.Marshal(w)
			rec.Warnings = append(rec.Warnings, string(b))
		}
	}
	rel, _ := filepath.Rel(filepath.Dir(dir), path)
	rec.Warnings = append(rec.Warnings, "imported from the Python metalab store: "+filepath.ToSlash(rel))
	run := &Run{Record: rec}
	for _, a := range r.Artifacts {
		if err := capture.ValidateName("artifact", a.Name); err != nil {
			return nil, &FileError{Path: path, Err: err}
		}
		// The URI is where the Python store was when it was written; the
		// file is in this copy of it, under artifacts/<run>/.
		p := filepath.Join(dir, "artifacts", r.RunID, filepath.Base(a.URI))
		info, err := os.Lstat(p)
		if err != nil {
			return nil, &FileError{Path: path, Err: fmt.Errorf("artifact %q: %w", a.Name, err)}
		}
		if !info.Mode().IsRegular() {
			// A symlink could make the import copy any file it can read.
			return nil, &FileError{Path: p, Err: fmt.Errorf("artifact %q is not a regular file (%s)", a.Name, info.Mode().Type())}
		}
		run.Artifacts = append(run.Artifacts, ArtifactFile{Name: a.Name, Format: a.Format, Path: p})
	}
	return run, nil
}

// readResults reads results/<run>/*.json: stepped metrics become series,
// the others data.
func readResults(dir string, rec *store.Record) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return err
	}
	slices.Sort(files)
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		var res pyResult
		if err := readJSON(f, &res); err != nil {
			return err
		}
		if res.Metadata.Type == "stepped_metric" {
			var pts [][2]*float64
			if err := json.Unmarshal(res.Data, &pts); err != nil {
				return &FileError{Path: f, Err: fmt.Errorf("a stepped metric's data is not [[step, value], ...]: %w", err)}
			}
			if rec.Series == nil {
				rec.Series = map[string][]capture.Point{}
			}
			for _, p := range pts {
				if p[0] == nil || *p[0] != math.Trunc(*p[0]) {
					return &FileError{Path: f, Err: fmt.Errorf("a step is not an integer")}
				}
				rec.Series[name] = append(rec.Series[name], capture.Point{Step: int64(*p[0]), Value: p[1]})
			}
			continue
		}
		if len(res.Data) == 0 {
			res.Data = json.RawMessage("null")
		}
		var buf bytes.Buffer
		json.Compact(&buf, res.Data)
		if rec.Data == nil {
			rec.Data = map[string]json.RawMessage{}
		}
		rec.Data[name] = buf.Bytes()
	}
	return nil
}

// OpenFile opens a file of the Python store for reading, refusing a
// symlink in its place (O_NOFOLLOW), which could make an import read any
// file it can.
func OpenFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
}

// parseTime reads the Python library's times: ISO 8601, naive ones (which
// it writes) taken as UTC; the zero time when s is none of those.
func parseTime(s string) time.Time {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// validID: a run ID that is safe as a file name.
func validID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func cutLast(s, sep string) (string, string, bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}
