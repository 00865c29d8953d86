package expfile

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/metalab-hpc/metalab/command"
	"github.com/metalab-hpc/metalab/launcher"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/seeds"
	"github.com/metalab-hpc/metalab/slurm"
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
	if exp.Timeout, err = l.timeout(raw); err != nil {
		return nil, err
	}
	if exp.Retries, err = l.intIn(raw, path{"retries"}, 0, 0, 1000); err != nil {
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

// ---- schema and unknown keys

// schema says which keys a table takes. keys nil means free-form names
// (params, env vars, context entries); each, if set, is the schema of every
// entry of a free-form table.
type schema struct {
	keys map[string]*schema
	each *schema
}

var leaf = (*schema)(nil)

func fixed(keys map[string]*schema) *schema { return &schema{keys: keys} }

var free = &schema{}

var slurmSchema = func() *schema {
	keys := map[string]*schema{}
	t := reflect.TypeOf(slurm.Settings{})
	for i := 0; i < t.NumField(); i++ {
		if tag := t.Field(i).Tag.Get("toml"); tag != "" {
			keys[tag] = leaf
		}
	}
	return fixed(keys)
}()

var spaceEntrySchema = fixed(map[string]*schema{"dist": leaf, "low": leaf, "high": leaf, "values": leaf})

var rootSchema = fixed(map[string]*schema{
	"name": leaf, "version": leaf, "description": leaf,
	"command": leaf, "mode": leaf, "workdir": leaf, "env": free,
	"timeout": leaf, "retries": leaf,
	"max_artifact_size": leaf, "max_capture_line": leaf, "max_capture_size": leaf,
	"params": fixed(map[string]*schema{
		"grid": free,
		"random": fixed(map[string]*schema{
			"n_trials": leaf, "seed": leaf,
			"space": {each: spaceEntrySchema},
		}),
		"cases": free,
	}),
	"seeds":   fixed(map[string]*schema{"base": leaf, "replicates": leaf}),
	"context": free,
	"slurm":   slurmSchema,
})

// unknownKeys reports the first unknown key in file order, so that a typo
// is reported as a typo and not as the missing key it was meant to be.
func (l *loader) unknownKeys(raw map[string]any) error {
	var found []*Error
	var walk func(p path, v any, s *schema)
	walk = func(p path, v any, s *schema) {
		m, ok := v.(map[string]any)
		if s == nil || !ok {
			return
		}
		for k, child := range m {
			switch {
			case s.keys != nil:
				sub, known := s.keys[k]
				if !known {
					found = append(found, l.errAt(p.key(k), l.unknownHint(p, k, s), "unknown key %q%s", k, in(p)))
					continue
				}
				walk(p.key(k), child, sub)
			case s.each != nil:
				walk(p.key(k), child, s.each)
			}
		}
	}
	walk(nil, raw, rootSchema)
	if len(found) == 0 {
		return nil
	}
	sort.Slice(found, func(i, j int) bool {
		if found[i].Line != found[j].Line {
			return found[i].Line < found[j].Line
		}
		return found[i].Key < found[j].Key
	})
	return found[0]
}

func in(p path) string {
	if len(p) == 0 {
		return ""
	}
	return " in [" + p.String() + "]"
}

// unknownHint suggests the closest valid key, or the table a misplaced key
// belongs to: keys after a [table] header belong to that table, a classic
// TOML slip.
func (l *loader) unknownHint(p path, k string, s *schema) string {
	var valid []string
	for v := range s.keys {
		valid = append(valid, v)
	}
	hint := didYouMean(k, valid)
	if strings.HasPrefix(hint, "did you mean") {
		return hint
	}
	if len(p) > 0 {
		if _, top := rootSchema.keys[k]; top {
			return fmt.Sprintf("%q is a top-level key; keys below a [table] header belong to that table, so move it above the first header", k)
		}
	}
	homes := map[string]string{
		"base": "seeds", "replicates": "seeds", "n_trials": "params.random", "seed": "params.random",
		"grid": "params", "random": "params", "cases": "params", "space": "params.random",
	}
	if home, ok := homes[k]; ok && p.String() != home {
		return fmt.Sprintf("%q belongs in the [%s] table", k, home)
	}
	if _, ok := slurmSchema.keys[k]; ok && len(p) == 0 {
		return fmt.Sprintf("%q belongs in the [slurm] table", k)
	}
	return hint
}

// ---- scalar getters

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

// ---- command, mode, workdir, env, timeout

func (l *loader) command(raw map[string]any) (launcher.Operation, error) {
	mode, err := l.str(raw, path{"mode"}, false)
	if err != nil {
		return nil, err
	}
	switch mode {
	case "", "per-run", "persistent":
	default:
		return nil, l.errAt(path{"mode"}, `mode is "per-run" (the default: a process per run) or "persistent" (a process per worker slot)`, "unknown mode %q", mode)
	}

	dir := l.dir
	wd, err := l.str(raw, path{"workdir"}, false)
	if err != nil {
		return nil, err
	}
	if wd != "" {
		dir = l.abs(wd)
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return nil, l.errAt(path{"workdir"}, "workdir is relative to the experiment file's directory, "+l.dir,
				"workdir %s does not exist or is not a directory", dir)
		}
	}

	env := map[string]string{}
	et, _, err := l.table(raw, path{"env"})
	if err != nil {
		return nil, err
	}
	for _, k := range l.keys(path{"env"}, et) {
		v := et[k]
		p := path{"env", k}
		switch x := v.(type) {
		case string:
			env[k] = x
		case int64, bool:
			env[k] = fmt.Sprint(x)
		case float64:
			env[k] = fmt.Sprint(x)
		default:
			return nil, l.typeErr(p, "a string", v, "")
		}
		switch {
		case strings.HasPrefix(k, "METALAB_"):
			return nil, l.errAt(p, "metalab sets the METALAB_ variables itself; rename it", "env: %s is reserved", k)
		case k == "" || strings.ContainsAny(k, "=\x00"):
			return nil, l.errAt(p, "", "env: %q is not a valid variable name", k)
		}
	}

	argv, err := l.argv(raw)
	if err != nil {
		return nil, err
	}
	spec := command.Spec{Argv: argv, Dir: dir, Env: env}
	var op launcher.Operation
	if mode == "persistent" {
		op, err = command.NewPersistent(spec)
	} else {
		op, err = command.New(spec)
	}
	if err != nil {
		e := l.errAt(path{"command"}, "", "%v", err)
		var ce *command.Error
		if errors.As(err, &ce) {
			e.Advice = ce.Hint()
		}
		e.Err = err
		return nil, e
	}
	return op, nil
}

