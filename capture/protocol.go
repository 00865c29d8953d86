package capture

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// The line protocol lets a program in any language capture results: it
// appends one JSON object a line to the file named by $METALAB_CAPTURE.
//
//	{"metric": "loss", "value": 0.25}              a metric
//	{"metric": "loss", "value": 0.25, "step": 10}  a point of a series
//	{"data": "confusion", "value": [[5, 1], [0, 7]]}
//	{"artifact": "model", "path": "model.pt"}      "format" is optional
//	{"log": "converged after 10 epochs"}
//
// Any line may also name the run it belongs to, "run": "<run ID>"; a
// persistent process's helper does, so that a line that a thread of an
// earlier run writes late is rejected instead of credited to the run in
// progress.
//
// NaN, Infinity and -Infinity, which Python's json module writes for
// non-finite floats although JSON has no such tokens, are accepted and kept
// as null, with a warning.

// Kind is what a protocol line captures.
type Kind string

// The kinds of the line protocol; each is also the key that names it.
const (
	KindMetric   Kind = "metric"
	KindData     Kind = "data"
	KindArtifact Kind = "artifact"
	KindLog      Kind = "log"
)

var kinds = []Kind{KindMetric, KindData, KindArtifact, KindLog}

// runKey is the key by which any line may name its run.
const runKey = "run"

// allowedKeys lists the other keys each kind's line may hold.
var allowedKeys = map[Kind][]string{
	KindMetric:   {"value", "step"},
	KindData:     {"value"},
	KindArtifact: {"path", "format"},
	KindLog:      {},
}

// Event is one parsed protocol line.
type Event struct {
	Kind Kind
	// Name is the metric, data or artifact name.
	Name string
	// Value is a metric's value; NaN or ±Inf for a non-finite one.
	Value float64
	// Step makes a metric a point of a series.
	Step *int64
	// Data is the data value, as compact JSON.
	Data json.RawMessage
	// Path and Format describe an artifact file. A relative path is
	// relative to the program's working directory.
	Path, Format string
	// Text is a log line.
	Text string
	// Run is the run the line says it belongs to; "" when it does not say.
	Run string
	// Warnings are notes about the line that do not fail the run, such as
	// a non-finite number stored as null.
	Warnings []string
}

// ParseLine parses one protocol line (without its newline). A line that is
// not a JSON object, names no kind, an unknown kind or two kinds, has a key
// its kind does not take, or a value of the wrong type is an error that says
// which.
func ParseLine(line []byte) (Event, error) {
	if ev, ok := parseMetricLine(line); ok {
		return ev, nil
	}
	return parseLine(line)
}

