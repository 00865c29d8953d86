package launcher

import (
	"bufio"
	"encoding/csv"
	"errors"
	"io"
	"slices"
	"strconv"

	"github.com/metalab-hpc/metalab/store"
)

// The series export (`results --format series`): one row per point of a
// series (a metric captured with a step), long rather than wide, so that
// pandas pivots it as it likes:
//
//	df.pivot_table(index="step", columns="lr", values="value")
//
// Its columns are run_id, status, replicate, the params (a param named as
// another column gets the prefix "param_"), then metric, step and value;
// runs of several experiment versions are led by experiment and version.
// A null value (a non-finite number) is an empty cell, NaN in pandas.

// seriesLead and seriesTrail are the fixed columns of the series export.
var (
	seriesLead  = []string{"run_id", "status", "replicate"}
	seriesTrail = []string{"metric", "step", "value"}
)

// seriesColumns names the columns of the series export of runs with the
// params pset, of several experiment versions or one.
func seriesColumns(pset map[string]bool, several bool) []column {
	var cols []column
	if several {
		for _, c := range experimentColumns {
			cols = append(cols, column{header: c, kind: 'f', name: c})
		}
	}
	for _, c := range seriesLead {
		cols = append(cols, column{header: c, kind: 'f', name: c})
	}
	fixed := slices.Concat(experimentColumns, seriesLead, seriesTrail)
	for _, p := range sortedKeys(pset) {
		h := p
		if slices.Contains(fixed, p) {
			h = "param_" + p
		}
		cols = append(cols, column{header: h, kind: 'p', name: p})
	}
	// metric, step and value are written by seriesExport.write.
	return cols
}

// seriesExport writes the series export: a header row, then a row per
// point. [Results.WriteSeries] and the streamed export of a store both
// write through it.
type seriesExport struct {
	cw   *csv.Writer
	cols []column
	row  []string
}

func newSeriesExport(w io.Writer, cols []column) (*seriesExport, error) {
	e := &seriesExport{cw: csv.NewWriter(w), cols: cols, row: make([]string, len(cols)+len(seriesTrail))}
	for i, c := range cols {
		e.row[i] = c.header
	}
	copy(e.row[len(cols):], seriesTrail)
	if err := e.cw.Write(e.row); err != nil {
		return nil, err
	}
	return e, nil
}

// write writes the rows of run's series: by series name, each in the order
// its points were captured.
func (e *seriesExport) write(run *Record) error {
	if len(run.Series) == 0 {
		return nil
	}
	for i, c := range e.cols {
		e.row[i] = cell(run, c)
	}
	n := len(e.cols)
	names := make([]string, 0, len(run.Series))
	for m := range run.Series {
		names = append(names, m)
	}
	slices.Sort(names)
	for _, m := range names {
		for _, p := range run.Series[m] {
			e.row[n], e.row[n+1], e.row[n+2] = m, strconv.FormatInt(p.Step, 10), ""
			if p.Value != nil {
				e.row[n+2] = strconv.FormatFloat(*p.Value, 'g', -1, 64)
			}
			if err := e.cw.Write(e.row); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *seriesExport) flush() error {
	e.cw.Flush()
	return e.cw.Error()
}

// WriteSeries writes the series export of the runs, one CSV row per point
// of a series: run_id, status, replicate, the params, metric, step, value.
// pandas.read_csv reads it as is, and pivots it by step.
func (r *Results) WriteSeries(w io.Writer) error {
	t, rows := r.view()
	e, err := newSeriesExport(w, seriesColumns(r.ownNames().params, len(r.Experiments()) > 1))
	if err != nil {
		return err
	}
	// Only a record read in full has a series.
	for _, i := range rows {
		if run := t.fullRecord(i); run != nil {
			if err := e.write(run); err != nil {
				return err
			}
		}
	}
	return e.flush()
}

// streamSeries writes the series export of st's runs (those with one of
// statuses, or all, of the experiments only picks) without holding them,
// in two passes as [streamCSV] does: the first finds the param names, the
// second writes the rows. Of a damaged store it writes every record it can
// read, and then returns the [*store.DamageError].
func streamSeries(st *store.Store, statuses []store.Status, only experimentFilter, w io.Writer) error {
	sn, err := st.Snapshot()
	if err != nil {
		return err
	}
	pset, exps := map[string]bool{}, map[string]bool{}
	err = sn.Lines(func(line []byte) error {
		k, err := store.ScanRecordKeys(line)
		if err != nil || !hasStatus(statuses, k.Status) || !only.matchKeys(k) {
			return nil // a damaged line: the second pass reports it
		}
		exps[store.Ref(k.Experiment, k.Version)] = true
		for _, p := range k.Params {
			pset[p] = true
		}
		return nil
	})
	if err != nil && !errors.As(err, new(*store.DamageError)) {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	e, err := newSeriesExport(bw, seriesColumns(pset, len(exps) > 1))
	if err != nil {
		return err
	}
	damage := sn.Records(func(run *store.Record) error {
		if !hasStatus(statuses, run.Status) || !only.match(run) {
			return nil
		}
		return e.write(run)
	})
	if damage != nil && !errors.As(damage, new(*store.DamageError)) {
		return damage
	}
	if err := e.flush(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return damage
}