// argv reads command: an array of strings, or one string split at
// whitespace. The string form has no quoting, so it refuses what a shell
// would have interpreted rather than pass it on literally.
func (l *loader) argv(raw map[string]any) ([]string, error) {
	p := path{"command"}
	v, ok := raw["command"]
	if !ok {
		return nil, l.errAt(p, `add the program to run once per run: command = ["python3", "run.py"]`, "command is missing")
	}
	if s, ok := v.(string); ok {
		if strings.ContainsAny(s, "'\"`$|&;<>()*?~\\{}[]") {
			return nil, l.errAt(p, fmt.Sprintf("write it as an array, one argument a string: command = %s", arrayForm(s)),
				"command %q holds quotes or shell syntax, but it is not run by a shell", s)
		}
		f := strings.Fields(s)
		if len(f) == 0 {
			return nil, l.errAt(p, `command = ["python3", "run.py"]`, "command is empty")
		}
		if strings.Contains(f[0], "=") {
			return nil, l.errAt(p, "set environment variables in the [env] table", "command starts with a variable assignment (%s), but it is not run by a shell", f[0])
		}
		return f, nil
	}
	a, ok := array(v)
	if !ok {
		return nil, l.typeErr(p, "an array of strings or a string", v, `command = ["python3", "run.py"]`)
	}
	if len(a) == 0 {
		return nil, l.errAt(p, `command = ["python3", "run.py"]`, "command is empty")
	}
	argv := make([]string, len(a))
	for i, x := range a {
		s, ok := x.(string)
		if !ok {
			advice := ""
			if _, num := x.(int64); num {
				advice = fmt.Sprintf("quote it: \"%v\"", x)
			}
			return nil, l.typeErr(p.index(i), "a string", x, advice)
		}
		argv[i] = s
	}
	return argv, nil
}

// arrayForm writes a command string as the array a shell would have made
// of its words, for a hint: quotes group, nothing else is interpreted.
func arrayForm(s string) string {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, fmt.Sprintf("%q", cur.String()))
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, fmt.Sprintf("%q", cur.String()))
	}
	return "[" + strings.Join(words, ", ") + "]"
}

