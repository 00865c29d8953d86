package expfile

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/metalab-hpc/metalab/command"
	"github.com/metalab-hpc/metalab/params"
)

// params reads [params]: one source of points, a grid, a random search or a
// list of cases, whose names must make distinct environment variables.
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

// grid reads [params.grid]: one axis per param, each a non-empty array.
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

// distNames are the distributions of a random search, for hints.
var distNames = []string{"uniform", "loguniform", "loguniform_int", "randint", "choice"}

// random reads [params.random]: n_trials points drawn from a space of one
// distribution per param, with an optional seed.
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

// dist reads one distribution of a random search's space, refusing keys
// its kind does not take.
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
		if k != "dist" && !slices.Contains(keys, k) {
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

// float reads a number, integer or not.
func (l *loader) float(p path, v any) (float64, error) {
	switch x := v.(type) {
	case int64:
		return float64(x), nil
	case float64:
		return x, nil
	}
	return 0, l.typeErr(p, "a number", v, "")
}

// cases reads [[params.cases]]: one point per table. Two equal cases are
// refused, as their runs would share run IDs.
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
