package report

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/store"
)

// How [Gather] reads a store: one pass over its records, each folded into
// running statistics and dropped, so that memory grows with the number of
// groups (distinct values of params, steps of series), not of runs. What
// it keeps per run is a few numbers for the timings and the run times'
// quantiles (about 40 bytes); the runs table and parallel coordinates keep
// an even sample ([sampler]). The statistics are summary's: the mean of a
// group and its 95% confidence interval, groups of runs merged exactly.

// Limits on what a report keeps of a run.
const (
	errorCell  = 200  // characters of an error in its table cell
	errorFull  = 4000 // characters of an error in a run's details
	tailBytes  = 2000 // bytes of the end of a failed run's stderr
	artifacts  = 20   // artifacts listed per run
	slurmJobs  = 20   // SLURM job IDs named in the overview
	otherHosts = "other hosts"
	// exactValues is how many distinct values of a numeric param are
	// kept exactly; beyond, values are grouped by their first 4
	// significant digits before they are binned (MaxXValues bins): a
	// value at a bin's edge may land in the next bin.
	exactValues = 4096
	// maxDistinct is the most distinct values of a param counted.
	maxDistinct = 100_000
)

// Input is what [Gather] reads.
type Input struct {
	Store *store.Store
	// Name is the store as the user named it, shown on the page.
	Name string
	// LinkBase is the store's path relative to the page, for links to
	// artifacts; "" when the page cannot link to them.
	LinkBase string
	// Served: the page is metalab serve's, which serves the artifacts at
	// LinkBase.
	Served bool
	// Pick picks the experiment versions to show; nil: all.
	Pick func(experiment, version string) bool
	Now  time.Time
}

// Gather reads the records of in.Store once (as of its last Collect) and
// makes the page's data. Of a damaged store it returns the data of the
// records it could read and the [*store.DamageError].
func Gather(ctx context.Context, in Input) (*Data, error) {
	g := &gatherer{in: in, exps: map[[2]string]*expAcc{}, hosts: map[string]int{}, hostIndex: map[string]int32{},
		jobs: map[string]bool{}, counts: map[string]int{}, pset: map[string]bool{}, mset: map[string]bool{},
		failed: newSampler[*store.Record](MaxFailedRows), others: newSampler[*store.Record](MaxTableRows)}
	n := 0
	err := in.Store.Records(func(r *store.Record) error {
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if in.Pick == nil || in.Pick(r.Experiment, r.Version) {
			g.add(r)
		}
		return nil
	})
	if err != nil && !errors.As(err, new(*store.DamageError)) {
		return nil, err
	}
	return g.data(), err
}

// gatherer is the running state of a Gather.
type gatherer struct {
	in   Input
	exps map[[2]string]*expAcc
	runs int

	counts    map[string]int
	durations []float64
	total     float64
	first     time.Time
	last      time.Time
	hosts     map[string]int
	jobs      map[string]bool

	// timings: one entry per started run.
	spans     []span
	hostNames []string
	hostIndex map[string]int32
	statuses  []string // of ended runs, in spans

	pset, mset     map[string]bool // params and metrics of every run
	failed, others *sampler[*store.Record]
}

// span is what the timings keep of a run.
type span struct {
	start, when int64 // Unix nanoseconds: started, and ended (or started)
	host        int32
	status      uint8 // index in gatherer.statuses; notEnded when not ended
}

const notEnded = 255

// expAcc is what is known of one experiment version.
type expAcc struct {
	name, version string
	runs          int
	counts        map[string]int
	params        map[string]*paramAcc
	metrics       map[string]bool
	series        map[string]*seriesAcc
	parallel      *sampler[parRow]
	completed     int
}

type parRow struct {
	params  params.Point
	metrics capture.Metrics
}

// paramAcc is what is known of one param: its values, and the metrics of
// completed runs by its value (x) and by its value and another's (x, g).
type paramAcc struct {
	distinct map[string]bool
	numeric  bool
	lo, hi   float64
	// byX: the metrics of completed runs by this param's value; byXG, by
	// this param's value and that of the param g, for each g with few
	// values so far.
	byX       map[string]*xGroup
	byXG      map[string]map[string]*xGroup
	quantized bool // byX's keys are values rounded, see exactValues
	noCurves  bool // strings with too many values: nothing to draw against
}