func (l *loader) abs(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(l.dir, p)
}

func (l *loader) timeout(raw map[string]any) (time.Duration, error) {
	p := path{"timeout"}
	v, ok := raw["timeout"]
	if !ok {
		return 0, nil
	}
	const advice = `a duration such as "90s", "10m" or "1h30m", or a number of seconds`
	var d time.Duration
	switch x := v.(type) {
	case string:
		var err error
		if d, err = time.ParseDuration(strings.ReplaceAll(x, " ", "")); err != nil {
			return 0, l.errAt(p, "use "+advice, "timeout %q is not a duration", x)
		}
	case int64:
		if x > math.MaxInt64/int64(time.Second) {
			return 0, l.errAt(p, "", "timeout %d s is too long", x)
		}
		d = time.Duration(x) * time.Second
	case float64:
		if math.IsNaN(x) || x > float64(math.MaxInt64/int64(time.Second)) {
			return 0, l.errAt(p, "", "timeout %v s is not a usable duration", x)
		}
		d = time.Duration(x * float64(time.Second))
	default:
		return 0, l.typeErr(p, advice, v, "")
	}
	if d < 0 {
		return 0, l.errAt(p, "0 or no timeout means no limit", "timeout is negative")
	}
	return d, nil
}

// ---- params

func (l *loader) params(raw map[string]any) (params.Source, error) {
	pt, ok, err := l.table(raw, path{"params"})
	if err != nil || !ok {
		return nil, err
	}
	var kinds []string
	for _, k := range []string{"grid", "random", "cases"} {
		if _, ok := pt[k]; ok {
			kinds = append(kinds, k)
		}
	}
	if len(kinds) > 1 {
		sort.Slice(kinds, func(i, j int) bool {
			return l.lines.of(path{"params", kinds[i]}) < l.lines.of(path{"params", kinds[j]})
		})
		return nil, l.errAt(path{"params", kinds[1]}, "an experiment has one param source: a grid, a random search, or a list of cases",
			"params.%s and params.%s cannot be combined", kinds[0], kinds[1])
	}
	if len(kinds) == 0 {
		return nil, nil
	}
	var src params.Source
	var names []paramName
	switch kinds[0] {
	case "grid":
		src, names, err = l.grid(pt)
	case "random":
		src, names, err = l.random(pt)
	case "cases":
		src, names, err = l.cases(pt)
	}
	if err != nil {
		return nil, err
	}
	if err := l.checkNames("param", names, command.ParamEnv); err != nil {
		return nil, err
	}
	if err := src.Validate(); err != nil {
		return nil, l.errAt(path{"params", kinds[0]}, "", "%v", err)
	}
	return src, nil
}

// paramName is a param name and where it is defined.
type paramName struct {
	name string
	at   path
}

// checkNames refuses an empty name and two names that become the same
// environment variable, such as "lr" and "LR".
func (l *loader) checkNames(what string, names []paramName, env func(string) string) error {
	sort.Slice(names, func(i, j int) bool { return l.lines.of(names[i].at) < l.lines.of(names[j].at) })
	seen := map[string]paramName{}
	for _, n := range names {
		if n.name == "" {
			return l.errAt(n.at, "", "%s name is empty", what)
		}
		v := env(n.name)
		if old, dup := seen[v]; dup && old.name != n.name {
			return l.errAt(n.at, "rename one of them: names that differ only in case or punctuation collide",
				"%s %q and %s %q (line %d) would both be passed as $%s", what, n.name, what, old.name, l.lines.of(old.at), v)
		}
		seen[v] = n
	}
	return nil
}

