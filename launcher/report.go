package launcher

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/report"
	"github.com/metalab-hpc/metalab/store"
)

// What `metalab report` shows, aggregated here so that package report only
// draws: the curves of metric against param are [Results.Summary] of the
// param (and of the grouping param), the numbers of `metalab summary`;
// param importance is made of the same groups; series use the same
// interval. Every statistic is over all the runs; only the runs table and
// parallel coordinates are samples, and the page says so.

// Limits on what a report keeps of a run.
const (
	reportErrorCell  = 200  // characters of an error in its table cell
	reportErrorFull  = 4000 // characters of an error in a run's details
	reportTail       = 2000 // bytes of the end of a failed run's stderr
	reportArtifacts  = 20   // artifacts listed per run
	reportSlurmJobs  = 20   // SLURM job IDs named in the overview
	reportOtherHosts = "other hosts"
)

// reportInput is what a report is made of.
type reportInput struct {
	res   *Results
	st    *store.Store // to read the log tails of failed runs; nil: none
	store string       // the store as the user named it
	// linkBase is the store's path relative to the report's directory,
	// for links to artifacts; "" when the report is not beside the store.
	linkBase string
	now      time.Time
}

// buildReport aggregates the runs of in.res into a report's data.
func buildReport(in reportInput) *report.Data {
	runs := in.res.list()
	d := &report.Data{Store: in.store, Generated: in.now, Limits: report.DefaultLimits}
	d.Overview = reportOverview(runs)
	var refs []string
	for i := 0; i < len(runs); {
		j := i
		for j < len(runs) && runs[j].Experiment == runs[i].Experiment && runs[j].Version == runs[i].Version {
			j++
		}
		e, notes := reportExperiment(runs[i].Experiment, runs[i].Version, runs[i:j])
		d.Experiments = append(d.Experiments, e)
		d.Notes = append(d.Notes, notes...)
		refs = append(refs, shownRef(e.Name, e.Version))
		i = j
	}
	switch {
	case len(refs) == 0:
		d.Title = "metalab report: no runs yet"
	case len(refs) <= 3:
		d.Title = "metalab report: " + strings.Join(refs, ", ")
	default:
		d.Title = fmt.Sprintf("metalab report: %d experiments", len(refs))
	}
	d.Table = reportTable(in, runs)
	d.Timing = reportTiming(runs)
	if n := len(d.Table.Rows); n < len(runs) {
		d.Notes = append(d.Notes, fmt.Sprintf("The runs table holds %d of the %d runs: every failed run first (up to %d), then an even sample of the others. 'metalab results --store %s' lists them all.",
			n, len(runs), report.MaxFailedRows, in.store))
	}
	switch {
	case in.linkBase != "":
		d.Notes = append(d.Notes, fmt.Sprintf("Artifacts are linked relative to this file, in %s/: keep the report beside the store.", in.linkBase))
	default:
		d.Notes = append(d.Notes, "Artifacts are named, not linked: the report was not written beside the store (at or above its directory).")
	}
	d.Notes = append(d.Notes, fmt.Sprintf("Every count and statistic is over all %d runs; the page holds aggregates, so its size grows with the number of groups, not of runs.", len(runs)))
	return d
}