// xGroup is the metrics of the completed runs of one value of x (and of
// g): sumX/nX is the mean of their x, for bins.
type xGroup struct {
	x, g    any
	sumX    float64
	nX      int
	metrics map[string]*welford
}

func (x *xGroup) merge(o *xGroup) {
	x.sumX += o.sumX
	x.nX += o.nX
	for m, w := range o.metrics {
		a := x.metrics[m]
		if a == nil {
			a = &welford{}
			x.metrics[m] = a
		}
		a.merge(*w)
	}
}

// seriesAcc is one stepped metric: per step, over completed runs, and by
// the value of each param with few values so far.
type seriesAcc struct {
	all   map[int64]*welford
	by    map[string]map[string]*seriesLine // param -> value -> line
	dropG map[string]bool
	// stride: once a series has more than maxStepKeys distinct steps,
	// steps are grouped, each at the first step of its stride (a power of
	// two), so that memory stays bounded; 1 until then.
	stride int64
}

// maxStepKeys is how many distinct steps (or groups of steps) a series
// keeps statistics for before it groups them.
const maxStepKeys = 50 * MaxSteps

type seriesLine struct {
	g     any
	steps map[int64]*welford
}

func (g *gatherer) add(r *store.Record) {
	g.runs++
	st := string(r.Status)
	g.counts[st]++
	if d := r.Duration(); d > 0 {
		g.durations = append(g.durations, d.Seconds())
		g.total += d.Seconds()
	}
	if !r.Started.IsZero() && (g.first.IsZero() || r.Started.Before(g.first)) {
		g.first = r.Started
	}
	if w := r.When(); w.After(g.last) {
		g.last = w
	}
	if r.Host != "" {
		g.hosts[r.Host]++
	}
	if j := cmp.Or(r.SlurmArrayJobID, r.SlurmJobID); j != "" {
		g.jobs[j] = true
	}
	if !r.Started.IsZero() {
		name := cmp.Or(r.Host, "(unknown)")
		hi, ok := g.hostIndex[name]
		if !ok {
			hi = int32(len(g.hostNames))
			g.hostIndex[name] = hi
			g.hostNames = append(g.hostNames, name)
		}
		s := span{start: r.Started.UnixNano(), when: r.When().UnixNano(), host: hi, status: notEnded}
		if !r.Ended.IsZero() {
			i := slices.Index(g.statuses, st)
			if i < 0 && len(g.statuses) < notEnded {
				i = len(g.statuses)
				g.statuses = append(g.statuses, st)
			}
			if i >= 0 {
				s.status = uint8(i)
			}
		}
		g.spans = append(g.spans, s)
	}
	for k := range r.Params {
		g.pset[k] = true
	}
	for k := range r.Metrics {
		g.mset[k] = true
	}
	if r.Status == store.StatusFailed {
		g.failed.offer(func() *store.Record { return r })
	} else {
		g.others.offer(func() *store.Record { return r })
	}

	key := [2]string{r.Experiment, r.Version}
	e := g.exps[key]
	if e == nil {
		e = &expAcc{name: r.Experiment, version: r.Version, counts: map[string]int{}, params: map[string]*paramAcc{},
			metrics: map[string]bool{}, series: map[string]*seriesAcc{}, parallel: newSampler[parRow](MaxParallelRuns)}
		g.exps[key] = e
	}
	e.add(r)
}