func (l *loader) grid(pt map[string]any) (params.Source, []paramName, error) {
	p := path{"params", "grid"}
	gt, _, err := l.table(pt, p)
	if err != nil {
		return nil, nil, err
	}
	if len(gt) == 0 {
		return nil, nil, l.errAt(p, "list each param's values, such as n_samples = [1000, 10000]; or remove [params.grid] to run one point",
			"params.grid has no axes")
	}
	g := params.Grid{}
	var names []paramName
	for _, name := range l.keys(p, gt) {
		v := gt[name]
		ap := p.key(name)
		a, ok := array(v)
		if !ok {
			advice := fmt.Sprintf("a grid axis lists its values: %s = [%s]", name, tomlish(v))
			if _, top := rootSchema.keys[name]; top {
				advice = fmt.Sprintf("%q is a top-level key; keys below a [table] header belong to that table, so move it above the first header", name)
			}
			return nil, nil, l.typeErr(ap, "an array of values", v, advice)
		}
		if len(a) == 0 {
			return nil, nil, l.errAt(ap, "list at least one value, or remove the axis", "grid axis %s is empty", ap)
		}
		vals := make([]any, len(a))
		for i, x := range a {
			if vals[i], err = l.value(ap.index(i), x); err != nil {
				return nil, nil, err
			}
		}
		if err := (params.Grid{name: vals}).Validate(); err != nil {
			return nil, nil, l.errAt(ap, "", "%v", err)
		}
		g[name] = vals
		names = append(names, paramName{name, ap})
	}
	return g, names, nil
}

func tomlish(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprint(v)
}

var distNames = []string{"uniform", "loguniform", "loguniform_int", "randint", "choice"}

func (l *loader) random(pt map[string]any) (params.Source, []paramName, error) {
	p := path{"params", "random"}
	rt, _, err := l.table(pt, p)
	if err != nil {
		return nil, nil, err
	}
	if _, ok := rt["n_trials"]; !ok {
		return nil, nil, l.errAt(p, "say how many points to draw: n_trials = 20", "params.random has no n_trials")
	}
	trials, err := l.intIn(rt, p.key("n_trials"), 0, 1, math.MaxInt32)
	if err != nil {
		return nil, nil, err
	}
	seed := int64(0)
	if v, ok := rt["seed"]; ok {
		n, ok := v.(int64)
		if !ok {
			return nil, nil, l.typeErr(p.key("seed"), "an integer", v, "")
		}
		seed = n
	}
	sp := p.key("space")
	st, ok, err := l.table(rt, sp)
	if err != nil {
		return nil, nil, err
	}
	if !ok || len(st) == 0 {
		return nil, nil, l.errAt(sp, `add one table per param: [params.random.space.lr] dist = "loguniform", low = 1e-4, high = 0.1`,
			"params.random has no space to draw from")
	}
	r := params.Random{Trials: trials, Seed: seed, Space: map[string]params.Dist{}}
	var names []paramName
	for _, name := range l.keys(sp, st) {
		d, err := l.dist(sp.key(name), st[name])
		if err != nil {
			return nil, nil, err
		}
		r.Space[name] = d
		names = append(names, paramName{name, sp.key(name)})
	}
	return r, names, nil
}

func (l *loader) dist(p path, v any) (params.Dist, error) {
	t, ok := v.(map[string]any)
	if !ok {
		return nil, l.typeErr(p, "a table such as {dist = \"uniform\", low = 0, high = 1}", v, "")
	}
	dv, ok := t["dist"]
	if !ok {
		return nil, l.errAt(p, "one of: "+strings.Join(distNames, ", "), "%s has no dist", p)
	}
	dist, ok := dv.(string)
	if !ok {
		return nil, l.typeErr(p.key("dist"), "a string", dv, "")
	}
	takes := map[string][]string{
		"uniform": {"low", "high"}, "loguniform": {"low", "high"},
		"loguniform_int": {"low", "high"}, "randint": {"low", "high"},
		"choice": {"values"},
	}
	keys, known := takes[dist]
	if !known {
		return nil, l.errAt(p.key("dist"), didYouMean(dist, distNames), "unknown dist %q", dist)
	}
	for _, k := range l.keys(p, t) {
		if k != "dist" && !contains(keys, k) {
			return nil, l.errAt(p.key(k), fmt.Sprintf("dist %q takes %s", dist, strings.Join(keys, " and ")), "%s: dist %q does not take %s", p, dist, k)
		}
	}
	for _, k := range keys {
		if _, ok := t[k]; !ok {
			return nil, l.errAt(p, fmt.Sprintf("dist %q takes %s", dist, strings.Join(keys, " and ")), "%s has no %s", p, k)
		}
	}
	var d params.Dist
	switch dist {
	case "uniform", "loguniform":
		lo, err := l.float(p.key("low"), t["low"])
		if err != nil {
			return nil, err
		}
		hi, err := l.float(p.key("high"), t["high"])
		if err != nil {
			return nil, err
		}
		if dist == "uniform" {
			d = params.Uniform(lo, hi)
		} else {
			d = params.LogUniform(lo, hi)
		}
	case "loguniform_int", "randint":
		lo, ok := t["low"].(int64)
		if !ok {
			return nil, l.typeErr(p.key("low"), "an integer", t["low"], "")
		}
		hi, ok := t["high"].(int64)
		if !ok {
			return nil, l.typeErr(p.key("high"), "an integer", t["high"], "")
		}
		if dist == "randint" {
			d = params.RandInt(lo, hi)
		} else {
			d = params.LogUniformInt(lo, hi)
		}
	case "choice":
		a, ok := array(t["values"])
		if !ok {
			return nil, l.typeErr(p.key("values"), "an array", t["values"], "")
		}
		if len(a) == 0 {
			return nil, l.errAt(p.key("values"), "list at least one value", "%s.values is empty", p)
		}
		vals := make([]any, len(a))
		for i, x := range a {
			var err error
			if vals[i], err = l.value(p.key("values").index(i), x); err != nil {
				return nil, err
			}
		}
		d = params.Choice(vals...)
	}
	if err := d.Validate(); err != nil {
		return nil, l.errAt(p, "", "%s: %v", p, err)
	}
	return d, nil
}

