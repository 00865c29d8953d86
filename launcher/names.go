package launcher

import (
	"fmt"
	"math"
	"reflect"
	"strings"
)

// What the Go API's methods that take a param or metric name check it
// against, so that they err as the command line does ("no param nn; params
// in this store: lr, n") instead of finding nothing.

// knownNames are the param, metric and series names of a set of runs.
type knownNames struct {
	runs                    int
	params, metrics, series map[string]bool
}

// names returns the names r checks against: those of the results r was
// derived from, or r's own.
func (r *Results) names() *knownNames {
	r.mu.Lock()
	k := r.known
	r.mu.Unlock()
	if k != nil {
		return k
	}
	k = r.ownNames()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.known == nil {
		r.known = k
	}
	return r.known
}

// ownNames are the names that r's own runs have: a param or metric
// column counts if one of the rows has a value in it; series are those of
// the records read in full (no other has one).
func (r *Results) ownNames() *knownNames {
	t, rows := r.view()
	k := &knownNames{runs: len(rows), params: map[string]bool{}, metrics: map[string]bool{}, series: map[string]bool{}}
	all := len(rows) == t.n
	for _, c := range t.params {
		if all {
			// Every column has a value in some row.
			k.params[c.name] = true
			continue
		}
		for _, i := range rows {
			if c.ids[i] != 0 {
				k.params[c.name] = true
				break
			}
		}
	}
	for _, c := range t.metrics {
		if all {
			k.metrics[c.name] = true
			continue
		}
		for _, i := range rows {
			if _, ok := c.value(i); ok {
				k.metrics[c.name] = true
				break
			}
		}
	}
	if t.recs != nil || len(t.full) > 0 {
		for _, i := range rows {
			rec := t.fullRecord(i)
			if rec == nil {
				continue
			}
			for m := range rec.Series {
				k.series[m] = true
			}
		}
	}
	return k
}

// param checks a param name. Of no runs at all, every name is as good as
// another: nothing to tell a typo by.
func (k *knownNames) param(name string) error {
	if k.runs == 0 || k.params[name] {
		return nil
	}
	return unknownName("param", name, k.params, "")
}

// metric checks a metric name (a final value, not a series).
func (k *knownNames) metric(name string) error {
	if k.runs == 0 || k.metrics[name] {
		return nil
	}
	hint := ""
	if k.series[name] {
		hint = fmt.Sprintf("%q is a series (a metric with steps): SeriesSummary(%q) summarises it per step", name, name)
	}
	return unknownName("metric", name, k.metrics, hint)
}

// seriesName checks the name of a series.
func (k *knownNames) seriesName(name string) error {
	if k.runs == 0 || k.series[name] {
		return nil
	}
	hint := ""
	if k.metrics[name] {
		hint = fmt.Sprintf("%q is a metric without steps: Summary summarises it", name)
	}
	return unknownName("series", name, k.series, hint)
}

// unknownName is the error of a name that is none of names, with a
// did-you-mean hint and the names there are (hint, if given, instead).
func unknownName(kind, name string, names map[string]bool, hint string) error {
	list := sortedKeys(names)
	kinds := kind + "s"
	if kind == "series" {
		kinds = kind
	}
	if hint == "" {
		hint = fmt.Sprintf("%s of these runs: %s", kinds, strings.Join(list, ", "))
		if len(list) == 0 {
			hint = fmt.Sprintf("these runs have no %s", kind)
		}
		if best := closest(name, list); best != "" {
			hint = fmt.Sprintf("did you mean %s? %s", best, hint)
		}
	}
	return usageErr(hint, "no %s %q in the results", kind, name)
}

// numeric is a number of any Go type, as an integer when it is one, so that
// 100, int64(100), uint8(100) and 100.0 are the same value and large
// integers keep their precision.
type numeric struct {
	isInt bool
	i     int64
	f     float64
}

// number converts v to a numeric, if it is a number (of any integer or
// float type). NaN is no number: it equals nothing.
func number(v any) (numeric, bool) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return numeric{isInt: true, i: rv.Int(), f: float64(rv.Int())}, true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := rv.Uint()
		if u > math.MaxInt64 {
			return numeric{f: float64(u)}, true
		}
		return numeric{isInt: true, i: int64(u), f: float64(u)}, true
	case reflect.Float32, reflect.Float64:
		f := rv.Float()
		if math.IsNaN(f) {
			return numeric{}, false
		}
		if f == math.Trunc(f) && math.Abs(f) < 1<<63 {
			return numeric{isInt: true, i: int64(f), f: f}, true
		}
		return numeric{f: f}, true
	}
	return numeric{}, false
}

// equal reports whether two numbers are the same value.
func (a numeric) equal(b numeric) bool {
	if a.isInt && b.isInt {
		return a.i == b.i
	}
	return a.f == b.f
}
