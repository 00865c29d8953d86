package report

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
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
			p.distinct[params.Format(v)] = true
		}
		if f, ok := params.Number(v); ok && finite(f) {
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
	f, isNum := params.Number(v)
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
		addTo(groups, xk+"\x00"+params.Format(gv), v, gv, f, isNum, r.Metrics)
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
		if f, ok := params.Number(v); ok {
			return strconv.FormatFloat(f, 'g', 4, 64)
		}
	}
	return params.Format(v)
}

// quantize merges byX's groups (and byXG's) by their values rounded.
func (p *paramAcc) quantize() {
	p.quantized = true
	requantize := func(groups map[string]*xGroup, withG bool) map[string]*xGroup {
		out := map[string]*xGroup{}
		for _, grp := range groups {
			k := p.key(grp.x)
			if withG {
				k += "\x00" + params.Format(grp.g)
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
		k := params.Format(gv)
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
