package report

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"

	"github.com/metalab-hpc/metalab/params"
)

// The charts of an experiment, made of what [Gather] folded: metric
// against param, series, param importance and parallel coordinates.

// experiment is the charts of one experiment version, and notes on what
// they aggregated.
func (e *expAcc) experiment() (Experiment, []string) {
	x := Experiment{Name: e.name, Version: e.version, Runs: e.runs, Counts: e.counts,
		Params: []Param{}, Metrics: sortedKeys(e.metrics), Curves: []Curve{}, Series: []Series{}, Importance: []Importance{}}
	var notes []string
	name := ref(e.name, e.version)
	infos := map[string]Param{}
	for _, pn := range sortedKeys(e.params) {
		p := e.params[pn]
		n := len(p.distinct)
		info := Param{Name: pn, NValues: n, Numeric: p.numeric}
		if p.numeric {
			info.Binned = n > MaxXValues
			info.Log = p.lo > 0 && p.hi/p.lo >= 100
		}
		info.Group = n >= 2 && n <= MaxGroupValues
		infos[pn] = info
		x.Params = append(x.Params, info)
	}

	eta := map[string]map[string]Num{} // metric -> param -> η²
	for _, info := range x.Params {
		p := e.params[info.Name]
		if p.noCurves || !info.Numeric && info.NValues > MaxXValues {
			continue
		}
		if info.Binned {
			notes = append(notes, fmt.Sprintf("%s: param %s has %d distinct values; its plots put them in %d %sbins, each point at the mean value of its bin.",
				name, info.Name, info.NValues, MaxXValues, map[bool]string{true: "logarithmic ", false: ""}[info.Log]))
		}
		groups := p.points(info, p.byX)
		x.Curves = append(x.Curves, curves(groups, info.Name, "")...)
		for m, v := range etaSquared(groups) {
			if eta[m] == nil {
				eta[m] = map[string]Num{}
			}
			eta[m][info.Name] = v
		}
		for _, gname := range sortedKeys(p.byXG) {
			if gi := infos[gname]; !gi.Group || p.byXG[gname] == nil {
				continue
			}
			x.Curves = append(x.Curves, curves(p.points(info, p.byXG[gname]), info.Name, gname)...)
		}
	}
	for _, m := range x.Metrics {
		imp := Importance{Metric: m, Ranking: []ParamRank{}}
		for p, v := range eta[m] {
			imp.Ranking = append(imp.Ranking, ParamRank{Param: p, Eta2: v})
		}
		sort.Slice(imp.Ranking, func(i, j int) bool {
			a, b := float64(imp.Ranking[i].Eta2), float64(imp.Ranking[j].Eta2)
			if a != b && !math.IsNaN(a) && !math.IsNaN(b) {
				return a > b
			}
			return imp.Ranking[i].Param < imp.Ranking[j].Param
		})
		x.Importance = append(x.Importance, imp)
	}

	for _, sname := range sortedKeys(e.series) {
		s := e.series[sname]
		kept := keptSteps(s.all)
		x.Series = append(x.Series, seriesOf(sname, "", []*seriesLine{{steps: s.all}}, kept, len(s.all)))
		switch {
		case s.stride > 1:
			notes = append(notes, fmt.Sprintf("%s: series %s has more than %d distinct steps; they are grouped by %d (each point is the mean over its group of steps, at the group's first step), and %d evenly spaced groups are drawn.",
				name, sname, maxStepKeys, s.stride, min(len(s.all), MaxSteps)))
		case len(s.all) > MaxSteps:
			notes = append(notes, fmt.Sprintf("%s: series %s has %d distinct steps; %d evenly spaced ones are drawn.", name, sname, len(s.all), MaxSteps))
		}
		for _, gname := range sortedKeys(s.by) {
			if !infos[gname].Group {
				continue
			}
			var lines []*seriesLine
			for _, l := range s.by[gname] {
				lines = append(lines, l)
			}
			x.Series = append(x.Series, seriesOf(sname, gname, lines, kept, len(s.all)))
		}
	}

	x.Parallel = e.parallelData(x.Params, x.Metrics)
	if n := len(x.Parallel.Metrics[firstOr(x.Metrics)]); x.Parallel.Of > n && n > 0 {
		notes = append(notes, fmt.Sprintf("%s: parallel coordinates draw %d of the %d completed runs, an even sample.", name, n, x.Parallel.Of))
	}
	return x, notes
}