func (e *expAcc) add(r *store.Record) {
	e.runs++
	e.counts[string(r.Status)]++
	completed := r.Status == store.StatusCompleted
	for name, v := range r.Params {
		p := e.params[name]
		if p == nil {
			p = &paramAcc{distinct: map[string]bool{}, numeric: true, lo: math.Inf(1), hi: math.Inf(-1),
				byX: map[string]*xGroup{}, byXG: map[string]map[string]*xGroup{}}
			e.params[name] = p
		}
		if len(p.distinct) <= maxDistinct {
			p.distinct[formatValue(v)] = true
		}
		if f, ok := toFloat(v); ok && finite(f) {
			p.lo, p.hi = min(p.lo, f), max(p.hi, f)
		} else {
			p.numeric = false
		}
	}
	if !completed {
		return
	}
	e.completed++
	for m := range r.Metrics {
		e.metrics[m] = true
	}
	e.parallel.offer(func() parRow { return parRow{r.Params, r.Metrics} })
	for name, v := range r.Params {
		e.params[name].addRun(name, v, r, e.params)
	}
	for name, pts := range r.Series {
		s := e.series[name]
		if s == nil {
			s = &seriesAcc{all: map[int64]*welford{}, by: map[string]map[string]*seriesLine{}, dropG: map[string]bool{}, stride: 1}
			e.series[name] = s
		}
		s.add(pts, r.Params)
	}
}

// addRun folds the metrics of a completed run whose value of this param
// (named name) is v into its groups.
func (p *paramAcc) addRun(name string, v any, r *store.Record, all map[string]*paramAcc) {
	if p.noCurves {
		return
	}
	f, isNum := toFloat(v)
	if !isNum && len(p.distinct) > MaxXValues {
		p.noCurves, p.byX, p.byXG = true, nil, nil // strings: nothing to draw against
		return
	}
	if !p.quantized && len(p.byX) > exactValues {
		p.quantize()
	}
	xk := p.key(v)
	addTo(p.byX, xk, v, nil, f, isNum, r.Metrics)
	for gname, gv := range r.Params {
		if gname == name {
			continue
		}
		groups, ok := p.byXG[gname]
		if !ok {
			if len(all[gname].distinct) > MaxGroupValues {
				continue
			}
			groups = map[string]*xGroup{}
			p.byXG[gname] = groups
		}
		if groups == nil {
			continue // g has too many values to group by
		}
		if len(all[gname].distinct) > MaxGroupValues {
			p.byXG[gname] = nil
			continue
		}
		addTo(groups, xk+"\x00"+formatValue(gv), v, gv, f, isNum, r.Metrics)
	}
}

func addTo(groups map[string]*xGroup, key string, x, g any, f float64, isNum bool, metrics map[string]float64) {
	grp := groups[key]
	if grp == nil {
		grp = &xGroup{x: x, g: g, metrics: map[string]*welford{}}
		groups[key] = grp
	}
	if isNum {
		grp.sumX += f
		grp.nX++
	}
	for m, val := range metrics {
		if !finite(val) {
			continue
		}
		w := grp.metrics[m]
		if w == nil {
			w = &welford{}
			grp.metrics[m] = w
		}
		w.add(val)
	}
}

// key is the key of value v in byX: its text, or once quantized, its
// number rounded to 4 significant digits.
func (p *paramAcc) key(v any) string {
	if p.quantized {
		if f, ok := toFloat(v); ok {
			return strconv.FormatFloat(f, 'g', 4, 64)
		}
	}
	return formatValue(v)
}

// quantize merges byX's groups (and byXG's) by their values rounded.
func (p *paramAcc) quantize() {
	p.quantized = true
	requantize := func(groups map[string]*xGroup, withG bool) map[string]*xGroup {
		out := map[string]*xGroup{}
		for _, grp := range groups {
			k := p.key(grp.x)
			if withG {
				k += "\x00" + formatValue(grp.g)
			}
			if o := out[k]; o != nil {
				o.merge(grp)
			} else {
				out[k] = grp
			}
		}
		return out
	}
	p.byX = requantize(p.byX, false)
	for g, groups := range p.byXG {
		if groups != nil {
			p.byXG[g] = requantize(groups, true)
		}
	}
}