func reportOverview(runs []*Record) report.Overview {
	o := report.Overview{Runs: len(runs), Counts: map[string]int{}, MedianSeconds: report.Num(math.NaN()), P95Seconds: report.Num(math.NaN())}
	var durations []float64
	hosts := map[string]int{}
	jobs := map[string]bool{}
	for _, r := range runs {
		o.Counts[string(r.Status)]++
		if d := r.Duration(); d > 0 {
			durations = append(durations, d.Seconds())
			o.TotalSeconds += d.Seconds()
		}
		if !r.Started.IsZero() && (o.First.IsZero() || r.Started.Before(o.First)) {
			o.First = r.Started
		}
		if w := r.When(); w.After(o.Last) {
			o.Last = w
		}
		if r.Host != "" {
			hosts[r.Host]++
		}
		if j := cmp.Or(r.SlurmArrayJobID, r.SlurmJobID); j != "" {
			jobs[j] = true
		}
	}
	if len(durations) > 0 {
		slices.Sort(durations)
		o.MedianSeconds = report.Num(quantile(durations, 0.5))
		o.P95Seconds = report.Num(quantile(durations, 0.95))
	}
	o.NHosts = len(hosts)
	for _, h := range sortedByCount(hosts) {
		if len(o.Hosts) == report.MaxHosts {
			break
		}
		o.Hosts = append(o.Hosts, h)
	}
	o.NSlurmJobs = len(jobs)
	ids := sortedKeys(jobs)
	sort.SliceStable(ids, func(i, j int) bool { return len(ids[i]) < len(ids[j]) }) // numeric order for numbers
	if len(ids) > reportSlurmJobs {
		ids = ids[:reportSlurmJobs]
	}
	o.SlurmJobs = ids
	if o.Hosts == nil {
		o.Hosts = []string{}
	}
	return o
}

// quantile is the q quantile of sorted values, interpolated linearly.
func quantile(sorted []float64, q float64) float64 {
	pos := q * float64(len(sorted)-1)
	i := int(pos)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (pos-float64(i))*(sorted[i+1]-sorted[i])
}

// sortedByCount is the keys of counts, the largest count first.
func sortedByCount(counts map[string]int) []string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if a, b := counts[keys[i]], counts[keys[j]]; a != b {
			return a > b
		}
		return keys[i] < keys[j]
	})
	return keys
}

// paramInfo is what a report needs to know of a param's values.
type paramInfo struct {
	report.Param
	lo, hi float64 // numeric params: the range
}

// reportExperiment is the charts of one experiment version, and notes on
// what they aggregated.
func reportExperiment(name, version string, runs []*Record) (report.Experiment, []string) {
	e := report.Experiment{Name: name, Version: version, Runs: len(runs), Counts: map[string]int{},
		Params: []report.Param{}, Metrics: []string{}, Curves: []report.Curve{}, Series: []report.Series{}, Importance: []report.Importance{}}
	var notes []string
	ref := shownRef(name, version)
	completed := &Results{}
	metricSet, seriesSet := map[string]bool{}, map[string]bool{}
	for _, r := range runs {
		e.Counts[string(r.Status)]++
		if r.Status != store.StatusCompleted {
			continue
		}
		completed.runs = append(completed.runs, r)
		for m := range r.Metrics {
			metricSet[m] = true
		}
		for s := range r.Series {
			seriesSet[s] = true
		}
	}
	e.Metrics = sortedKeys(metricSet)
	infos := reportParams(runs)
	for _, p := range infos {
		e.Params = append(e.Params, p.Param)
	}

	// Metric against param: the groups of `summary --group-by X[,G]`.
	eta := map[string]map[string]report.Num{} // metric -> param -> η²
	for _, x := range infos {
		if !x.Numeric && x.NValues > report.MaxXValues {
			continue // many distinct strings: nothing to draw them against
		}
		base := completed
		if x.Binned {
			base = binned(completed, x)
			notes = append(notes, fmt.Sprintf("%s: param %s has %d distinct values; its plots put them in %d %sbins, each point at the mean value of its bin.",
				ref, x.Name, x.NValues, report.MaxXValues, map[bool]string{true: "logarithmic ", false: ""}[x.Log]))
		}
		groups := []string{""}
		for _, g := range infos {
			if g.Group && g.Name != x.Name {
				groups = append(groups, g.Name)
			}
		}
		for _, g := range groups {
			by := []string{x.Name}
			if g != "" {
				by = append(by, g)
			}
			stats := base.Summary(by...)
			e.Curves = append(e.Curves, curves(stats, x.Name, g)...)
			if g == "" {
				for m, v := range etaSquared(stats) {
					if eta[m] == nil {
						eta[m] = map[string]report.Num{}
					}
					eta[m][x.Name] = v
				}
			}
		}
	}
	for _, m := range e.Metrics {
		imp := report.Importance{Metric: m, Ranking: []report.ParamRank{}}
		for p, v := range eta[m] {
			imp.Ranking = append(imp.Ranking, report.ParamRank{Param: p, Eta2: v})
		}
		sort.Slice(imp.Ranking, func(i, j int) bool {
			a, b := float64(imp.Ranking[i].Eta2), float64(imp.Ranking[j].Eta2)
			if a != b && !math.IsNaN(a) && !math.IsNaN(b) {
				return a > b
			}
			return imp.Ranking[i].Param < imp.Ranking[j].Param
		})
		e.Importance = append(e.Importance, imp)
	}

	for _, s := range sortedKeys(seriesSet) {
		groups := []string{""}
		for _, g := range infos {
			if g.Group {
				groups = append(groups, g.Name)
			}
		}
		for _, g := range groups {
			sr := seriesCurve(completed.runs, s, g)
			e.Series = append(e.Series, sr)
			if g == "" && sr.Steps > report.MaxSteps {
				notes = append(notes, fmt.Sprintf("%s: series %s has %d distinct steps; %d evenly spaced ones are drawn.", ref, s, sr.Steps, report.MaxSteps))
			}
		}
	}
	e.Parallel = parallelSample(completed.runs, infos, e.Metrics)
	if n := len(e.Parallel.Metrics[firstOr(e.Metrics)]); e.Parallel.Of > n && n > 0 {
		notes = append(notes, fmt.Sprintf("%s: parallel coordinates draw %d of the %d completed runs, an even sample.", ref, n, e.Parallel.Of))
	}
	return e, notes
}

