package launcher

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// What `results --where`, `--sort` and `--columns` do to a store's runs.
// They name columns as the CSV header does (run_id, status, a param, a
// metric, duration_s, error, ...; a param or metric whose name clashes
// with another column by its prefixed header), so that what a person reads
// in one output they can write in the next command.

// query is the parsed --where, --sort and --columns of results.
type query struct {
	where   []condition
	sort    []sortKey
	columns []string // headers; nil: the format's own
}

func (q query) empty() bool { return len(q.where) == 0 && len(q.sort) == 0 && q.columns == nil }

// condition is one --where: NAME OP VALUE.
type condition struct {
	text  string // as given, for messages
	name  string
	op    string // = != < <= > >=
	value string
	col   column // resolved against the runs' columns
}

// sortKey is one key of --sort: a column, descending if written -NAME.
type sortKey struct {
	name string
	desc bool
	col  column
}

// compareOps are the operators of --where, longest first so that "<="
// is not read as "<" and "=...".
var compareOps = []string{"==", "!=", "<=", ">=", "=", "<", ">"}

// parseQuery parses the flags; names are checked against the runs later
// ([query.resolve]), when they are known.
func parseQuery(where []string, sortBy, columns string) (query, error) {
	var q query
	for _, w := range where {
		i := strings.IndexAny(w, "=!<>")
		if i <= 0 {
			return q, usageErr("write NAME=VALUE, or compare a metric or param: 'pi_estimate>3', 'n_samples<=1000', 'status!=completed'",
				"--where %q: no comparison", w)
		}
		c := condition{text: w, name: strings.TrimSpace(w[:i])}
		for _, op := range compareOps {
			if strings.HasPrefix(w[i:], op) {
				c.op, c.value = op, strings.TrimSpace(w[i+len(op):])
				break
			}
		}
		if c.op == "" || strings.ContainsAny(c.value[:min(1, len(c.value))], "=<>") {
			return q, usageErr("the comparisons are =, !=, <, <=, > and >=", "--where %q: no comparison operator", w)
		}
		if c.op == "==" {
			c.op = "="
		}
		q.where = append(q.where, c)
	}
	for _, k := range splitList(sortBy) {
		key := sortKey{name: k}
		if strings.HasPrefix(k, "-") {
			key.name, key.desc = k[1:], true
		}
		q.sort = append(q.sort, key)
	}
	if columns != "" {
		q.columns = splitList(columns)
		if len(q.columns) == 0 {
			return q, usageErr("name columns as the CSV header does: --columns run_id,status,pi_estimate", "--columns names no column")
		}
	}
	return q, nil
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// resolve finds the columns that q names among cols.
func (q *query) resolve(cols []column) error {
	for i := range q.where {
		c, err := findColumn(cols, q.where[i].name, "--where "+strconv.Quote(q.where[i].text))
		if err != nil {
			return err
		}
		q.where[i].col = c
	}
	for i := range q.sort {
		c, err := findColumn(cols, q.sort[i].name, "--sort")
		if err != nil {
			return err
		}
		q.sort[i].col = c
	}
	for _, name := range q.columns {
		if _, err := findColumn(cols, name, "--columns"); err != nil {
			return err
		}
	}
	return nil
}

// findColumn finds the column named name: by its header, or by the plain
// name of a param or metric whose header is prefixed, if only one has it.
func findColumn(cols []column, name, flag string) (column, error) {
	var plain []column
	for _, c := range cols {
		if c.header == name {
			return c, nil
		}
		if c.kind != 'f' && c.name == name {
			plain = append(plain, c)
		}
	}
	switch len(plain) {
	case 1:
		return plain[0], nil
	case 2:
		return column{}, usageErr(fmt.Sprintf("write %s or %s", plain[0].header, plain[1].header),
			"%s: %q is both a param and a metric", flag, name)
	}
	var headers []string
	for _, c := range cols {
		headers = append(headers, c.header)
	}
	hint := "the columns: " + strings.Join(headers, ", ")
	if best := closest(name, headers); best != "" {
		hint = fmt.Sprintf("did you mean %s? %s", best, hint)
	}
	return column{}, usageErr(hint, "%s: no column %q in the store's results", flag, name)
}

// match reports whether run meets the condition. A run without the param
// or metric meets none (a failed run has no metrics to compare).
func (c condition) match(run *Record) bool {
	got, ok := cellValue(run, c.col)
	if !ok {
		return false
	}
	var cmp int
	gf, gNum := parseNumber(got)
	wf, wNum := parseNumber(c.value)
	switch {
	case gNum && wNum:
		cmp = compareFloats(gf, wf)
	default:
		cmp = strings.Compare(got, c.value)
	}
	switch c.op {
	case "=":
		return cmp == 0
	case "!=":
		return cmp != 0
	case "<":
		return cmp < 0
	case "<=":
		return cmp <= 0
	case ">":
		return cmp > 0
	case ">=":
		return cmp >= 0
	}
	return false
}

// cellValue is a run's value in a column as the CSV export writes it, and
// whether the run has one: a param or metric it lacks (or a null metric)
// is no value.
func cellValue(run *Record, c column) (string, bool) {
	switch c.kind {
	case 'p':
		if _, ok := run.Params[c.name]; !ok {
			return "", false
		}
	case 'm':
		v, ok := run.Metrics[c.name]
		if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
			return "", false
		}
	}
	return cell(run, c), true
}

func parseNumber(s string) (float64, bool) {
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil && !math.IsNaN(f)
}

func compareFloats(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// apply filters and sorts res, and returns the columns to write (nil: the
// format's own).
func (q query) apply(res *Results) (*Results, []column, error) {
	all := res.columns()
	if err := q.resolve(all); err != nil {
		if res.Len() == 0 {
			// Nothing to name in an empty store: nothing to print.
			return res, nil, nil
		}
		return nil, nil, err
	}
	if len(q.where) > 0 {
		res = res.Filter(func(run *Record) bool {
			for _, c := range q.where {
				if !c.match(run) {
					return false
				}
			}
			return true
		})
	}
	if len(q.sort) > 0 {
		_, rows := res.view()
		runs := res.list()
		order := make([]int, len(rows))
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(i, j int) bool { return q.less(runs[order[i]], runs[order[j]]) })
		sorted := make([]int32, len(rows))
		for k, i := range order {
			sorted[k] = rows[i]
		}
		res = res.derive(sorted)
	}
	if q.columns == nil {
		return res, nil, nil
	}
	cols := make([]column, len(q.columns))
	for i, name := range q.columns {
		cols[i], _ = findColumn(all, name, "--columns")
	}
	return res, cols, nil
}

// less orders two runs by the sort keys: numbers numerically, other values
// as text, and a run without a value last whichever the direction.
func (q query) less(a, b *Record) bool {
	for _, k := range q.sort {
		av, aok := cellValue(a, k.col)
		bv, bok := cellValue(b, k.col)
		switch {
		case !aok && !bok:
			continue
		case !aok:
			return false
		case !bok:
			return true
		}
		af, aNum := parseNumber(av)
		bf, bNum := parseNumber(bv)
		c := strings.Compare(av, bv)
		if aNum && bNum {
			c = compareFloats(af, bf)
		}
		if c == 0 {
			continue
		}
		return (c < 0) != k.desc
	}
	return false
}
