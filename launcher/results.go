package launcher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"slices"
	"sort"
	"sync"

	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/store"
)

// Record is one run's record: run ID, params, seed, status, metrics, data,
// artifacts, logs, timings and error.
type Record = store.Record

// Results holds the runs of a store, one record per run ID (the completed
// one when there is one). It mirrors Python's metalab Results.
//
// Failed runs are results: [Handle.Result] of a sweep whose runs failed
// returns every run, the failed ones with their Error, and a nil error
// (see the example of [Handle.Result]); [Results.WithStatus] picks them out,
// and [Handle.Status] counts them. Result's error says what stopped the
// sweep itself: a cancellation, or the store.
//
// The results of [Handle.Result] are read from the store on first use, so
// that a sweep of millions of runs does not hold them all in memory unless
// asked to; [Results.Err] tells whether that reading failed.
//
// Methods that take a param or metric name ([Results.Where],
// [Results.Metric], [Results.Mean], [Results.Summary],
// [Results.SeriesSummary]) check it as the command line does: a name that
// no run of the results they were read as has (a typo: "LR" for "lr") is
// an error, reported by [Results.Err] of the results the method was called
// on and of those it returns, and the method returns nothing (NaN for
// Mean). A name that some runs lack is no error: they are left out.
type Results struct {
	dir string
	// runs are records given as they are (the report builds results of
	// its own); they are read into a table on first use.
	runs []*Record
	lazy *lazyRuns // nil for results read at once

	// tab holds the runs in columns (see table.go); rows are the rows of
	// these results, in table order.
	tab      *runTable
	rows     []int32
	viewOnce sync.Once
	matOnce  sync.Once
	mat      []*Record // every record, built by list

	// known are the names of the results these were derived from (by
	// Filter, Where, ...), which a name is checked against: a filter
	// that leaves no run with a metric does not make its name a typo.
	known *knownNames
	mu    sync.Mutex
	err   error // the first unknown name
}

// lazyRuns reads a Results' runs on first use.
type lazyRuns struct {
	once sync.Once
	load func() (*runTable, []int32, error)
	err  error
}

// lazyResults are the results of the store at dir, read on first use. Of a
// damaged store they are the runs that could be read, and Err says what
// could not, with the hint of [damageExit].
//
// A store holds several experiments (see docs/store.md): the results are
// those of experiment name at version, the runs of the sweep's plan and
// any the store keeps from earlier plans of it.
func lazyResults(dir, name, version string) *Results {
	return &Results{dir: dir, lazy: &lazyRuns{load: func() (*runTable, []int32, error) {
		res, err := LoadResults(dir)
		if res == nil {
			return nil, nil, err
		}
		t, rows := res.view()
		kept := rows[:0]
		for _, i := range rows {
			if e := t.exps[t.exp[i]]; e.name == name && e.version == version {
				kept = append(kept, i)
			}
		}
		return t, kept, damageExit(progName(), dir, err)
	}}}
}

// view is the table of the results and their rows, read first if need
// be.
func (r *Results) view() (*runTable, []int32) {
	if r.lazy != nil {
		r.lazy.once.Do(func() { r.tab, r.rows, r.lazy.err = r.lazy.load() })
	}
	r.viewOnce.Do(func() {
		if r.tab == nil {
			r.tab = tableOf(r.runs)
			r.rows = make([]int32, r.tab.n)
			for i := range r.rows {
				r.rows[i] = int32(i)
			}
		}
	})
	return r.tab, r.rows
}

// list is every record of the results, built from the table once and
// kept: the costly way to read a million runs, for what needs them all
// at once.
func (r *Results) list() []*Record {
	t, rows := r.view()
	r.matOnce.Do(func() {
		if t.recs != nil && len(rows) == len(t.recs) && r.runs != nil {
			r.mat = r.runs
			return
		}
		if len(rows) > 0 {
			r.mat = make([]*Record, len(rows))
		}
		for k, i := range rows {
			r.mat[k] = t.record(i)
		}
	})
	return r.mat
}