func firstOr(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// reportParams describes the params of runs, by name.
func reportParams(runs []*Record) []paramInfo {
	type acc struct {
		values  map[string]bool
		numeric bool
		lo, hi  float64
	}
	accs := map[string]*acc{}
	for _, r := range runs {
		for k, v := range r.Params {
			a := accs[k]
			if a == nil {
				a = &acc{values: map[string]bool{}, numeric: true, lo: math.Inf(1), hi: math.Inf(-1)}
				accs[k] = a
			}
			if len(a.values) <= 100_000 {
				a.values[formatValue(v)] = true
			}
			f, ok := toFloat(v)
			if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
				a.numeric = false
				continue
			}
			a.lo, a.hi = min(a.lo, f), max(a.hi, f)
		}
	}
	var out []paramInfo
	names := make([]string, 0, len(accs))
	for k := range accs {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		a := accs[name]
		n := len(a.values)
		p := paramInfo{Param: report.Param{Name: name, NValues: n, Numeric: a.numeric}, lo: a.lo, hi: a.hi}
		if a.numeric {
			p.Binned = n > report.MaxXValues
			p.Log = a.lo > 0 && a.hi/a.lo >= 100
		}
		p.Group = n >= 2 && n <= report.MaxGroupValues
		out = append(out, p)
	}
	return out
}

// binned is a copy of res whose runs have param x replaced by the mean
// value of its bin: MaxXValues bins of equal width, in log space for a
// param with Log.
func binned(res *Results, x paramInfo) *Results {
	lo, hi := x.lo, x.hi
	tr := func(v float64) float64 { return v }
	if x.Log {
		tr = math.Log
		lo, hi = math.Log(lo), math.Log(hi)
	}
	bin := func(v float64) int {
		if hi <= lo {
			return 0
		}
		return min(int((tr(v)-lo)/(hi-lo)*report.MaxXValues), report.MaxXValues-1)
	}
	var sum [report.MaxXValues]float64
	var n [report.MaxXValues]int
	for _, r := range res.runs {
		if f, ok := toFloat(r.Params[x.Name]); ok {
			b := bin(f)
			sum[b] += f
			n[b]++
		}
	}
	out := &Results{dir: res.dir, runs: make([]*Record, 0, len(res.runs))}
	for _, r := range res.runs {
		c := &Record{Experiment: r.Experiment, Version: r.Version, Status: r.Status, Params: make(params.Point, len(r.Params))}
		c.Metrics = r.Metrics
		for k, v := range r.Params {
			c.Params[k] = v
		}
		if f, ok := toFloat(r.Params[x.Name]); ok {
			b := bin(f)
			c.Params[x.Name] = sum[b] / float64(n[b])
		}
		out.runs = append(out.runs, c)
	}
	return out
}