func (s *seriesAcc) add(pts []capture.Point, ps params.Point) {
	for gname, gv := range ps {
		if s.dropG[gname] {
			continue
		}
		lines := s.by[gname]
		if lines == nil {
			lines = map[string]*seriesLine{}
			s.by[gname] = lines
		}
		k := formatValue(gv)
		l := lines[k]
		if l == nil {
			if len(lines) == MaxGroupValues {
				s.dropG[gname] = true
				delete(s.by, gname)
				continue
			}
			l = &seriesLine{g: gv, steps: map[int64]*welford{}}
			lines[k] = l
		}
		addSteps(l.steps, pts, s.stride)
	}
	addSteps(s.all, pts, s.stride)
	for len(s.all) > maxStepKeys {
		s.stride *= 2
		s.all = regroup(s.all, s.stride)
		for _, lines := range s.by {
			for _, l := range lines {
				l.steps = regroup(l.steps, s.stride)
			}
		}
	}
}

// stepKey is the step that stands for step: the first of its stride.
func stepKey(step, stride int64) int64 {
	if stride == 1 {
		return step
	}
	k := step / stride * stride
	if step < 0 && step%stride != 0 {
		k -= stride // floor, not truncation, for negative steps
	}
	return k
}

func addSteps(steps map[int64]*welford, pts []capture.Point, stride int64) {
	for _, p := range pts {
		k := stepKey(p.Step, stride)
		if p.Value == nil || !finite(*p.Value) {
			if _, ok := steps[k]; !ok {
				steps[k] = &welford{} // a step seen, without a value
			}
			continue
		}
		w := steps[k]
		if w == nil {
			w = &welford{}
			steps[k] = w
		}
		w.add(*p.Value)
	}
}

// regroup merges the statistics of steps by their key under stride.
func regroup(steps map[int64]*welford, stride int64) map[int64]*welford {
	out := make(map[int64]*welford, len(steps)/2+1)
	for step, w := range steps {
		k := stepKey(step, stride)
		if o := out[k]; o != nil {
			o.merge(*w)
		} else {
			out[k] = w
		}
	}
	return out
}

// data is the page's data of what was gathered.
func (g *gatherer) data() *Data {
	d := &Data{Store: g.in.Name, Generated: g.in.Now, Limits: DefaultLimits, Experiments: []Experiment{}}
	d.Overview = g.overview()
	keys := make([][2]string, 0, len(g.exps))
	for k := range g.exps {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1])) })
	var refs []string
	for _, k := range keys {
		e, notes := g.exps[k].experiment()
		d.Experiments = append(d.Experiments, e)
		d.Notes = append(d.Notes, notes...)
		refs = append(refs, ref(e.Name, e.Version))
	}
	switch {
	case len(refs) == 0:
		d.Title = "metalab report: no runs yet"
	case len(refs) <= 3:
		d.Title = "metalab report: " + strings.Join(refs, ", ")
	default:
		d.Title = fmt.Sprintf("metalab report: %d experiments", len(refs))
	}
	d.Table = g.table(len(refs) > 1)
	d.Timing = g.timing()
	if n := len(d.Table.Rows); n < g.runs {
		d.Notes = append(d.Notes, fmt.Sprintf("The runs table holds %d of the %d runs: every failed run first (up to %d, an even sample of them beyond), then an even sample of the others. 'metalab results --store %s' lists them all.",
			n, g.runs, MaxFailedRows, g.in.Name))
	}
	switch {
	case g.in.Served:
		d.Notes = append(d.Notes, "Artifacts are served from the store by metalab serve, which serves nothing else of it.")
	case g.in.LinkBase != "":
		d.Notes = append(d.Notes, fmt.Sprintf("Artifacts are linked relative to this page, in %s/: keep the report beside the store.", g.in.LinkBase))
	default:
		d.Notes = append(d.Notes, "Artifacts are named, not linked: the report was not written beside the store (at or above its directory).")
	}
	d.Notes = append(d.Notes, fmt.Sprintf("Every count and statistic is over all %d runs, read in one pass; the page holds aggregates and samples, so its size grows with the number of groups, not of runs.", g.runs))
	return d
}

