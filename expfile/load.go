package expfile

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/metalab-hpc/metalab/command"
	"github.com/metalab-hpc/metalab/launcher"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/seeds"
)

// Default values of optional keys.
const (
	DefaultSeedBase   = 0
	DefaultReplicates = 1
)

// Load reads the experiment file at file and returns its experiment, whose
// operation runs the file's command once per run. Every problem is an
// [*Error] that names the file, the line and the key; nothing runs and
// nothing is written before the whole file has been checked, including that
// the command exists and is executable.
func Load(file string) (*launcher.Experiment, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, &Error{File: file, Msg: "cannot read the experiment file: " + reason(err), Advice: "check the path", Err: err}
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	var raw map[string]any
	if _, err := toml.Decode(string(data), &raw); err != nil {
		return nil, syntaxError(file, err)
	}
	l := &loader{file: file, dir: filepath.Dir(abs), lines: keyLines(string(data))}
	return l.experiment(raw)
}

// reason says why a file could not be read, without repeating its path.
func reason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, syscall.EISDIR) {
			return "it is a directory"
		}
		return pe.Err.Error()
	}
	return err.Error()
}

// syntaxError turns a TOML parse error into an [*Error] at its line, with a
// hint for the slips people make most.
func syntaxError(file string, err error) error {
	var pe toml.ParseError
	if !errors.As(err, &pe) {
		return &Error{File: file, Msg: err.Error(), Err: err}
	}
	e := &Error{File: file, Line: pe.Position.Line, Col: pe.Position.Col, Msg: "TOML syntax error: " + pe.Message, Err: err}
	switch {
	case strings.Contains(pe.Message, "already been defined"):
		e.Advice = "a key may appear only once in a table: is a param listed twice?"
	case strings.Contains(pe.Message, "expected value but found"), strings.Contains(pe.Message, "bare keys cannot contain"):
		e.Advice = `strings need quotes: name = "pi_mc"`
	}
	return e
}

// loader reads the decoded TOML of one experiment file, key by key, and
// turns each problem into an [*Error] at the key's line.
type loader struct {
	file  string // as the user named it, for messages
	dir   string // absolute directory of the file: relative paths start here
	lines lines
}

func (l *loader) errAt(p path, advice, format string, args ...any) *Error {
	return &Error{File: l.file, Line: l.lines.of(p), Key: p.String(), Msg: fmt.Sprintf(format, args...), Advice: advice}
}

// typeErr says which type a key wants and which it got.
func (l *loader) typeErr(p path, want string, got any, advice string) *Error {
	return l.errAt(p, advice, "%s: expected %s, got %s", p, want, describe(got))
}

// experiment reads the whole file in the order of the documentation: the
// unknown keys first (a typo is reported as a typo, not as the key it was
// meant to be), then each table, then the checks across tables.
func (l *loader) experiment(raw map[string]any) (*launcher.Experiment, error) {
	if err := l.unknownKeys(raw); err != nil {
		return nil, err
	}
	exp := &launcher.Experiment{Seeds: seeds.New(DefaultSeedBase, DefaultReplicates)}
	var err error
	if exp.Name, err = l.str(raw, path{"name"}, true); err != nil {
		return nil, err
	}
	if strings.TrimSpace(exp.Name) == "" {
		return nil, l.errAt(path{"name"}, `name = "pi_mc"`, "name is empty")
	}
	if exp.Version, err = l.str(raw, path{"version"}, false); err != nil {
		return nil, err
	}
	if _, err = l.str(raw, path{"description"}, false); err != nil {
		return nil, err
	}
	if exp.Operation, err = l.command(raw); err != nil {
		return nil, err
	}
	if v, ok := raw["track_code"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			return nil, l.typeErr(path{"track_code"}, "true or false", v, "track_code = true puts the code's fingerprint into every run ID")
		}
		exp.TrackCode = b
	}
	if exp.Timeout, err = l.timeout(raw); err != nil {
		return nil, err
	}
	if exp.Retries, err = l.retries(raw); err != nil {
		return nil, err
	}
	if exp.Limits, err = l.limits(raw); err != nil {
		return nil, err
	}
	if exp.Params, err = l.params(raw); err != nil {
		return nil, err
	}
	if exp.Seeds, err = l.seeds(raw); err != nil {
		return nil, err
	}
	if exp.Context, err = l.context(raw); err != nil {
		return nil, err
	}
	if err := l.paramContextClash(exp); err != nil {
		return nil, err
	}
	if exp.Slurm, err = l.slurm(raw); err != nil {
		return nil, err
	}
	if st, _, err := l.table(raw, path{"store"}); err != nil {
		return nil, err
	} else if st != nil {
		if exp.Postgres, err = l.str(st, path{"store", "postgres"}, false); err != nil {
			return nil, err
		}
	}
	if err := exp.Validate(); err != nil {
		return nil, &Error{File: l.file, Msg: err.Error(), Err: err}
	}
	if err := l.checkEnv(exp); err != nil {
		return nil, err
	}
	return exp, nil
}