// curves turns the stats of Summary(x[, g]) into one curve per metric, one
// line per value of g.
func curves(stats []GroupStat, x, g string) []report.Curve {
	type lineKey struct{ metric, group string }
	lines := map[lineKey]*report.Line{}
	var keys []lineKey
	for _, s := range stats {
		if s.Metric == "" {
			continue
		}
		var gv any
		if g != "" {
			gv = s.Group[g]
		}
		k := lineKey{s.Metric, formatValue(gv)}
		l := lines[k]
		if l == nil {
			l = &report.Line{G: gv}
			lines[k] = l
			keys = append(keys, k)
		}
		l.X = append(l.X, s.Group[x])
		l.N = append(l.N, s.N)
		l.Mean = append(l.Mean, report.Num(s.Mean))
		l.Lo = append(l.Lo, report.Num(s.CILow))
		l.Hi = append(l.Hi, report.Num(s.CIHigh))
	}
	var out []report.Curve
	byMetric := map[string]int{}
	for _, k := range keys {
		i, ok := byMetric[k.metric]
		if !ok {
			i = len(out)
			byMetric[k.metric] = i
			out = append(out, report.Curve{Metric: k.metric, X: x, Group: g})
		}
		out[i].Lines = append(out[i].Lines, *lines[k])
	}
	for i := range out {
		ls := out[i].Lines
		sort.SliceStable(ls, func(a, b int) bool { return compareValues(ls[a].G, ls[b].G) < 0 })
		for j := range ls {
			sortLine(&ls[j])
		}
	}
	return out
}

// sortLine orders a line's points by x.
func sortLine(l *report.Line) {
	idx := make([]int, len(l.X))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return compareValues(l.X[idx[a]], l.X[idx[b]]) < 0 })
	x, n, mean, lo, hi := slices.Clone(l.X), slices.Clone(l.N), slices.Clone(l.Mean), slices.Clone(l.Lo), slices.Clone(l.Hi)
	for i, j := range idx {
		l.X[i], l.N[i], l.Mean[i], l.Lo[i], l.Hi[i] = x[j], n[j], mean[j], lo[j], hi[j]
	}
}

// etaSquared is, per metric, the share of the variance of its values that
// the groups of stats explain: the between-group sum of squares over the
// total, both from the groups' counts, means and standard deviations.
func etaSquared(stats []GroupStat) map[string]report.Num {
	type acc struct{ n, sum float64 }
	tot := map[string]*acc{}
	for _, s := range stats {
		if s.Metric == "" {
			continue
		}
		a := tot[s.Metric]
		if a == nil {
			a = &acc{}
			tot[s.Metric] = a
		}
		a.n += float64(s.N)
		a.sum += float64(s.N) * s.Mean
	}
	between, within := map[string]float64{}, map[string]float64{}
	for _, s := range stats {
		if s.Metric == "" {
			continue
		}
		grand := tot[s.Metric].sum / tot[s.Metric].n
		between[s.Metric] += float64(s.N) * (s.Mean - grand) * (s.Mean - grand)
		if s.N > 1 && !math.IsNaN(s.Std) {
			within[s.Metric] += float64(s.N-1) * s.Std * s.Std
		}
	}
	out := map[string]report.Num{}
	for m := range tot {
		total := between[m] + within[m]
		if total == 0 {
			out[m] = 0
			continue
		}
		out[m] = report.Num(between[m] / total)
	}
	return out
}

// welford accumulates a mean and a sum of squared deviations in one pass.
type welford struct {
	n        int
	mean, m2 float64
}

func (w *welford) add(v float64) {
	w.n++
	d := v - w.mean
	w.mean += d / float64(w.n)
	w.m2 += d * (v - w.mean)
}