func (g *gatherer) overview() Overview {
	o := Overview{Runs: g.runs, Counts: g.counts, TotalSeconds: g.total, MedianSeconds: Num(math.NaN()), P95Seconds: Num(math.NaN()),
		First: g.first, Last: g.last, Hosts: []string{}, NHosts: len(g.hosts), NSlurmJobs: len(g.jobs)}
	if len(g.durations) > 0 {
		slices.Sort(g.durations)
		o.MedianSeconds = Num(quantile(g.durations, 0.5))
		o.P95Seconds = Num(quantile(g.durations, 0.95))
	}
	for _, h := range sortedByCount(g.hosts) {
		if len(o.Hosts) == MaxHosts {
			break
		}
		o.Hosts = append(o.Hosts, h)
	}
	ids := sortedKeys(g.jobs)
	sort.SliceStable(ids, func(i, j int) bool { return len(ids[i]) < len(ids[j]) }) // numeric order for numbers
	if len(ids) > slurmJobs {
		ids = ids[:slurmJobs]
	}
	o.SlurmJobs = ids
	return o
}

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
		k := strconv.Itoa(bin(grp.sumX/float64(grp.nX))) + "\x00" + formatValue(grp.g)
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
			k := lineKey{m, formatValue(gv)}
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
		sort.SliceStable(ls, func(a, b int) bool { return compareValues(ls[a].G, ls[b].G) < 0 })
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
	sort.SliceStable(idx, func(a, b int) bool { return compareValues(l.X[idx[a]], l.X[idx[b]]) < 0 })
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
	sort.SliceStable(out.Lines, func(a, b int) bool { return compareValues(out.Lines[a].G, out.Lines[b].G) < 0 })
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

