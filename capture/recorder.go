package capture

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	"github.com/metalab-hpc/metalab/internal/safefs"
	"github.com/metalab-hpc/metalab/internal/tempname"
)

// Recorder implements [Capture] for one run. It is safe for concurrent use by
// the goroutines of one operation.
type Recorder struct {
	cfg     Config
	limits  Limits
	artRoot *os.Root // cfg.Dir, opened on the first artifact
	artMu   sync.Mutex

	mu       sync.Mutex
	res      Result
	err      error // first invalid capture
	captured int64 // bytes of capture lines so far
	onLog    func(string)
}

// Config says where a [Recorder] puts a run's artifacts and what bounds it.
type Config struct {
	// Root is the store directory, opened as a root: artifacts are written
	// only through it, so that a run that replaced a directory of the
	// store by a symlink cannot make metalab write outside the store.
	Root *os.Root
	// Dir is the run's artifact directory, relative to Root, with slashes
	// ("artifacts/<run ID>"). It is created on the first artifact, and the
	// paths the result records are Dir/<file>.
	Dir string
	// Context bounds the copying of artifact files and the reading of
	// capture lines: once it is done, they stop and fail the run. nil
	// means no bound.
	Context context.Context
	// Limits bound line sizes, the run's capture lines in all, and
	// artifact sizes.
	Limits Limits
	// Fresh says that no earlier attempt of the run can have left
	// temporary files in Dir (the store had no artifacts when the sweep
	// started), which spares a directory read a run. Otherwise the first
	// artifact removes those that a process killed while writing one left.
	Fresh bool
}

// NewRecorder returns a recorder for one run.
func NewRecorder(cfg Config) *Recorder {
	if cfg.Context == nil {
		cfg.Context = context.Background()
	}
	return &Recorder{cfg: cfg, limits: cfg.Limits.WithDefaults()}
}

// Limits are the recorder's limits, defaults filled in.
func (r *Recorder) Limits() Limits { return r.limits }