func firstOr(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// points turns groups (byX, or byXG of one g) into the points of the
// curves against param p: for a binned param, the groups merged by bin,
// each at the mean value of its runs.
func (p *paramAcc) points(info Param, groups map[string]*xGroup) []*xGroup {
	var out []*xGroup
	if !info.Binned {
		for _, grp := range groups {
			x := grp.x
			if p.quantized && grp.nX > 0 {
				x = grp.sumX / float64(grp.nX)
			}
			out = append(out, &xGroup{x: x, g: grp.g, sumX: grp.sumX, nX: grp.nX, metrics: grp.metrics})
		}
		return out
	}
	lo, hi := p.lo, p.hi
	tr := func(v float64) float64 { return v }
	if info.Log {
		tr = math.Log
		lo, hi = math.Log(lo), math.Log(hi)
	}
	bin := func(v float64) int {
		if hi <= lo {
			return 0
		}
		return max(min(int((tr(v)-lo)/(hi-lo)*MaxXValues), MaxXValues-1), 0)
	}
	merged := map[string]*xGroup{}
	for _, grp := range groups {
		if grp.nX == 0 {
			continue
		}
		k := strconv.Itoa(bin(grp.sumX/float64(grp.nX))) + "\x00" + params.Format(grp.g)
		m := merged[k]
		if m == nil {
			m = &xGroup{g: grp.g, metrics: map[string]*welford{}}
			merged[k] = m
		}
		m.merge(grp)
	}
	for _, m := range merged {
		m.x = m.sumX / float64(m.nX)
		out = append(out, m)
	}
	return out
}

// curves is one curve per metric of the groups against x, one line per
// value of g.
func curves(groups []*xGroup, x, g string) []Curve {
	type lineKey struct{ metric, group string }
	lines := map[lineKey]*Line{}
	for _, grp := range groups {
		for m, w := range grp.metrics {
			if w.n == 0 {
				continue
			}
			var gv any
			if g != "" {
				gv = grp.g
			}
			k := lineKey{m, params.Format(gv)}
			l := lines[k]
			if l == nil {
				l = &Line{G: gv}
				lines[k] = l
			}
			mean, lo, hi := w.ci()
			l.X = append(l.X, grp.x)
			l.N = append(l.N, w.n)
			l.Mean = append(l.Mean, Num(mean))
			l.Lo = append(l.Lo, Num(lo))
			l.Hi = append(l.Hi, Num(hi))
		}
	}
	byMetric := map[string][]Line{}
	for k, l := range lines {
		sortLine(l)
		byMetric[k.metric] = append(byMetric[k.metric], *l)
	}
	var out []Curve
	for _, m := range sortedKeys(byMetric) {
		ls := byMetric[m]
		sort.SliceStable(ls, func(a, b int) bool { return params.Compare(ls[a].G, ls[b].G) < 0 })
		out = append(out, Curve{Metric: m, X: x, Group: g, Lines: ls})
	}
	return out
}

// sortLine orders a line's points by x.
func sortLine(l *Line) {
	idx := make([]int, len(l.X))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return params.Compare(l.X[idx[a]], l.X[idx[b]]) < 0 })
	x, n, mean, lo, hi := slices.Clone(l.X), slices.Clone(l.N), slices.Clone(l.Mean), slices.Clone(l.Lo), slices.Clone(l.Hi)
	for i, j := range idx {
		l.X[i], l.N[i], l.Mean[i], l.Lo[i], l.Hi[i] = x[j], n[j], mean[j], lo[j], hi[j]
	}
}

// etaSquared is, per metric, the share of the variance of its values that
// the groups explain: the between-group sum of squares over the total.
func etaSquared(groups []*xGroup) map[string]Num {
	tot := map[string]*welford{}
	for _, grp := range groups {
		for m, w := range grp.metrics {
			if tot[m] == nil {
				tot[m] = &welford{}
			}
			tot[m].merge(*w)
		}
	}
	out := map[string]Num{}
	for m, t := range tot {
		if t.n == 0 {
			continue
		}
		var within float64
		for _, grp := range groups {
			if w := grp.metrics[m]; w != nil {
				within += w.m2
			}
		}
		// The total sum of squares is t.m2; between is the rest.
		if t.m2 <= 0 {
			out[m] = 0
			continue
		}
		out[m] = Num(max(t.m2-within, 0) / t.m2)
	}
	return out
}

// keptSteps is the steps drawn: all of them, or MaxSteps evenly spaced.
func keptSteps(steps map[int64]*welford) []int64 {
	all := make([]int64, 0, len(steps))
	for s := range steps {
		all = append(all, s)
	}
	slices.Sort(all)
	if len(all) <= MaxSteps {
		return all
	}
	kept := make([]int64, 0, MaxSteps)
	for i := range MaxSteps {
		s := all[i*(len(all)-1)/(MaxSteps-1)]
		if len(kept) == 0 || kept[len(kept)-1] != s {
			kept = append(kept, s)
		}
	}
	return kept
}

func seriesOf(name, g string, lines []*seriesLine, kept []int64, steps int) Series {
	out := Series{Metric: name, Group: g, Steps: steps, Lines: []Line{}}
	for _, sl := range lines {
		l := Line{G: sl.g}
		for _, step := range kept {
			w := sl.steps[step]
			if w == nil || w.n == 0 {
				continue
			}
			mean, lo, hi := w.ci()
			l.X = append(l.X, step)
			l.N = append(l.N, w.n)
			l.Mean = append(l.Mean, Num(mean))
			l.Lo = append(l.Lo, Num(lo))
			l.Hi = append(l.Hi, Num(hi))
		}
		out.Lines = append(out.Lines, l)
	}
	sort.SliceStable(out.Lines, func(a, b int) bool { return params.Compare(out.Lines[a].G, out.Lines[b].G) < 0 })
	return out
}

// parallelData is the sampled completed runs, by column.
func (e *expAcc) parallelData(infos []Param, metrics []string) Parallel {
	rows := e.parallel.sample(MaxParallelRuns)
	p := Parallel{Of: e.completed, Params: map[string][]any{}, Metrics: map[string][]Num{}}
	for _, info := range infos {
		if !info.Numeric && info.NValues > MaxXValues {
			continue
		}
		col := make([]any, len(rows))
		for i, r := range rows {
			col[i] = r.params[info.Name]
		}
		p.Params[info.Name] = col
	}
	for _, m := range metrics {
		col := make([]Num, len(rows))
		for i, r := range rows {
			v, ok := r.metrics[m]
			if !ok {
				v = math.NaN()
			}
			col[i] = Num(v)
		}
		p.Metrics[m] = col
	}
	return p
}