// table is the runs table: the sampled failed runs first, then the others,
// each in the order of `metalab results`.
func (g *gatherer) table(several bool) Table {
	failed := g.failed.sample(MaxFailedRows)
	others := g.others.sample(MaxTableRows - len(failed))
	runs := append(slices.Clone(failed), others...)
	sort.SliceStable(runs, func(i, j int) bool {
		a, b := runs[i], runs[j]
		return cmp.Or(cmp.Compare(a.Experiment, b.Experiment), cmp.Compare(a.Version, b.Version),
			comparePoints(a.Params, b.Params), cmp.Compare(a.Replicate, b.Replicate), cmp.Compare(a.RunID, b.RunID)) < 0
	})

	t := Table{Total: g.runs, Rows: [][]any{}, Details: map[int]Detail{}, ArtifactLinks: g.in.LinkBase != ""}
	t.Columns = append(t.Columns, Column{Name: "run_id", Kind: "run_id"})
	if several {
		t.Columns = append(t.Columns, Column{Name: "experiment", Kind: "experiment"})
	}
	pnames, mnames := sortedKeys(g.pset), sortedKeys(g.mset)
	for _, p := range pnames {
		t.Columns = append(t.Columns, Column{Name: p, Kind: "param"})
	}
	t.Columns = append(t.Columns, Column{Name: "status", Kind: "status"})
	for _, m := range mnames {
		t.Columns = append(t.Columns, Column{Name: m, Kind: "metric"})
	}
	t.Columns = append(t.Columns, Column{Name: "duration", Kind: "duration"},
		Column{Name: "host", Kind: "host"}, Column{Name: "ended", Kind: "ended"}, Column{Name: "error", Kind: "error"})
	for _, r := range runs {
		row := make([]any, 0, len(t.Columns))
		row = append(row, r.RunID)
		if several {
			row = append(row, ref(r.Experiment, r.Version))
		}
		for _, p := range pnames {
			row = append(row, r.Params[p])
		}
		row = append(row, string(r.Status))
		for _, m := range mnames {
			if v, ok := r.Metrics[m]; ok {
				row = append(row, Num(v))
			} else {
				row = append(row, nil)
			}
		}
		var dur, ended any
		if d := r.Duration(); d > 0 {
			dur = Num(d.Seconds())
		}
		if !r.Ended.IsZero() {
			ended = r.Ended.UTC().Format("2006-01-02 15:04:05")
		}
		errText := r.Error
		if r.Stack != "" {
			errText += "\n\n" + r.Stack
		}
		first, _, _ := strings.Cut(r.Error, "\n")
		row = append(row, dur, nilIfEmpty(r.Host), ended, nilIfEmpty(shorten(first, errorCell)))
		idx := len(t.Rows)
		t.Rows = append(t.Rows, row)

		var det Detail
		if errText != "" {
			det.Error = shorten(errText, errorFull)
		}
		if r.Status == store.StatusFailed {
			det.Tail = failedTail(g.in.Store, r)
		}
		for j, a := range r.Artifacts {
			if j == artifacts {
				break
			}
			art := Artifact{Name: a.Name, Size: a.Size}
			if g.in.LinkBase != "" && filepath.IsLocal(filepath.FromSlash(a.Path)) {
				art.Href = (&url.URL{Path: path.Join(filepath.ToSlash(g.in.LinkBase), a.Path)}).String()
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
func failedTail(st *store.Store, r *store.Record) string {
	if r.StderrTail != "" {
		return lastBytes(r.StderrTail, tailBytes)
	}
	if st == nil || r.Stderr == nil || r.Stderr.Length <= 0 || r.Stderr.Offset < 0 {
		return ""
	}
	f, err := st.OpenFile(r.Stderr.File) // inside the store only: the path comes from a segment
	if err != nil {
		return ""
	}
	defer f.Close()
	n := min(r.Stderr.Length, tailBytes)
	b, err := io.ReadAll(io.NewSectionReader(f, r.Stderr.Offset+r.Stderr.Length-n, n))
	if err != nil {
		return ""
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// timing spreads the runs over TimeBins bins of time: when they ended, by
// status, and how many ran at once on each host.
func (g *gatherer) timing() Timing {
	t := Timing{Ended: map[string][]int{}, Hosts: []HostTiming{}}
	if len(g.spans) == 0 {
		return t
	}
	start, end := g.spans[0].start, g.spans[0].when
	for _, s := range g.spans {
		start, end = min(start, s.start), max(end, s.when)
	}
	t.Start = time.Unix(0, start).UTC()
	span := float64(end-start) / 1e9
	// As many bins as runs, between 10 and TimeBins: a few runs get wide
	// bars, not slivers.
	nb := min(max(g.runs, 10), TimeBins)
	t.BinSeconds = max(span/float64(nb), 0.001)
	bins := min(int(math.Ceil(span/t.BinSeconds)), nb) + 1
	binOf := func(at float64) int { return min(max(int(at/t.BinSeconds), 0), bins-1) }
	type host struct {
		runs    int
		busy    float64
		running []float64
	}
	hosts := make([]host, len(g.hostNames))
	counts := map[string]int{}
	for _, s := range g.spans {
		a := float64(s.start-start) / 1e9
		b := float64(s.when-start) / 1e9
		if s.status != notEnded {
			st := g.statuses[s.status]
			if t.Ended[st] == nil {
				t.Ended[st] = make([]int, bins)
			}
			t.Ended[st][binOf(b)]++
		} else {
			b = span // still running, or lost: until the last record
		}
		h := &hosts[s.host]
		if h.running == nil {
			h.running = make([]float64, bins)
		}
		h.runs++
		counts[g.hostNames[s.host]]++
		h.busy += b - a
		for i := binOf(a); i < bins && float64(i)*t.BinSeconds < b; i++ {
			lo, hi := max(a, float64(i)*t.BinSeconds), min(b, float64(i+1)*t.BinSeconds)
			if hi > lo {
				h.running[i] += (hi - lo) / t.BinSeconds
			}
		}
	}
	names := sortedByCount(counts)
	var other *HostTiming
	for i, name := range names {
		h := hosts[g.hostIndex[name]]
		if i < MaxHosts {
			ht := HostTiming{Host: name, Runs: h.runs, BusySeconds: h.busy}
			for _, v := range h.running {
				ht.Running = append(ht.Running, Num(v))
			}
			t.Hosts = append(t.Hosts, ht)
			continue
		}
		if other == nil {
			other = &HostTiming{Running: make([]Num, bins)}
		}
		other.Runs += h.runs
		other.BusySeconds += h.busy
		for j, v := range h.running {
			other.Running[j] += Num(v)
		}
	}
	if other != nil {
		other.Host = fmt.Sprintf("%d %s", len(names)-MaxHosts, otherHosts)
		t.Hosts = append(t.Hosts, *other)
	}
	return t
}