// ci is the mean and its 95% confidence interval, as Summary gives them.
func (w *welford) ci() (mean, lo, hi float64) {
	if w.n < 2 {
		return w.mean, math.NaN(), math.NaN()
	}
	half := tQuantile975(w.n-1) * math.Sqrt(w.m2/float64(w.n-1)) / math.Sqrt(float64(w.n))
	return w.mean, w.mean - half, w.mean + half
}

// seriesCurve is the mean and band per step of series name over runs, one
// line per value of param g ("": one line), at most MaxSteps steps.
func seriesCurve(runs []*Record, name, g string) report.Series {
	steps := map[int64]bool{}
	for _, r := range runs {
		for _, p := range r.Series[name] {
			steps[p.Step] = true
		}
	}
	all := make([]int64, 0, len(steps))
	for s := range steps {
		all = append(all, s)
	}
	slices.Sort(all)
	keep := map[int64]int{} // step -> position
	if len(all) > report.MaxSteps {
		for i := range report.MaxSteps {
			keep[all[i*(len(all)-1)/(report.MaxSteps-1)]] = 0
		}
	} else {
		for _, s := range all {
			keep[s] = 0
		}
	}
	kept := make([]int64, 0, len(keep))
	for s := range keep {
		kept = append(kept, s)
	}
	slices.Sort(kept)
	for i, s := range kept {
		keep[s] = i
	}
	type group struct {
		value any
		acc   []welford
	}
	groups := map[string]*group{}
	for _, r := range runs {
		pts := r.Series[name]
		if len(pts) == 0 {
			continue
		}
		var gv any
		if g != "" {
			gv = r.Params[g]
		}
		k := formatValue(gv)
		gr := groups[k]
		if gr == nil {
			gr = &group{value: gv, acc: make([]welford, len(kept))}
			groups[k] = gr
		}
		for _, p := range pts {
			if i, ok := keep[p.Step]; ok && p.Value != nil && !math.IsNaN(*p.Value) && !math.IsInf(*p.Value, 0) {
				gr.acc[i].add(*p.Value)
			}
		}
	}
	out := report.Series{Metric: name, Group: g, Steps: len(all), Lines: []report.Line{}}
	for _, gr := range groups {
		l := report.Line{G: gr.value}
		for i, a := range gr.acc {
			if a.n == 0 {
				continue
			}
			mean, lo, hi := a.ci()
			l.X = append(l.X, kept[i])
			l.N = append(l.N, a.n)
			l.Mean = append(l.Mean, report.Num(mean))
			l.Lo = append(l.Lo, report.Num(lo))
			l.Hi = append(l.Hi, report.Num(hi))
		}
		out.Lines = append(out.Lines, l)
	}
	sort.SliceStable(out.Lines, func(a, b int) bool { return compareValues(out.Lines[a].G, out.Lines[b].G) < 0 })
	return out
}

// parallelSample is an even sample of at most MaxParallelRuns completed
// runs, by column.
func parallelSample(runs []*Record, infos []paramInfo, metrics []string) report.Parallel {
	p := report.Parallel{Of: len(runs), Params: map[string][]any{}, Metrics: map[string][]report.Num{}}
	n := min(len(runs), report.MaxParallelRuns)
	for _, info := range infos {
		if !info.Numeric && info.NValues > report.MaxXValues {
			continue
		}
		p.Params[info.Name] = make([]any, 0, n)
	}
	for _, m := range metrics {
		p.Metrics[m] = make([]report.Num, 0, n)
	}
	for i := range n {
		r := runs[i*len(runs)/n]
		for name := range p.Params {
			p.Params[name] = append(p.Params[name], r.Params[name])
		}
		for _, m := range metrics {
			v, ok := r.Metrics[m]
			if !ok {
				v = math.NaN()
			}
			p.Metrics[m] = append(p.Metrics[m], report.Num(v))
		}
	}
	return p
}

