package launcher

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/metalab-hpc/metalab/internal/tdist"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/store"
)

// GroupStat summarises one metric over the completed runs of one group
// (typically the seed replicates of one param point). A group without a
// completed run that has a metric (all its runs failed, say) has one
// GroupStat of its own, with no Metric and N 0, so that it is not missing
// from the summary: its Runs say what became of them.
type GroupStat struct {
	// Experiment and Version are the group's experiment version when the
	// results hold several: runs of two are never pooled. Empty otherwise.
	Experiment string       `json:"experiment,omitempty"`
	Version    string       `json:"version,omitempty"`
	Group      params.Point `json:"group"`
	Metric     string       `json:"metric"` // "" (null in JSON): the group has no values
	// Step is the step of a series' point ([Results.SeriesSummary]); nil
	// for a metric without steps.
	Step   *int64  `json:"step,omitempty"`
	N      int     `json:"n"`
	Mean   float64 `json:"mean"`
	Std    float64 `json:"std"`     // sample standard deviation (n-1)
	CILow  float64 `json:"ci_low"`  // 95% confidence interval of the mean,
	CIHigh float64 `json:"ci_high"` // Student's t with n-1 degrees of freedom
	// Runs counts the group's runs by status, the failed ones included.
	Runs map[store.Status]int `json:"runs"`
}

// Summary groups the runs by the given params and returns, per group and
// metric, the count, mean, standard deviation and 95% confidence interval
// of the mean over the completed runs. Null metric values are left out. A
// group none of whose runs completed with a metric is listed too, with an
// empty Metric (see [GroupStat]). Runs of several experiment versions are
// grouped by experiment and version first. A param that no run has is an
// error (see [Results]): Summary returns nil, and Err says so.
func (r *Results) Summary(groupBy ...string) []GroupStat {
	if err := r.checkParams(groupBy); err != nil {
		r.setErr(err)
		return nil
	}
	t, _ := r.view()
	names := make([]string, len(t.metrics))
	for i, c := range t.metrics {
		names[i] = c.name
	}
	return r.summarise(groupBy, names, func(row int32, add func(int, *int64, float64)) {
		for i, c := range t.metrics {
			if v, ok := c.value(row); ok {
				add(i, nil, v)
			}
		}
	})
}

// SeriesSummary is [Results.Summary] of one series (a metric recorded with
// capture.Step): per group and step, the count, mean, standard deviation
// and 95% confidence interval over the completed runs that have a value at
// that step (the last one, if a run recorded a step twice). Each GroupStat
// has its Step. A series or param that no run has is an error (see
// [Results]).
func (r *Results) SeriesSummary(metric string, groupBy ...string) []GroupStat {
	err := r.names().seriesName(metric)
	if err == nil {
		err = r.checkParams(groupBy)
	}
	if err != nil {
		r.setErr(err)
		return nil
	}
	t, _ := r.view()
	return r.summarise(groupBy, []string{metric}, func(row int32, add func(int, *int64, float64)) {
		run := t.fullRecord(row)
		if run == nil {
			return // no series: see table.go
		}
		points := run.Series[metric]
		last := make(map[int64]int, len(points))
		for i, p := range points {
			last[p.Step] = i
		}
		for i, p := range points {
			if last[p.Step] == i && p.Value != nil {
				add(0, &p.Step, *p.Value)
			}
		}
	})
}

// checkParams checks the names of groupBy.
func (r *Results) checkParams(groupBy []string) error {
	for _, g := range groupBy {
		if err := r.names().param(g); err != nil {
			return err
		}
	}
	return nil
}