func (l *loader) float(p path, v any) (float64, error) {
	switch x := v.(type) {
	case int64:
		return float64(x), nil
	case float64:
		return x, nil
	}
	return 0, l.typeErr(p, "a number", v, "")
}

func (l *loader) cases(pt map[string]any) (params.Source, []paramName, error) {
	p := path{"params", "cases"}
	a, ok := array(pt["cases"])
	if !ok {
		return nil, nil, l.typeErr(p, "an array of tables ([[params.cases]] sections)", pt["cases"], "")
	}
	if len(a) == 0 {
		return nil, nil, l.errAt(p, "add a [[params.cases]] section per case", "params.cases is empty")
	}
	cs := make(params.Cases, len(a))
	seen := map[string]int{}
	var names []paramName
	for i, x := range a {
		cp := p.index(i)
		t, ok := x.(map[string]any)
		if !ok {
			return nil, nil, l.typeErr(cp, "a table", x, "")
		}
		c := make(map[string]any, len(t))
		for _, k := range l.keys(cp, t) {
			var err error
			if c[k], err = l.value(cp.key(k), t[k]); err != nil {
				return nil, nil, err
			}
			names = append(names, paramName{k, cp.key(k)})
		}
		b, err := params.Canonical(c)
		if err != nil {
			return nil, nil, l.errAt(cp, "", "%v", err)
		}
		if j, dup := seen[string(b)]; dup {
			return nil, nil, l.errAt(cp, "each case must differ from the others, or two runs would share their run IDs",
				"case %d is the same as case %d (line %d): %s", i, j, l.lines.of(p.index(j)), b)
		}
		seen[string(b)] = i
		cs[i] = c
	}
	return cs, names, nil
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

// ---- seeds, context, slurm

func (l *loader) seeds(raw map[string]any) (seeds.Plan, error) {
	st, _, err := l.table(raw, path{"seeds"})
	if err != nil {
		return seeds.Plan{}, err
	}
	plan := seeds.New(DefaultSeedBase, DefaultReplicates)
	if v, ok := st["base"]; ok {
		n, ok := v.(int64)
		if !ok {
			return plan, l.typeErr(path{"seeds", "base"}, "an integer", v, "")
		}
		plan.Base = n
	}
	if plan.Replicates, err = l.intIn(st, path{"seeds", "replicates"}, DefaultReplicates, 1, math.MaxInt32); err != nil {
		return plan, err
	}
	return plan, nil
}

func (l *loader) context(raw map[string]any) (map[string]any, error) {
	p := path{"context"}
	ct, _, err := l.table(raw, p)
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	var names []paramName
	for _, k := range l.keys(p, ct) {
		if k == "files" {
			continue
		}
		if out[k], err = l.value(p.key(k), ct[k]); err != nil {
			return nil, err
		}
		names = append(names, paramName{k, p.key(k)})
	}
	fp := p.key("files")
	ft, _, err := l.table(ct, fp)
	if err != nil {
		return nil, err
	}
	for _, k := range l.keys(fp, ft) {
		v := ft[k]
		kp := fp.key(k)
		s, ok := v.(string)
		if !ok {
			return nil, l.typeErr(kp, "a file path (a string)", v, "")
		}
		if _, dup := out[k]; dup {
			return nil, l.errAt(kp, "rename one of them", "context %q is both a value and a file", k)
		}
		abs := l.abs(s)
		fi, err := os.Stat(abs)
		switch {
		case err != nil:
			return nil, l.errAt(kp, "paths are relative to the experiment file's directory, "+l.dir, "context file %s: %s", s, reason(err))
		case !fi.Mode().IsRegular():
			return nil, l.errAt(kp, "", "context file %s is not a regular file", s)
		}
		if f, err := os.Open(abs); err != nil {
			return nil, l.errAt(kp, "", "context file %s: %s", s, reason(err))
		} else {
			f.Close()
		}
		out[k] = launcher.File(abs)
		names = append(names, paramName{k, kp})
	}
	if err := l.checkNames("context entry", names, command.ContextEnv); err != nil {
		return nil, err
	}
	return out, nil
}

// paramContextClash refuses a name that is both a param and a context
// entry: one is fixed for the sweep, the other varies, and an operation
// reading it could not tell which it got.
func (l *loader) paramContextClash(exp *launcher.Experiment) error {
	if exp.Params == nil || len(exp.Context) == 0 || exp.Params.Len() == 0 {
		return nil
	}
	for name := range exp.Params.At(0) {
		if _, ok := exp.Context[name]; ok {
			at := path{"context", name}
			if _, isFile := exp.Context[name].(launcher.File); isFile {
				at = path{"context", "files", name}
			}
			return l.errAt(at, "rename one of them: context holds what every run shares, params what varies",
				"%q is both a param and a context entry", name)
		}
	}
	return nil
}

func (l *loader) slurm(raw map[string]any) (slurm.Settings, error) {
	var s slurm.Settings
	p := path{"slurm"}
	t, _, err := l.table(raw, p)
	if err != nil || t == nil {
		return s, err
	}
	rv := reflect.ValueOf(&s).Elem()
	rt := rv.Type()
	for i := 0; i < rt.NumField(); i++ {
		tag := rt.Field(i).Tag.Get("toml")
		v, ok := t[tag]
		if tag == "" || !ok {
			continue
		}
		kp := p.key(tag)
		f := rv.Field(i)
		switch f.Kind() {
		case reflect.String:
			x, ok := v.(string)
			if !ok {
				advice := ""
				if n, num := v.(int64); num {
					advice = fmt.Sprintf("quote it: %s = \"%d\"", tag, n)
				}
				return s, l.typeErr(kp, "a string", v, advice)
			}
			f.SetString(x)
		case reflect.Int:
			x, ok := v.(int64)
			if !ok {
				return s, l.typeErr(kp, "an integer", v, "")
			}
			if x < 0 || x > math.MaxInt32 {
				return s, l.errAt(kp, "", "%s is %d; want a positive integer", kp, x)
			}
			f.SetInt(x)
		case reflect.Bool:
			x, ok := v.(bool)
			if !ok {
				return s, l.typeErr(kp, "true or false", v, "")
			}
			f.SetBool(x)
		case reflect.Slice:
			a, ok := array(v)
			if !ok {
				return s, l.typeErr(kp, "an array of strings", v, fmt.Sprintf("%s = [%s]", tag, tomlish(v)))
			}
			strs := make([]string, len(a))
			for j, e := range a {
				if strs[j], ok = e.(string); !ok {
					return s, l.typeErr(kp.index(j), "a string", e, "")
				}
			}
			f.Set(reflect.ValueOf(strs))
		}
	}
	if s.Template != "" {
		s.Template = l.abs(s.Template)
		if _, err := os.Stat(s.Template); err != nil {
			return s, l.errAt(p.key("template"), "the template path is relative to the experiment file", "slurm.template: %s", reason(err))
		}
	}
	if err := s.Validate(); err != nil {
		at := p
		var se *slurm.SettingsError
		if errors.As(err, &se) {
			key, idx, _ := strings.Cut(se.Key, "[")
			at = p.key(key)
			if idx != "" {
				at = at.key("[" + idx)
			}
		}
		e := l.errAt(at, "", "%v", err)
		e.Err = err
		return s, e
	}
	return s, nil
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

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