// parseLine is ParseLine without the fast path for metric lines.
func parseLine(line []byte) (Event, error) {
	clean, nonFinite := replaceNonFinite(line)
	dec := json.NewDecoder(bytes.NewReader(clean))
	dec.UseNumber()
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		return Event{}, fmt.Errorf("not valid JSON (%v)", jsonErrText(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return Event{}, errors.New("not valid JSON (text after the object)")
	}
	if obj == nil {
		return Event{}, errors.New("not a JSON object")
	}
	var kind Kind
	for _, k := range kinds {
		if _, ok := obj[string(k)]; !ok {
			continue
		}
		if kind != "" {
			return Event{}, fmt.Errorf("names two kinds, %q and %q; write one object a line", kind, k)
		}
		kind = k
	}
	var run string
	if raw, ok := obj[runKey]; ok {
		if err := json.Unmarshal(raw, &run); err != nil {
			return Event{}, fmt.Errorf("run must be a string, got %s", jsonKind(raw))
		}
		delete(obj, runKey)
	}
	if kind == "" {
		for key := range obj {
			if !isOtherKey(key) {
				return Event{}, fmt.Errorf("unknown kind %q (want metric, data, artifact or log)", key)
			}
		}
		return Event{}, errors.New("names no kind (want a \"metric\", \"data\", \"artifact\" or \"log\" key)")
	}
	for key := range obj {
		if key != string(kind) && !slices.Contains(allowedKeys[kind], key) {
			return Event{}, fmt.Errorf("%s line has an unknown key %q (it takes %s)", kind, key, keyList(kind))
		}
	}
	ev := Event{Kind: kind, Run: run}
	if kind == KindLog {
		if err := json.Unmarshal(obj["log"], &ev.Text); err != nil {
			return Event{}, fmt.Errorf("log text must be a string, got %s", jsonKind(obj["log"]))
		}
		return ev, nil
	}
	if err := json.Unmarshal(obj[string(kind)], &ev.Name); err != nil {
		return Event{}, fmt.Errorf("%s name must be a string, got %s", kind, jsonKind(obj[string(kind)]))
	}
	switch kind {
	case KindMetric:
		return parseMetric(ev, obj, nonFinite)
	case KindData:
		raw, ok := obj["value"]
		if !ok {
			return Event{}, fmt.Errorf("data %q has no \"value\"", ev.Name)
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err != nil {
			return Event{}, fmt.Errorf("data %q: %v", ev.Name, err)
		}
		ev.Data = buf.Bytes()
		if len(nonFinite) > 0 {
			ev.Warnings = append(ev.Warnings, fmt.Sprintf("data %q holds %s; stored as null", ev.Name, strings.Join(nonFinite, ", ")))
		}
	case KindArtifact:
		if err := unmarshalString(obj, "path", &ev.Path); err != nil || ev.Path == "" {
			return Event{}, fmt.Errorf("artifact %q needs a \"path\" string", ev.Name)
		}
		if _, ok := obj["format"]; ok {
			if err := unmarshalString(obj, "format", &ev.Format); err != nil {
				return Event{}, fmt.Errorf("artifact %q: format must be a string", ev.Name)
			}
		}
	}
	return ev, nil
}

func parseMetric(ev Event, obj map[string]json.RawMessage, nonFinite []string) (Event, error) {
	raw, ok := obj["value"]
	if !ok {
		return Event{}, fmt.Errorf("metric %q has no \"value\"", ev.Name)
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return Event{}, fmt.Errorf("metric %q: %v", ev.Name, err)
	}
	switch x := v.(type) {
	case nil:
		ev.Value = math.NaN()
		if len(nonFinite) == 1 {
			ev.Value = nonFiniteValue(nonFinite[0])
		}
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return Event{}, fmt.Errorf("metric %q: %v", ev.Name, err)
		}
		ev.Value = f // ±Inf on overflow, stored as null with a warning
	default:
		return Event{}, fmt.Errorf("metric %q value must be a number, got %s %s", ev.Name, jsonKind(raw), clip(string(raw), 40))
	}
	if raw, ok := obj["step"]; ok {
		var n json.Number
		if jsonKind(raw) != "a number" {
			return Event{}, fmt.Errorf("metric %q step must be an integer, got %s", ev.Name, jsonKind(raw))
		}
		if err := json.Unmarshal(raw, &n); err != nil {
			return Event{}, fmt.Errorf("metric %q step must be an integer, got %s", ev.Name, jsonKind(raw))
		}
		step, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil {
			f, ferr := strconv.ParseFloat(string(n), 64)
			if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
				return Event{}, fmt.Errorf("metric %q step must be an integer, got %s", ev.Name, n)
			}
			step = int64(f) // 3.0 from a language without ints
		}
		ev.Step = &step
	}
	return ev, nil
}

func nonFiniteValue(tok string) float64 {
	switch tok {
	case "Infinity":
		return math.Inf(1)
	case "-Infinity":
		return math.Inf(-1)
	}
	return math.NaN()
}

// replaceNonFinite replaces the bare tokens NaN, Infinity and -Infinity
// outside strings by null and returns which it replaced.
func replaceNonFinite(line []byte) ([]byte, []string) {
	if !bytes.Contains(line, []byte("NaN")) && !bytes.Contains(line, []byte("Infinity")) {
		return line, nil
	}
	var out []byte
	var found []string
	inStr, esc := false, false
	for i := 0; i < len(line); i++ {
		c := line[i]
		if inStr {
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			out = append(out, c)
			continue
		}
		if c == '"' {
			inStr = true
			out = append(out, c)
			continue
		}
		matched := ""
		for _, tok := range []string{"-Infinity", "Infinity", "NaN"} {
			if bytes.HasPrefix(line[i:], []byte(tok)) {
				matched = tok
				break
			}
		}
		if matched == "" {
			out = append(out, c)
			continue
		}
		found = append(found, matched)
		out = append(out, "null"...)
		i += len(matched) - 1
	}
	return out, found
}

func isOtherKey(key string) bool {
	for _, keys := range allowedKeys {
		if slices.Contains(keys, key) {
			return true
		}
	}
	return false
}