// summarise is Summary and SeriesSummary: values gives each completed
// run's values to add, by metric (an index in metrics) and step (nil: no
// step). It may be called twice a row: the statistics are computed in two
// passes, the mean first, then the squares of the deviations from it.
//
// It reads the table's columns: a group is the run's experiment version
// (when the results hold several) and the value of each groupBy param,
// found by the values' ids, so that a million runs make no key of their
// own.
func (r *Results) summarise(groupBy, metrics []string, values func(row int32, add func(metric int, step *int64, v float64))) []GroupStat {
	t, rows := r.view()
	type key struct {
		group, metric int
		hasStep       bool
		step          int64
	}
	// acc accumulates one group's values of one metric (at one step):
	// pass 1 their count and sum, pass 2 the squares of their deviations.
	type acc struct {
		n        int
		sum, ss  float64
		mean     float64
		key      key
		assigned bool
	}
	type group struct {
		point            params.Point
		experiment, vers string
		expRank          int
		ranks            []int32 // of each groupBy param in name order; -1: none
		counts           map[store.Status]int
		summarised       bool
	}
	several := len(r.Experiments()) > 1
	var cols []*paramCol // of groupBy, nil for a param no row has
	for _, g := range groupBy {
		var c *paramCol
		if i, ok := t.paramIdx[g]; ok {
			c = t.params[i]
		}
		cols = append(cols, c)
	}
	// The order of groups: by experiment, then the groupBy params by name
	// (as comparePoints orders their points).
	byName := make([]int, len(groupBy))
	for i := range byName {
		byName[i] = i
	}
	slices.SortStableFunc(byName, func(a, b int) int { return cmpStr(groupBy[a], groupBy[b]) })
	// The accumulators of values without a step are found by group
	// and metric in dense (len(metrics) a group); those of series by key.
	var dense []acc
	stepped := map[key]*acc{}
	find := func(gi, m int, step *int64) *acc {
		if step == nil {
			a := &dense[gi*len(metrics)+m]
			if !a.assigned {
				a.assigned, a.key = true, key{group: gi, metric: m}
			}
			return a
		}
		k := key{group: gi, metric: m, hasStep: true, step: *step}
		a := stepped[k]
		if a == nil {
			a = &acc{key: k, assigned: true}
			stepped[k] = a
		}
		return a
	}
	rowGroup := make([]int32, len(rows))
	index := map[string]int{}
	var groups []*group
	var kb []byte
	var statusCounts [][256]int
	for k, row := range rows {
		kb = kb[:0]
		if several {
			kb = binary.LittleEndian.AppendUint16(kb, t.exp[row])
		}
		for _, c := range cols {
			var id uint32
			if c != nil && c.ids[row] != 0 {
				id = c.canon[c.ids[row]-1]
			}
			kb = binary.LittleEndian.AppendUint32(kb, id)
		}
		gi, ok := index[string(kb)]
		if !ok {
			g := &group{point: params.Point{}}
			for k, name := range groupBy {
				if c := cols[k]; c != nil {
					if v, ok := c.value(row); ok {
						g.point[name] = v
					}
				}
			}
			for _, k := range byName {
				rank := int32(-1)
				if c := cols[k]; c != nil && c.ids[row] != 0 {
					rank = c.rank[c.ids[row]-1]
				}
				g.ranks = append(g.ranks, rank)
			}
			if several {
				e := t.exps[t.exp[row]]
				g.experiment, g.vers = e.name, e.version
			}
			gi = len(groups)
			index[string(kb)] = gi
			groups = append(groups, g)
			statusCounts = append(statusCounts, [256]int{})
			dense = append(dense, make([]acc, len(metrics))...)
		}
		rowGroup[k] = int32(gi)
		statusCounts[gi][t.status[row]]++
		if t.statusOf(row) != store.StatusCompleted {
			continue
		}
		values(row, func(m int, step *int64, v float64) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return
			}
			a := find(gi, m, step)
			a.n++
			a.sum += v
		})
	}
	for i := range dense {
		if a := &dense[i]; a.n > 0 {
			a.mean = a.sum / float64(a.n)
		}
	}
	for _, a := range stepped {
		a.mean = a.sum / float64(a.n)
	}
	for k, row := range rows {
		if t.statusOf(row) != store.StatusCompleted {
			continue
		}
		gi := int(rowGroup[k])
		values(row, func(m int, step *int64, v float64) {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return
			}
			a := find(gi, m, step)
			a.ss += (v - a.mean) * (v - a.mean)
		})
	}
	for gi, g := range groups {
		g.counts = map[store.Status]int{}
		for i, s := range t.statuses {
			if n := statusCounts[gi][i]; n > 0 {
				g.counts[s] = n
			}
		}
	}
	type stat struct {
		GroupStat
		g *group
	}
	var out []stat
	accs := make([]*acc, 0, len(stepped))
	for i := range dense {
		if dense[i].n > 0 {
			accs = append(accs, &dense[i])
		}
	}
	for _, a := range stepped {
		accs = append(accs, a)
	}
	for _, a := range accs {
		k := a.key
		g := groups[k.group]
		s := GroupStat{Experiment: g.experiment, Version: g.vers, Group: g.point, Metric: metrics[k.metric], N: a.n, Runs: g.counts}
		if k.hasStep {
			s.Step = &k.step
		}
		s.Mean, s.Std = a.mean, math.NaN()
		if a.n > 1 {
			s.Std = math.Sqrt(a.ss / float64(a.n-1))
		}
		half := math.NaN()
		if s.N > 1 {
			half = tdist.Quantile975(s.N-1) * s.Std / math.Sqrt(float64(s.N))
		}
		s.CILow, s.CIHigh = s.Mean-half, s.Mean+half
		out = append(out, stat{s, g})
		g.summarised = true
	}
	for _, g := range groups {
		if !g.summarised {
			nan := math.NaN()
			out = append(out, stat{GroupStat{Experiment: g.experiment, Version: g.vers, Group: g.point, Runs: g.counts,
				Mean: nan, Std: nan, CILow: nan, CIHigh: nan}, g})
		}
	}
	slices.SortFunc(out, func(a, b stat) int {
		if a.Experiment != b.Experiment {
			return cmpStr(a.Experiment, b.Experiment)
		}
		if a.Version != b.Version {
			return cmpStr(a.Version, b.Version)
		}
		for k := range a.g.ranks {
			if c := int(a.g.ranks[k]) - int(b.g.ranks[k]); c != 0 {
				return c
			}
		}
		if a.Metric != b.Metric {
			return cmpStr(a.Metric, b.Metric)
		}
		switch {
		case a.Step != nil && b.Step != nil && *a.Step != *b.Step:
			if *a.Step < *b.Step {
				return -1
			}
			return 1
		}
		return 0
	})
	stats := make([]GroupStat, len(out))
	for i, s := range out {
		stats[i] = s.GroupStat
	}
	return stats
}