// Err is the error of reading the results from the store, if they were read
// lazily and that failed (the results are then empty, unless the error is a
// [*store.DamageError]: then they hold every run that could be read), or
// else the first unknown param or metric name given to these results or to
// those they were derived from.
func (r *Results) Err() error {
	if r.lazy != nil {
		r.view()
		if r.lazy.err != nil {
			return r.lazy.err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// setErr notes err, unless an error was noted before.
func (r *Results) setErr(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.err = err
	}
}

// derive returns results of the given rows of r's table, derived from r:
// they check names against r's and carry r's error.
func (r *Results) derive(rows []int32) *Results {
	t, _ := r.view()
	out := &Results{dir: r.dir, tab: t, rows: rows, known: r.names(), err: r.Err()}
	out.viewOnce.Do(func() {})
	return out
}

// LoadResults reads the results of the store at dir, merging its node
// indexes first, as Python's metalab.load_results does.
//
// When a damaged segment keeps some records from being read, it returns the
// runs it could read together with a [*store.DamageError] that says what it
// skipped; `metalab collect` (or the next LoadResults) repairs the indexes.
func LoadResults(dir string) (*Results, error) {
	st, err := store.OpenExisting(dir)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	res, _, err := loadResults(context.Background(), st)
	return res, err
}

// loadResults is LoadResults of an open store; it also returns the report of
// its Collect.
func loadResults(ctx context.Context, st *store.Store) (*Results, store.CollectReport, error) {
	rep, err := st.Collect(ctx)
	if err != nil {
		return nil, rep, err
	}
	sn, err := st.Snapshot()
	if err != nil {
		return nil, rep, err
	}
	t, err := readTable(sn)
	if t == nil {
		return nil, rep, err
	}
	rows := make([]int32, t.n)
	for i := range rows {
		rows[i] = int32(i)
	}
	res := &Results{dir: st.Dir(), tab: t, rows: t.sorted(rows)}
	res.viewOnce.Do(func() {})
	return res, rep, err
}

// readStoreResults is what results and summary read: the results of the
// store in dir, of the experiment that spec names (--experiment; "": all),
// with a warning on errOut of runs a repair lost. damage is a
// *store.DamageError when some records could not be read (the results hold
// the rest); err is any other failure, and then res is nil.
func (a *App) readStoreResults(dir, spec string, errOut io.Writer) (res *Results, damage, err error) {
	st, err := store.OpenExisting(dir)
	if err != nil {
		return nil, nil, err
	}
	defer st.Close()
	only, err := storeExperiment(st, spec, a.Name)
	if err != nil {
		return nil, nil, err
	}
	res, rep, err := loadResults(context.Background(), st)
	if res == nil {
		return nil, nil, err
	}
	warnLost(errOut, a.Name, dir, rep.Lost)
	if only.set {
		res = res.Filter(only.match)
	}
	return res, err, nil
}

// damageHelp is the part of the help of the commands that read records
// about a damaged store.
const damageHelp = "A damaged store (a segment overwritten or cut after its records were indexed):\n" +
	"the records that cannot be read are skipped, the rest is printed, a message on\n" +
	"stderr says what was skipped and the command exits with status 3. 'collect'\n" +
	"repairs the indexes; the runs whose records were lost are then pending again."

// damageExit gives a [*store.DamageError] the exit code ExitDamaged and a
// hint that names the command that repairs the indexes; other errors it
// returns as they are. name is the program's name.
func damageExit(name, dir string, err error) error {
	var de *store.DamageError
	if !errors.As(err, &de) {
		return err
	}
	repair := fmt.Sprintf("%s collect --store %s", name, dir)
	if !de.Noted {
		// The note for collect could not be written: only a full
		// verification finds the damage.
		repair = fmt.Sprintf("%s collect --verify --store %s", name, dir)
	}
	return &exitError{code: ExitDamaged, err: de,
		hint: fmt.Sprintf("'%s' repairs the indexes: the runs whose records were lost are then pending, and '%s run' runs them again", repair, name)}
}

// warnLost tells on w about the runs whose records the command's Collect
// found lost to damage (CollectReport.Lost), and dropped from the indexes.
func warnLost(w io.Writer, name, dir string, lost int) {
	if lost == 0 {
		return
	}
	fmt.Fprintf(w, "%s: warning: %s lost %s records to a damaged segment; the indexes are repaired, and pending again unless another record of theirs survived\n"+
		"hint: '%s collect --store %s' lists the damaged ranges; '%s run' runs the lost runs again\n",
		name, nRuns(lost), map[bool]string{true: "its", false: "their"}[lost == 1], name, dir, name)
}

// nRuns is "1 run" or "N runs".
func nRuns(n int) string {
	if n == 1 {
		return "1 run"
	}
	return fmt.Sprintf("%d runs", n)
}

// sortRuns orders runs by experiment and version, then as a plan does for
// grids: by params (numbers numerically, other values by their canonical
// encoding), then replicate.
func sortRuns(runs []*Record) {
	sort.SliceStable(runs, func(i, j int) bool {
		a, b := runs[i], runs[j]
		if a.Experiment != b.Experiment {
			return a.Experiment < b.Experiment
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		if c := params.ComparePoints(a.Params, b.Params); c != 0 {
			return c < 0
		}
		if a.Replicate != b.Replicate {
			return a.Replicate < b.Replicate
		}
		return a.RunID < b.RunID
	})
}

// Len is the number of runs.
func (r *Results) Len() int {
	_, rows := r.view()
	return len(rows)
}

// Runs returns the runs in table order. It builds a record of each, and
// keeps them: of many runs, [Results.All] or [Results.Rows] cost less.
func (r *Results) Runs() []*Record { return r.list() }

// All iterates over the runs in table order:
//
//	for run := range results.All() { ... }
//
// Each record is built when its turn comes and not kept by the results.
func (r *Results) All() iter.Seq[*Record] {
	return func(yield func(*Record) bool) {
		t, rows := r.view()
		for _, i := range rows {
			if !yield(t.record(i)) {
				return
			}
		}
	}
}

// Row is one run of [Results.Rows]: its fields read from the results'
// columns without building its record.
type Row struct {
	t   *runTable
	row int32
}

// Rows iterates over the runs in table order without building a record
// per run, the cheap way to read a million of them:
//
//	for run := range results.Rows() {
//		lr, _ := run.Param("lr")
//		loss, ok := run.Metric("loss")
//	}
func (r *Results) Rows() iter.Seq[Row] {
	return func(yield func(Row) bool) {
		t, rows := r.view()
		for _, i := range rows {
			if !yield(Row{t, i}) {
				return
			}
		}
	}
}

// RunID is the run's ID.
func (w Row) RunID() string { return w.t.runID(w.row) }

// Status is the run's status.
func (w Row) Status() store.Status { return w.t.statusOf(w.row) }

// Experiment is the run's experiment name and version.
func (w Row) Experiment() (name, version string) {
	e := w.t.exps[w.t.exp[w.row]]
	return e.name, e.version
}

// Replicate is the run's seed replicate.
func (w Row) Replicate() int { return int(w.t.replicate[w.row]) }

// Error is the run's error, if it failed.
func (w Row) Error() string { return w.t.errs.get(w.row) }

// Param is the value of a param of the run, and whether it has it.
func (w Row) Param(name string) (any, bool) {
	i, ok := w.t.paramIdx[name]
	if !ok {
		return nil, false
	}
	return w.t.params[i].value(w.row)
}

// Metric is the value of a metric of the run (NaN: null), and whether it
// has it.
func (w Row) Metric(name string) (float64, bool) {
	i, ok := w.t.metricIdx[name]
	if !ok {
		return 0, false
	}
	return w.t.metrics[i].value(w.row)
}

// Record is the run's full record, built from the columns.
func (w Row) Record() *Record { return w.t.record(w.row) }

// StoreDir is the store the results were read from.
func (r *Results) StoreDir() string { return r.dir }

// Filter returns the runs for which keep is true.
func (r *Results) Filter(keep func(*Record) bool) *Results {
	t, rows := r.view()
	var out []int32
	for _, i := range rows {
		if keep(t.record(i)) {
			out = append(out, i)
		}
	}
	return r.derive(out)
}

// filterRows returns the rows for which keep is true.
func (r *Results) filterRows(keep func(t *runTable, row int32) bool) *Results {
	t, rows := r.view()
	var out []int32
	for _, i := range rows {
		if keep(t, i) {
			out = append(out, i)
		}
	}
	return r.derive(out)
}

// WithStatus returns the runs that have one of the given statuses.
func (r *Results) WithStatus(statuses ...store.Status) *Results {
	t, _ := r.view()
	var want [256]bool
	for i, s := range t.statuses {
		want[i] = slices.Contains(statuses, s)
	}
	return r.filterRows(func(t *runTable, row int32) bool { return want[t.status[row]] })
}

// Completed returns the completed runs.
func (r *Results) Completed() *Results { return r.WithStatus(store.StatusCompleted) }

// Where returns the runs whose param name equals value. Numbers compare by
// value, whatever their Go type: Where("n", 100), Where("n", int64(100))
// and Where("n", 100.0) all match n = 100; other values compare by their
// canonical JSON. A name that no run has is an error (see [Results]): the
// returned results are empty, and their Err says so.
func (r *Results) Where(name string, value any) *Results {
	if err := r.names().param(name); err != nil {
		out := r.derive(nil)
		out.setErr(err)
		r.setErr(err)
		return out
	}
	t, _ := r.view()
	var match func(v any) bool
	if want, ok := number(value); ok {
		match = func(v any) bool {
			got, ok := number(v)
			return ok && got.equal(want)
		}
	} else {
		want, err := params.Canonical(value)
		if err != nil {
			out := r.derive(nil)
			out.setErr(fmt.Errorf("Where(%q, %v): %w", name, value, err))
			return out
		}
		match = func(v any) bool {
			got, err := params.Canonical(v)
			return err == nil && string(got) == string(want)
		}
	}
	i, ok := t.paramIdx[name]
	if !ok {
		return r.derive(nil)
	}
	c := t.params[i]
	// Each distinct value is judged once.
	hit := make([]bool, len(c.values)+1)
	for id, v := range c.values {
		hit[id+1] = match(v)
	}
	return r.filterRows(func(_ *runTable, row int32) bool { return hit[c.ids[row]] })
}

// Counts returns the number of runs per status.
func (r *Results) Counts() map[store.Status]int {
	t, rows := r.view()
	var n [256]int
	for _, i := range rows {
		n[t.status[i]]++
	}
	c := map[store.Status]int{}
	for i, s := range t.statuses {
		if n[i] > 0 {
			c[s] = n[i]
		}
	}
	return c
}

// Metric returns the values of a metric over the runs that have it, in table
// order; NaN stands for a null value. A name that no run has as a metric is
// an error (see [Results]): Metric returns nil, and Err says so.
func (r *Results) Metric(name string) []float64 {
	if err := r.names().metric(name); err != nil {
		r.setErr(err)
		return nil
	}
	t, rows := r.view()
	i, ok := t.metricIdx[name]
	if !ok {
		return nil
	}
	c := t.metrics[i]
	var out []float64
	for _, row := range rows {
		if v, ok := c.value(row); ok {
			out = append(out, v)
		}
	}
	return out
}

// Mean is the mean of a metric over the runs that have a finite value; NaN
// when none has, or when no run has the metric at all, which is an error
// that Err reports (see [Results]).
func (r *Results) Mean(name string) float64 {
	var sum float64
	var n int
	for _, v := range r.Metric(name) {
		if !math.IsNaN(v) {
			sum += v
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

func (r *Results) String() string {
	c := r.Counts()
	return fmt.Sprintf("%d runs (%d completed, %d failed, %d cancelled, %d running) in %s",
		r.Len(), c[store.StatusCompleted], c[store.StatusFailed], c[store.StatusCancelled], c[store.StatusRunning], r.dir)
}