func keyList(k Kind) string {
	keys := allowedKeys[k]
	if len(keys) == 0 {
		return "no other key"
	}
	return `"` + strings.Join(keys, `" and "`) + `"`
}

func unmarshalString(obj map[string]json.RawMessage, key string, dst *string) error {
	raw, ok := obj[key]
	if !ok {
		return errors.New("missing")
	}
	return json.Unmarshal(raw, dst)
}

// jsonKind names the JSON type of a raw value for an error message.
func jsonKind(raw json.RawMessage) string {
	s := strings.TrimSpace(string(raw))
	if s == "" {
		return "nothing"
	}
	switch s[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func jsonErrText(err error) string {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "unexpected end of line"
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%v at byte %d", se, se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "want an object, got " + te.Value
	}
	return err.Error()
}

// quoteLine shows a protocol line in a message: between backquotes, which
// JSON seldom holds, or Go-quoted when it has control characters.
func quoteLine(line []byte) string {
	s := clip(string(line), 120)
	if strconv.CanBackquote(s) {
		return "`" + s + "`"
	}
	return strconv.Quote(s)
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// Apply records ev, as the [Capture] method of its kind would. A relative
// artifact path must have been resolved by the caller.
func (r *Recorder) Apply(ev Event) {
	for _, w := range ev.Warnings {
		r.Warn(w)
	}
	switch ev.Kind {
	case KindMetric:
		var opts []MetricOption
		if ev.Step != nil {
			opts = append(opts, Step(*ev.Step))
		}
		r.Metric(ev.Name, ev.Value, opts...)
	case KindData:
		r.DataJSON(ev.Name, ev.Data)
	case KindArtifact:
		r.ArtifactFile(ev.Name, ev.Path, ev.Format)
	case KindLog:
		r.Log("%s", ev.Text)
	default:
		r.Fail(fmt.Errorf("capture: unknown event kind %q", ev.Kind))
	}
}

// ApplyLines reads protocol lines from rd and applies each. Artifact paths
// that are relative are taken relative to dir. A line that does not parse
// fails the run with a message naming its number and text, and the lines
// after it still count, so nothing valid is lost. Blank lines are skipped.
//
// The recorder's [Limits] bound what this costs, whatever rd holds: a line
// longer than MaxLine is skipped without being held in memory, and lines
// past MaxCaptureSize in all are not read; either fails the run. Only a
// read error is returned.
func (r *Recorder) ApplyLines(rd io.Reader, dir string) error {
	lr := NewLineReader(rd, r.limits.MaxLine)
	for n := 1; ; n++ {
		line, size, err := lr.Next()
		switch {
		case err == io.EOF:
			return nil
		case errors.Is(err, ErrLineTooLong):
			// Skipped without being held: it does not count against
			// the run's total.
			r.Fail(fmt.Errorf("capture line %d: %v (max_capture_line); skipped", n, err))
			continue
		case err != nil:
			return err
		}
		if !r.CountCaptured(size, n) {
			return nil
		}
		r.ApplyLine(n, line, dir, "")
	}
}

// ApplyLine parses line number n (without its newline) and applies it; a
// blank line is skipped, and a line that does not parse fails the run. A
// line that names a run other than runID (when runID is set) is not
// applied: ApplyLine returns the run it names, for the caller to report.
func (r *Recorder) ApplyLine(n int, line []byte, dir, runID string) (foreign string) {
	if len(bytes.TrimSpace(line)) == 0 {
		return ""
	}
	ev, err := ParseLine(line)
	if err != nil {
		r.Fail(fmt.Errorf("capture line %d: %s: %s", n, err, quoteLine(line)))
		return ""
	}
	if runID != "" && ev.Run != "" && ev.Run != runID {
		return ev.Run
	}
	if ev.Kind == KindArtifact && !filepath.IsAbs(ev.Path) {
		ev.Path = filepath.Join(dir, ev.Path)
	}
	r.Apply(ev)
	return ""
}

// CountCaptured adds size bytes (line n) to what the run has sent, and
// reports whether it is still within MaxCaptureSize. The first line past
// it fails the run; the caller stops reading.
func (r *Recorder) CountCaptured(size int64, n int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.captured > r.limits.MaxCaptureSize {
		return false
	}
	r.captured += size
	if r.captured > r.limits.MaxCaptureSize {
		r.fail(fmt.Errorf("the run's capture lines exceed the limit of %s (max_capture_size): line %d and those after it were not read",
			Size(r.limits.MaxCaptureSize), n))
		return false
	}
	return true
}
