package capture

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"

	"github.com/metalab-hpc/metalab/internal/tempname"
)

// Recorder implements [Capture] for one run. It is safe for concurrent use by
// the goroutines of one operation.
type Recorder struct {
	storeDir string // artifact paths in the result are relative to this
	artDir   string // where this run's artifacts go; created on first use

	mu    sync.Mutex
	res   Result
	err   error // first invalid capture
	onLog func(string)
}

// NewRecorder returns a recorder whose artifacts are written under artDir,
// which must lie inside storeDir; the paths it records are relative to
// storeDir. artDir is created only when the first artifact arrives.
//
// It removes the temporary files that an earlier attempt of the run left in
// artDir when its process died (SIGKILL, a lost node) in the middle of
// writing an artifact.
func NewRecorder(storeDir, artDir string) *Recorder {
	tempname.RemoveStale(artDir, artifactTempPrefix)
	return &Recorder{storeDir: storeDir, artDir: artDir}
}

// NewFreshRecorder is [NewRecorder] for a run that no earlier attempt can
// have written artifacts for (the caller knows artDir's parent was empty
// when it started), so there is nothing stale to look for: the look costs
// a directory read a run, a tenth of a trivial run's cost.
func NewFreshRecorder(storeDir, artDir string) *Recorder {
	return &Recorder{storeDir: storeDir, artDir: artDir}
}

// artifactTempPrefix begins the names of artifacts being written; the rest
// of the name tells the host and process writing it (package tempname).
const artifactTempPrefix = ".tmp-"

// OnLog sets a function that also receives every log line (for example to
// echo it to the worker's log). It must be set before the run starts.
func (r *Recorder) OnLog(fn func(string)) { r.onLog = fn }

var _ Capture = (*Recorder)(nil)

func (r *Recorder) fail(err error) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %w", ErrInvalid, err)
	}
}

// Metric implements [Capture].
func (r *Recorder) Metric(name string, value float64, opts ...MetricOption) {
	var o metricOpts
	for _, opt := range opts {
		opt(&o)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := ValidateName("metric", name); err != nil {
		r.fail(err)
		return
	}
	finite := !math.IsNaN(value) && !math.IsInf(value, 0)
	if !finite {
		r.res.Warnings = append(r.res.Warnings,
			fmt.Sprintf("metric %q is %v; stored as null", name, value))
	}
	if o.hasStep {
		if r.res.Series == nil {
			r.res.Series = map[string][]Point{}
		}
		p := Point{Step: o.step}
		if finite {
			v := value
			p.Value = &v
		}
		r.res.Series[name] = append(r.res.Series[name], p)
		return
	}
	if r.res.Metrics == nil {
		r.res.Metrics = Metrics{}
	}
	r.res.Metrics[name] = value
}

// Data implements [Capture].
func (r *Recorder) Data(name string, value any) {
	b, err := json.Marshal(value)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := ValidateName("data", name); err != nil {
		r.fail(err)
		return
	}
	if err != nil {
		r.fail(fmt.Errorf("capture: data %q is not JSON-serialisable: %v", name, err))
		return
	}
	r.setData(name, b)
}

// DataJSON records data that is already encoded JSON (the line protocol's
// path). The caller guarantees b is valid JSON.
func (r *Recorder) DataJSON(name string, b json.RawMessage) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := ValidateName("data", name); err != nil {
		r.fail(err)
		return
	}
	r.setData(name, b)
}

func (r *Recorder) setData(name string, b []byte) {
	if r.res.Data == nil {
		r.res.Data = map[string]json.RawMessage{}
	}
	r.res.Data[name] = b
}

// Artifact implements [Capture].
func (r *Recorder) Artifact(name string, data []byte, format string) {
	r.storeArtifact(name, format, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// ArtifactFile implements [Capture].
func (r *Recorder) ArtifactFile(name, path, format string) {
	r.storeArtifact(name, format, func(w io.Writer) error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	})
}

// storeArtifact validates the name, writes the artifact and records it.
func (r *Recorder) storeArtifact(name, format string, fill func(io.Writer) error) {
	if err := ValidateName("artifact", name); err != nil {
		r.Fail(err)
		return
	}
	a, err := r.writeArtifact(name, format, fill)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.fail(err)
		return
	}
	for i, old := range r.res.Artifacts {
		if old.Name == a.Name {
			r.res.Artifacts[i] = a
			return
		}
	}
	r.res.Artifacts = append(r.res.Artifacts, a)
}

// writeArtifact writes an artifact to a temporary file, fsyncs it and renames
// it into place, so that a crash never leaves a half-written artifact under
// its final name.
func (r *Recorder) writeArtifact(name, format string, fill func(io.Writer) error) (Artifact, error) {
	if err := os.MkdirAll(r.artDir, 0o755); err != nil {
		return Artifact{}, fmt.Errorf("capture: artifact %q: %w", name, err)
	}
	file := name
	if format != "" && filepath.Ext(name) == "" {
		if err := ValidateName("artifact format", format); err != nil {
			return Artifact{}, err
		}
		file = name + "." + format
	}
	tmp, err := os.CreateTemp(r.artDir, tempname.Pattern(artifactTempPrefix, "artifact"))
	if err != nil {
		return Artifact{}, fmt.Errorf("capture: artifact %q: %w", name, err)
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(tmp, h)}
	if err := fill(cw); err != nil {
		tmp.Close()
		return Artifact{}, fmt.Errorf("capture: artifact %q: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return Artifact{}, fmt.Errorf("capture: artifact %q: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return Artifact{}, fmt.Errorf("capture: artifact %q: %w", name, err)
	}
	dst := filepath.Join(r.artDir, file)
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return Artifact{}, fmt.Errorf("capture: artifact %q: %w", name, err)
	}
	rel, err := filepath.Rel(r.storeDir, dst)
	if err != nil {
		rel = dst
	}
	return Artifact{
		Name:   name,
		Path:   filepath.ToSlash(rel),
		Format: format,
		SHA256: hex.EncodeToString(h.Sum(nil)),
		Size:   cw.n,
	}, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Log implements [Capture].
func (r *Recorder) Log(format string, args ...any) {
	line := format
	if len(args) > 0 {
		line = fmt.Sprintf(format, args...)
	}
	r.mu.Lock()
	r.res.Logs = append(r.res.Logs, line)
	r.mu.Unlock()
	if r.onLog != nil {
		r.onLog(line)
	}
}

// Warn adds a warning to the run's result.
func (r *Recorder) Warn(msg string) {
	r.mu.Lock()
	r.res.Warnings = append(r.res.Warnings, msg)
	r.mu.Unlock()
}

// Fail notes an invalid capture that arrived by another path (for example a
// malformed protocol line).
func (r *Recorder) Fail(err error) {
	r.mu.Lock()
	r.fail(err)
	r.mu.Unlock()
}

// Err returns the first invalid capture, or nil.
func (r *Recorder) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Result returns a copy of what was captured so far.
func (r *Recorder) Result() Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	res := r.res
	if res.Metrics != nil {
		m := make(Metrics, len(res.Metrics))
		for k, v := range res.Metrics {
			m[k] = v
		}
		res.Metrics = m
	}
	res.Logs = append([]string(nil), res.Logs...)
	res.Artifacts = append([]Artifact(nil), res.Artifacts...)
	res.Warnings = append([]string(nil), res.Warnings...)
	return res
}