// reportTable is the runs table: every failed run first (up to
// MaxFailedRows, evenly), then an even sample of the others, in table
// order.
func reportTable(in reportInput, runs []*Record) report.Table {
	several := len(experimentsOf(runs)) > 1
	pset, mset := map[string]bool{}, map[string]bool{}
	var failed []int
	for i, r := range runs {
		for k := range r.Params {
			pset[k] = true
		}
		for k := range r.Metrics {
			mset[k] = true
		}
		if r.Status == store.StatusFailed {
			failed = append(failed, i)
		}
	}
	pick := make([]bool, len(runs))
	nf := min(len(failed), report.MaxFailedRows)
	for i := range nf {
		pick[failed[i*len(failed)/nf]] = true
	}
	if rest, room := len(runs)-len(failed), report.MaxTableRows-nf; rest <= room {
		for i, r := range runs {
			if r.Status != store.StatusFailed {
				pick[i] = true
			}
		}
	} else if room > 0 {
		others := make([]int, 0, rest)
		for i, r := range runs {
			if r.Status != store.StatusFailed {
				others = append(others, i)
			}
		}
		for i := range room {
			pick[others[i*len(others)/room]] = true
		}
	}

	t := report.Table{Total: len(runs), Rows: [][]any{}, Details: map[int]report.Detail{}, ArtifactLinks: in.linkBase != ""}
	t.Columns = append(t.Columns, report.Column{Name: "run_id", Kind: "run_id"})
	if several {
		t.Columns = append(t.Columns, report.Column{Name: "experiment", Kind: "experiment"})
	}
	pnames, mnames := sortedKeys(pset), sortedKeys(mset)
	for _, p := range pnames {
		t.Columns = append(t.Columns, report.Column{Name: p, Kind: "param"})
	}
	t.Columns = append(t.Columns, report.Column{Name: "status", Kind: "status"})
	for _, m := range mnames {
		t.Columns = append(t.Columns, report.Column{Name: m, Kind: "metric"})
	}
	t.Columns = append(t.Columns, report.Column{Name: "duration", Kind: "duration"},
		report.Column{Name: "host", Kind: "host"}, report.Column{Name: "ended", Kind: "ended"}, report.Column{Name: "error", Kind: "error"})
	for i, r := range runs {
		if !pick[i] {
			continue
		}
		row := make([]any, 0, len(t.Columns))
		row = append(row, r.RunID)
		if several {
			row = append(row, shownRef(r.Experiment, r.Version))
		}
		for _, p := range pnames {
			row = append(row, r.Params[p])
		}
		row = append(row, string(r.Status))
		for _, m := range mnames {
			if v, ok := r.Metrics[m]; ok {
				row = append(row, report.Num(v))
			} else {
				row = append(row, nil)
			}
		}
		var dur, ended any
		if d := r.Duration(); d > 0 {
			dur = report.Num(d.Seconds())
		}
		if !r.Ended.IsZero() {
			ended = r.Ended.UTC().Format("2006-01-02 15:04:05")
		}
		errText := r.Error
		if r.Stack != "" {
			errText += "\n\n" + r.Stack
		}
		first, _, _ := strings.Cut(r.Error, "\n")
		row = append(row, dur, nilIfEmpty(r.Host), ended, nilIfEmpty(shorten(first, reportErrorCell)))
		idx := len(t.Rows)
		t.Rows = append(t.Rows, row)

		var det report.Detail
		if errText != "" {
			det.Error = shorten(errText, reportErrorFull)
		}
		if r.Status == store.StatusFailed {
			det.Tail = failedTail(in.st, r)
		}
		for j, a := range r.Artifacts {
			if j == reportArtifacts {
				break
			}
			art := report.Artifact{Name: a.Name, Size: a.Size}
			if in.linkBase != "" && filepath.IsLocal(filepath.FromSlash(a.Path)) {
				art.Href = (&url.URL{Path: path.Join(filepath.ToSlash(in.linkBase), a.Path)}).String()
			}
			det.Artifacts = append(det.Artifacts, art)
		}
		if det.Error != "" || det.Tail != "" || len(det.Artifacts) > 0 {
			t.Details[idx] = det
		}
	}
	return t
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// failedTail is the end of a failed run's stderr: the tail its record
// keeps, or the end of its output in the store's log.
func failedTail(st *store.Store, r *Record) string {
	if r.StderrTail != "" {
		return lastBytes(r.StderrTail, reportTail)
	}
	if st == nil || r.Stderr == nil || r.Stderr.Length <= 0 || r.Stderr.Offset < 0 {
		return ""
	}
	f, err := st.OpenFile(r.Stderr.File) // inside the store only: the path comes from a segment
	if err != nil {
		return ""
	}
	defer f.Close()
	n := min(r.Stderr.Length, reportTail)
	b, err := io.ReadAll(io.NewSectionReader(f, r.Stderr.Offset+r.Stderr.Length-n, n))
	if err != nil {
		return ""
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// lastBytes is the end of s, at most n bytes, cut at a rune boundary.
func lastBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[len(s)-n:], "")
}

// reportTiming spreads the runs over TimeBins bins of time: when they
// ended, by status, and how many ran at once on each host.
func reportTiming(runs []*Record) report.Timing {
	t := report.Timing{Ended: map[string][]int{}, Hosts: []report.HostTiming{}}
	var start, end time.Time
	for _, r := range runs {
		if r.Started.IsZero() {
			continue
		}
		if start.IsZero() || r.Started.Before(start) {
			start = r.Started
		}
		if w := r.When(); w.After(end) {
			end = w
		}
	}
	if start.IsZero() {
		return t
	}
	t.Start = start
	span := end.Sub(start).Seconds()
	// As many bins as runs, between 10 and TimeBins: a few runs get wide
	// bars, not slivers.
	nb := min(max(len(runs), 10), report.TimeBins)
	t.BinSeconds = max(span/float64(nb), 0.001)
	bins := min(int(math.Ceil(span/t.BinSeconds)), nb) + 1
	binOf := func(at time.Time) int {
		return min(max(int(at.Sub(start).Seconds()/t.BinSeconds), 0), bins-1)
	}
	type host struct {
		runs    int
		busy    float64
		running []float64
	}
	hosts := map[string]*host{}
	counts := map[string]int{}
	for _, r := range runs {
		if r.Started.IsZero() {
			continue
		}
		if !r.Ended.IsZero() {
			s := string(r.Status)
			if t.Ended[s] == nil {
				t.Ended[s] = make([]int, bins)
			}
			t.Ended[s][binOf(r.Ended)]++
		}
		name := cmp.Or(r.Host, "(unknown)")
		h := hosts[name]
		if h == nil {
			h = &host{running: make([]float64, bins)}
			hosts[name] = h
		}
		h.runs++
		counts[name]++
		a := r.Started.Sub(start).Seconds()
		b := r.When().Sub(start).Seconds()
		if r.Ended.IsZero() {
			b = span // still running, or lost: until the last record
		}
		h.busy += b - a
		for i := binOf(r.Started); i < bins && float64(i)*t.BinSeconds < b; i++ {
			lo, hi := max(a, float64(i)*t.BinSeconds), min(b, float64(i+1)*t.BinSeconds)
			if hi > lo {
				h.running[i] += (hi - lo) / t.BinSeconds
			}
		}
	}
	names := sortedByCount(counts)
	var other *report.HostTiming
	for i, name := range names {
		h := hosts[name]
		if i < report.MaxHosts {
			ht := report.HostTiming{Host: name, Runs: h.runs, BusySeconds: h.busy}
			for _, v := range h.running {
				ht.Running = append(ht.Running, report.Num(v))
			}
			t.Hosts = append(t.Hosts, ht)
			continue
		}
		if other == nil {
			other = &report.HostTiming{Host: reportOtherHosts, Running: make([]report.Num, bins)}
		}
		other.Runs += h.runs
		other.BusySeconds += h.busy
		for j, v := range h.running {
			other.Running[j] += report.Num(v)
		}
	}
	if other != nil {
		other.Host = fmt.Sprintf("%d %s", len(names)-report.MaxHosts, reportOtherHosts)
		t.Hosts = append(t.Hosts, *other)
	}
	return t
}