// WriteSummary writes stats as an aligned table, its columns named as the
// JSON keys are, led by the experiment and version of stats of several. The
// groups without values follow it, each with what became of its runs.
func WriteSummary(w io.Writer, stats []GroupStat, groupBy []string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	several := slices.ContainsFunc(stats, func(s GroupStat) bool { return s.Experiment != "" })
	stepped := slices.ContainsFunc(stats, func(s GroupStat) bool { return s.Step != nil })
	fmt.Fprintln(tw, strings.Join(summaryHeader(groupBy, several, stepped), "\t"))
	var empty []GroupStat
	for _, s := range stats {
		if s.Metric == "" {
			empty = append(empty, s)
			continue
		}
		var row []string
		if several {
			row = append(row, s.Experiment, s.Version)
		}
		for _, g := range groupBy {
			row = append(row, params.Format(s.Group[g]))
		}
		row = append(row, s.Metric)
		if stepped {
			row = append(row, fmt.Sprint(*s.Step))
		}
		row = append(row, fmt.Sprint(s.N), fmtG(s.Mean), fmtG(s.Std), fmtG(s.CILow), fmtG(s.CIHigh))
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(empty) == 0 {
		return nil
	}
	groups := "1 group"
	if len(empty) > 1 {
		groups = fmt.Sprintf("%d groups", len(empty))
	}
	fmt.Fprintf(w, "\nno completed run with a metric in %s:\n", groups)
	for _, s := range empty {
		var name []string
		if several {
			name = append(name, store.Ref(s.Experiment, s.Version))
		}
		for _, g := range groupBy {
			name = append(name, g+"="+params.Format(s.Group[g]))
		}
		if len(name) == 0 {
			name = []string{"all runs"}
		}
		if _, err := fmt.Fprintf(w, "  %s: %s\n", strings.Join(name, " "), formatCounts(s.Runs)); err != nil {
			return err
		}
	}
	return nil
}

// summaryHeader names the columns of the summary table: the experiment and
// version of stats of several, the group's params, then the statistics. A
// param named as another column gets the prefix "param_", as in the
// results export, so that no two columns have one name.
func summaryHeader(groupBy []string, several, stepped bool) []string {
	stats := []string{"metric", "n", "mean", "std", "ci_low", "ci_high"}
	if stepped {
		stats = slices.Insert(stats, 1, "step")
	}
	var head []string
	if several {
		head = append(head, experimentColumns...)
	}
	for _, g := range groupBy {
		if slices.Contains(experimentColumns, g) || slices.Contains(stats, g) {
			g = "param_" + g
		}
		head = append(head, g)
	}
	return append(head, stats...)
}

// formatCounts writes counts of runs by status: "3 failed, 1 cancelled".
// Completed runs, if any, have no metric.
func formatCounts(c map[store.Status]int) string {
	var parts []string
	for _, st := range []store.Status{store.StatusFailed, store.StatusCancelled, store.StatusRunning} {
		if c[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c[st], st))
		}
	}
	if n := c[store.StatusCompleted]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d completed without a metric", n))
	}
	return strings.Join(parts, ", ")
}

func fmtG(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.6g", v)
}

// MarshalJSON writes undefined statistics (std and interval of a single
// value, all of them for a group without values) and an empty Metric as
// null.
func (s GroupStat) MarshalJSON() ([]byte, error) {
	num := func(v float64) *float64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return &v
	}
	var metric, version *string
	if s.Metric != "" {
		metric = &s.Metric
	}
	if s.Experiment != "" {
		version = &s.Version // "" too: the experiment's version
	}
	return json.Marshal(struct {
		Experiment string               `json:"experiment,omitempty"`
		Version    *string              `json:"version,omitempty"`
		Group      params.Point         `json:"group"`
		Metric     *string              `json:"metric"`
		Step       *int64               `json:"step,omitempty"`
		N          int                  `json:"n"`
		Mean       *float64             `json:"mean"`
		Std        *float64             `json:"std"`
		CILow      *float64             `json:"ci_low"`
		CIHigh     *float64             `json:"ci_high"`
		Runs       map[store.Status]int `json:"runs"`
	}{s.Experiment, version, s.Group, metric, s.Step, s.N, num(s.Mean), num(s.Std), num(s.CILow), num(s.CIHigh), s.Runs})
}
