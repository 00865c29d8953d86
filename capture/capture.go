// Package capture owns what an operation records about one run: metrics
// (optionally stepped series), structured data, artifacts and log lines.
//
// An operation sees the [Capture] interface; the runner hands it a [Recorder],
// which keeps everything in memory (artifacts go straight to disk) until the
// run ends and the runner turns the recorder's [Result] into a store record.
// Operations written in other languages speak the line protocol in
// protocol.go, which feeds the same Recorder.
//
// Invalid captures (a bad name, a value that is not JSON-serialisable, an
// unreadable artifact file) do not panic: the recorder notes the first such
// error and the runner fails the run with it, keeping what was captured.
package capture

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Capture is what an operation uses to record its outputs. It mirrors Python
// metalab's capture object.
type Capture interface {
	// Metric records a numeric metric. With a step (capture.Step(n)) the
	// value joins a series kept as data, not as a table column. NaN and
	// infinite values are stored as null, with a warning.
	Metric(name string, value float64, opts ...MetricOption)
	// Data records JSON-serialisable structured data.
	Data(name string, value any)
	// Artifact stores data as a file under the run, with a content hash.
	// format is a free-form hint such as "png" or "npz"; it becomes the
	// file's extension when name has none.
	Artifact(name string, data []byte, format string)
	// ArtifactFile copies an existing file into the run's artifacts.
	ArtifactFile(name, path, format string)
	// Log records one line of the run's log.
	Log(format string, args ...any)
}

// MetricOption changes how Metric records a value.
type MetricOption func(*metricOpts)

type metricOpts struct {
	step    int64
	hasStep bool
	stepErr error // a step beyond what int64 holds
}

// Integer is any integer type, so that a step needs no conversion:
// capture.Step(epoch) for an int, uint32 or int64 epoch alike.
type Integer interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~uintptr
}

// Step makes a metric a point of a stepped series. Steps are stored as
// int64: an unsigned step above math.MaxInt64 fails the run rather than
// wrap around to a negative one.
func Step[T Integer](step T) MetricOption {
	s := int64(step)
	if step > 0 && s < 0 {
		err := fmt.Errorf("step %d does not fit in an int64", uint64(step))
		return func(o *metricOpts) { o.stepErr = err }
	}
	return func(o *metricOpts) { o.step, o.hasStep = s, true }
}

// Metrics maps a metric name to its value. NaN stands for a value that was
// not a finite number; it is encoded as JSON null and decoded back to NaN.
type Metrics map[string]float64

// MarshalJSON writes NaN and infinities as null.
func (m Metrics) MarshalJSON() ([]byte, error) {
	out := make(map[string]*float64, len(m))
	for k, v := range m {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			out[k] = nil
			continue
		}
		v := v
		out[k] = &v
	}
	return json.Marshal(out)
}

// UnmarshalJSON reads null as NaN.
func (m *Metrics) UnmarshalJSON(b []byte) error {
	if fast, ok := decodeMetrics(b); ok {
		*m = fast
		return nil
	}
	var in map[string]*float64
	if err := json.Unmarshal(b, &in); err != nil {
		return err
	}
	*m = make(Metrics, len(in))
	for k, v := range in {
		if v == nil {
			(*m)[k] = math.NaN()
		} else {
			(*m)[k] = *v
		}
	}
	return nil
}

// decodeMetrics decodes the common form of metrics, an object of numbers
// and nulls with plain names, as UnmarshalJSON would, several times faster
// (reading a million records decodes a million of them). ok is false for
// anything else, which UnmarshalJSON then decodes in full.
func decodeMetrics(b []byte) (Metrics, bool) {
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return nil, false
	}
	m := make(Metrics, 2)
	b = b[1 : len(b)-1]
	for len(b) > 0 {
		if b[0] != '"' {
			return nil, false
		}
		end := 1
		for end < len(b) && b[end] != '"' {
			if c := b[end]; c == '\\' || c < 0x20 || c >= 0x80 {
				return nil, false
			}
			end++
		}
		if end+1 >= len(b) || b[end+1] != ':' {
			return nil, false
		}
		name := string(b[1:end])
		b = b[end+2:]
		n := 0
		for n < len(b) && b[n] != ',' {
			n++
		}
		switch v := string(b[:n]); {
		case v == "null":
			m[name] = math.NaN()
		case v != "" && (v[0] == '-' || '0' <= v[0] && v[0] <= '9') && !strings.ContainsAny(v, "_xXpPiInN"):
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return nil, false
			}
			m[name] = f
		default:
			return nil, false
		}
		if n < len(b) {
			n++ // the comma
			if n == len(b) {
				return nil, false
			}
		}
		b = b[n:]
	}
	return m, true
}

// Point is one value of a stepped series.
type Point struct {
	Step  int64    `json:"step"`
	Value *float64 `json:"value"` // nil: not a finite number
}

// Artifact describes a stored artifact file.
type Artifact struct {
	Name   string `json:"name"`
	Path   string `json:"path"` // relative to the store directory
	Format string `json:"format,omitempty"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// Result is everything one run captured.
type Result struct {
	Metrics   Metrics                    `json:"metrics,omitempty"`
	Series    map[string][]Point         `json:"series,omitempty"`
	Data      map[string]json.RawMessage `json:"data,omitempty"`
	Artifacts []Artifact                 `json:"artifacts,omitempty"`
	Logs      []string                   `json:"logs,omitempty"`
	Warnings  []string                   `json:"warnings,omitempty"`
}

// ValidateName checks a metric, data or artifact name: non-empty, valid
// UTF-8, at most 200 bytes, no NUL or other control characters, no path
// separators and not "." or "..", so that no name can leave the run's
// directory in the store.
func ValidateName(kind, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("capture: %s name is empty", kind)
	case len(name) > 200:
		return fmt.Errorf("capture: %s name %.40q... is longer than 200 bytes", kind, name)
	case !utf8.ValidString(name):
		return fmt.Errorf("capture: %s name %q is not valid UTF-8", kind, name)
	case name == "." || name == "..":
		return fmt.Errorf("capture: %s name %q is not allowed", kind, name)
	case strings.ContainsAny(name, "/\\"):
		return fmt.Errorf("capture: %s name %q contains a path separator", kind, name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("capture: %s name %q contains a control character", kind, name)
		}
	}
	return nil
}

// ErrInvalid marks errors caused by what an operation tried to capture.
var ErrInvalid = errors.New("invalid capture")