// checkEnv refuses params (or a context) too large for the environment
// of a run: the widest point of the sweep must fit, or every run would
// fail with "argument list too long".
func (l *loader) checkEnv(exp *launcher.Experiment) error {
	c, ok := exp.Operation.(interface {
		CheckPoint(params.Point, launcher.Context) error
	})
	if !ok {
		return nil
	}
	src := exp.Params
	if src == nil {
		src = params.Cases{{}}
	}
	ctx := launcher.Context{}
	for k, v := range exp.Context {
		if f, ok := v.(launcher.File); ok {
			v = string(f)
		}
		ctx[k] = v
	}
	err := c.CheckPoint(params.Widest(src), ctx)
	var ee *command.EnvError
	if !errors.As(err, &ee) {
		return err
	}
	at := path{"params"}
	switch {
	case ee.Param == "":
		at = path{"context"}
	case isGrid(src):
		at = path{"params", "grid", ee.Param}
	case isRandom(src):
		at = path{"params", "random", "space", ee.Param}
	default:
		at = path{"params", "cases"}
	}
	return l.errAt(at, ee.Hint(), "%s", ee.Error())
}

func isGrid(s params.Source) bool   { _, ok := s.(params.Grid); return ok }
func isRandom(s params.Source) bool { _, ok := s.(params.Random); return ok }

// str reads a string key; a missing required one is an error.
func (l *loader) str(m map[string]any, p path, required bool) (string, error) {
	v, ok := m[p[len(p)-1]]
	if !ok {
		if required {
			return "", l.errAt(p, fmt.Sprintf("add it at the top of the file: %s = \"...\"", p[len(p)-1]), "%s is missing", p)
		}
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		advice := ""
		switch v.(type) {
		case int64, float64, bool:
			advice = fmt.Sprintf("quote it: %s = \"%v\"", p[len(p)-1], v)
		}
		return "", l.typeErr(p, "a string", v, advice)
	}
	return s, nil
}

// intIn reads an optional integer key with a default and bounds.
func (l *loader) intIn(m map[string]any, p path, def, lo, hi int64) (int, error) {
	v, ok := m[p[len(p)-1]]
	if !ok {
		return int(def), nil
	}
	n, ok := v.(int64)
	if !ok {
		return 0, l.typeErr(p, "an integer", v, "")
	}
	if n < lo || n > hi {
		return 0, l.errAt(p, "", "%s is %d; want %d to %d", p, n, lo, hi)
	}
	return int(n), nil
}

// table reads a table key; ok is false when it is absent.
func (l *loader) table(m map[string]any, p path) (map[string]any, bool, error) {
	v, ok := m[p[len(p)-1]]
	if !ok {
		return nil, false, nil
	}
	t, ok := v.(map[string]any)
	if !ok {
		return nil, false, l.typeErr(p, "a table", v, fmt.Sprintf("write it as a [%s] section", p))
	}
	return t, true, nil
}

// array accepts both an array and an array of tables.
func array(v any) ([]any, bool) {
	switch a := v.(type) {
	case []any:
		return a, true
	case []map[string]any:
		out := make([]any, len(a))
		for i, t := range a {
			out[i] = t
		}
		return out, true
	}
	return nil, false
}

// describe names a TOML value's type, with the value when it is short.
func describe(v any) string {
	switch x := v.(type) {
	case string:
		s := fmt.Sprintf("%q", x)
		if len(s) > 40 {
			s = s[:37] + `..."`
		}
		return "a string (" + s + ")"
	case int64:
		return fmt.Sprintf("an integer (%d)", x)
	case float64:
		return fmt.Sprintf("a float (%v)", x)
	case bool:
		return fmt.Sprintf("a boolean (%v)", x)
	case map[string]any:
		return "a table"
	case time.Time:
		return "a datetime"
	}
	if _, ok := array(v); ok {
		return "an array"
	}
	return fmt.Sprintf("%T", v)
}

// abs resolves a path of the file against the file's directory, as the
// documentation promises, rather than against the working directory.
func (l *loader) abs(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(l.dir, p)
}

// tomlish writes a value as it would stand in TOML, for a hint.
func tomlish(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprint(v)
}

// value converts a TOML value to a param or context value. TOML's NaN and
// infinities and its datetimes have no place in a run ID.
func (l *loader) value(p path, v any) (any, error) {
	switch x := v.(type) {
	case string, bool, int64:
		return x, nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, l.errAt(p, "", "%s: NaN and infinite values cannot be params or context", p)
		}
		return x, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for _, k := range l.keys(p, x) {
			var err error
			if out[k], err = l.value(p.key(k), x[k]); err != nil {
				return nil, err
			}
		}
		return out, nil
	case time.Time:
		return nil, l.errAt(p, "quote it as a string", "%s: datetime values are not supported", p)
	}
	if a, ok := array(v); ok {
		out := make([]any, len(a))
		for i, e := range a {
			var err error
			if out[i], err = l.value(p.index(i), e); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return nil, l.errAt(p, "", "%s: unsupported value %s", p, describe(v))
}

// keys lists a table's keys in file order (then by name), so that of two
// problems the one nearer the top is reported, whatever Go's map order.
func (l *loader) keys(p path, m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		li, lj := l.lines.of(p.key(keys[i])), l.lines.of(p.key(keys[j]))
		if li != lj {
			return li < lj
		}
		return keys[i] < keys[j]
	})
	return keys
}