// Context is the recorder's bound on reading and copying.
func (r *Recorder) Context() context.Context { return r.cfg.Context }

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
	if o.stepErr != nil {
		r.fail(fmt.Errorf("metric %q: %w", name, o.stepErr))
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
	if int64(len(data)) > r.limits.MaxArtifactSize {
		r.Fail(fmt.Errorf("capture: artifact %q is %s, larger than the limit of %s (max_artifact_size)",
			name, Size(int64(len(data))), Size(r.limits.MaxArtifactSize)))
		return
	}
	r.storeArtifact(name, format, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// ArtifactFile implements [Capture]. The file is copied, never moved, and
// only a regular file is: a FIFO, a device (/dev/zero), a socket or a
// directory fails the run with a message, as does a file larger than the
// recorder's MaxArtifactSize. Copying stops when the recorder's context is
// done. A symlink is followed: the path is the operation's own choice.
func (r *Recorder) ArtifactFile(name, path, format string) {
	if err := ValidateName("artifact", name); err != nil {
		r.Fail(err)
		return
	}
	f, info, err := safefs.OpenRegular(path)
	if err != nil {
		r.Fail(fmt.Errorf("capture: artifact %q: %w", name, err))
		return
	}
	defer f.Close()
	r.ArtifactFrom(name, f, info, format)
}

// ArtifactFrom stores what the regular file f (whose [os.FileInfo] is
// info) holds as an artifact: the form of [Recorder.ArtifactFile] for a
// caller that opened the file itself, inside a directory it confines.
func (r *Recorder) ArtifactFrom(name string, f *os.File, info os.FileInfo, format string) {
	if info.Size() > r.limits.MaxArtifactSize {
		r.Fail(fmt.Errorf("capture: artifact %q (%s) is %s, larger than the limit of %s (max_artifact_size)",
			name, f.Name(), Size(info.Size()), Size(r.limits.MaxArtifactSize)))
		return
	}
	r.storeArtifact(name, format, func(w io.Writer) error {
		return r.copyBounded(w, f, name)
	})
}

// copyBounded copies src to w in pieces, checking the context between
// them, and fails past MaxArtifactSize: the file may grow while it is
// copied.
func (r *Recorder) copyBounded(w io.Writer, src io.Reader, name string) error {
	buf := make([]byte, 1<<20)
	var n int64
	for {
		if err := context.Cause(r.cfg.Context); err != nil {
			return fmt.Errorf("copy stopped after %s: %w", Size(n), err)
		}
		k, err := src.Read(buf)
		if k > 0 {
			if n += int64(k); n > r.limits.MaxArtifactSize {
				return fmt.Errorf("it grew past the limit of %s (max_artifact_size) while it was copied", Size(r.limits.MaxArtifactSize))
			}
			if _, werr := w.Write(buf[:k]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
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

// artifactDir opens the run's artifact directory on first use.
func (r *Recorder) artifactDir() (*os.Root, error) {
	r.artMu.Lock()
	defer r.artMu.Unlock()
	if r.artRoot != nil {
		return r.artRoot, nil
	}
	if r.cfg.Root == nil {
		return nil, errors.New("the recorder has no store to write artifacts to")
	}
	root, err := safefs.OpenDirIn(r.cfg.Root, r.cfg.Dir, true)
	if err != nil {
		return nil, err
	}
	if !r.cfg.Fresh {
		removeStale(root)
	}
	r.artRoot = root
	return root, nil
}

// removeStale removes the temporary files that an earlier attempt of the
// run left in its artifact directory when its process died (SIGKILL, a
// lost node) in the middle of writing an artifact.
func removeStale(root *os.Root) {
	d, err := root.Open(".")
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, n := range names {
		if tempname.Stale(n, artifactTempPrefix) {
			root.RemoveAll(n)
		}
	}
}

// Close releases the artifact directory; the runner calls it when the run
// has ended.
func (r *Recorder) Close() {
	r.artMu.Lock()
	defer r.artMu.Unlock()
	if r.artRoot != nil {
		r.artRoot.Close()
		r.artRoot = nil
	}
}

// writeArtifact writes an artifact to a temporary file, fsyncs it and renames
// it into place, so that a crash never leaves a half-written artifact under
// its final name.
func (r *Recorder) writeArtifact(name, format string, fill func(io.Writer) error) (Artifact, error) {
	wrap := func(err error) error { return fmt.Errorf("capture: artifact %q: %w", name, err) }
	file := name
	if format != "" && filepath.Ext(name) == "" {
		if err := ValidateName("artifact format", format); err != nil {
			return Artifact{}, err
		}
		file = name + "." + format
	}
	dir, err := r.artifactDir()
	if err != nil {
		return Artifact{}, wrap(err)
	}
	tmpName, tmp, err := createTemp(dir)
	if err != nil {
		return Artifact{}, wrap(err)
	}
	defer dir.Remove(tmpName)
	h := sha256.New()
	cw := &countWriter{w: io.MultiWriter(tmp, h)}
	err = fill(cw)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// Rename replaces whatever is at the name, a planted symlink
		// included, without following it.
		err = dir.Rename(tmpName, file)
	}
	if err != nil {
		return Artifact{}, wrap(err)
	}
	return Artifact{
		Name:   name,
		Path:   path.Join(r.cfg.Dir, file),
		Format: format,
		SHA256: hex.EncodeToString(h.Sum(nil)),
		Size:   cw.n,
	}, nil
}

// createTemp creates a new file in dir with a name that tells which process
// writes it (package tempname), mode [safefs.FileCreate].
func createTemp(dir *os.Root) (string, *os.File, error) {
	pattern := tempname.Pattern(artifactTempPrefix, "artifact")
	prefix := strings.TrimSuffix(pattern, "*")
	for range 100 {
		var b [6]byte
		rand.Read(b[:])
		name := prefix + hex.EncodeToString(b[:])
		f, err := dir.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, safefs.FileCreate)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return name, f, err
	}
	return "", nil, errors.New("no free temporary name")
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
