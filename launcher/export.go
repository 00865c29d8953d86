package launcher

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/metalab-hpc/metalab/internal/tabcell"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/store"
)

// fixedColumns lead every export; timings, the code fingerprint (see
// [Coder]) and the error follow the params and metrics. Runs of more than one experiment version (a store holds
// several) are led by the experiment and version of each.
var (
	experimentColumns = []string{"experiment", "version"}
	leadColumns       = []string{"run_id", "status", "replicate", "seed"}
	trailColumns      = []string{"started", "ended", "duration_s", "code", "error"}
)

// column is one export column: a fixed field, a param or a metric.
type column struct {
	header string
	kind   byte // 'f' fixed, 'p' param, 'm' metric
	name   string
}

// columns lists the export columns of the results: the experiment and
// version when the runs are of several, the fixed lead, one column per
// param and per metric under its own name (a param or metric whose name
// clashes with another column gets a "param_" or "metric_" prefix), then
// the timings. The names come from the results' columns (table.go).
func (r *Results) columns() []column {
	k := r.ownNames()
	return columnsOf(k.params, k.metrics, len(r.Experiments()) > 1)
}

// experimentsOf lists the experiment versions of runs, as NAME@VERSION,
// sorted.
func experimentsOf(runs []*Record) []string {
	seen := map[string]bool{}
	for _, r := range runs {
		seen[store.Ref(r.Experiment, r.Version)] = true
	}
	return sortedKeys(seen)
}

// columnsOf lists the export columns of runs with the given param and
// metric names, of several experiment versions or one.
func columnsOf(pset, mset map[string]bool, several bool) []column {
	fixed := map[string]bool{}
	for _, c := range slices.Concat(experimentColumns, leadColumns, trailColumns) {
		fixed[c] = true
	}
	var cols []column
	if several {
		for _, c := range experimentColumns {
			cols = append(cols, column{header: c, kind: 'f', name: c})
		}
	}
	for _, c := range leadColumns {
		cols = append(cols, column{header: c, kind: 'f', name: c})
	}
	for _, k := range sortedKeys(pset) {
		h := k
		if fixed[k] || mset[k] {
			h = "param_" + k
		}
		cols = append(cols, column{header: h, kind: 'p', name: k})
	}
	for _, k := range sortedKeys(mset) {
		h := k
		if fixed[k] || pset[k] {
			h = "metric_" + k
		}
		cols = append(cols, column{header: h, kind: 'm', name: k})
	}
	for _, c := range trailColumns {
		cols = append(cols, column{header: c, kind: 'f', name: c})
	}
	return cols
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// cell renders one value for CSV (full precision; missing and null are
// empty, which pandas reads as NaN).
func cell(r *Record, c column) string {
	switch c.kind {
	case 'p':
		v, ok := r.Params[c.name]
		if !ok {
			return ""
		}
		return params.Format(v)
	case 'm':
		v, ok := r.Metrics[c.name]
		if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
			return ""
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	switch c.name {
	case "experiment":
		return r.Experiment
	case "version":
		return r.Version
	case "run_id":
		return r.RunID
	case "status":
		return string(r.Status)
	case "replicate":
		return strconv.Itoa(r.Replicate)
	case "seed":
		return strconv.FormatUint(r.Seed, 10)
	case "started":
		return formatTime(r.Started)
	case "ended":
		return formatTime(r.Ended)
	case "duration_s":
		if r.Ended.IsZero() {
			return ""
		}
		return strconv.FormatFloat(r.Duration().Seconds(), 'f', 6, 64)
	case "code":
		return r.Code
	case "error":
		return firstLine(r.Error)
	}
	return ""
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// WriteCSV writes one row per run with a header row (see the README for the
// columns). pandas.read_csv reads it as is.
func (r *Results) WriteCSV(w io.Writer) error {
	return r.writeCSV(w, r.columns())
}

// csvExport writes a CSV export: the header row of its columns, then a row
// per run. [Results.WriteCSV] and the streamed export of a store both
// write through it, so that their bytes agree.
type csvExport struct {
	cw   *csv.Writer
	cols []column
	row  []string // reused for every row
}

// newCSVExport writes the header row of cols to w: each column's header,
// as [columnsOf] names them.
func newCSVExport(w io.Writer, cols []column) (*csvExport, error) {
	e := &csvExport{cw: csv.NewWriter(w), cols: cols, row: make([]string, len(cols))}
	for i, c := range cols {
		e.row[i] = c.header
	}
	if err := e.cw.Write(e.row); err != nil {
		return nil, err
	}
	return e, nil
}

// write writes the row of run.
func (e *csvExport) write(run *Record) error {
	for i, c := range e.cols {
		e.row[i] = cell(run, c)
	}
	return e.cw.Write(e.row)
}

// flush writes what the csv.Writer buffers, and reports its first error.
func (e *csvExport) flush() error {
	e.cw.Flush()
	return e.cw.Error()
}

// WriteJSONL writes each run's full record as one JSON object a line.
func (r *Results) WriteJSONL(w io.Writer) error {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	for run := range r.All() {
		if err := enc.Encode(run); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// WriteJSON writes the runs' full records as one JSON array.
func (r *Results) WriteJSON(w io.Writer) error {
	runs := r.list()
	if runs == nil {
		runs = []*Record{}
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(runs)
}

// Table renders the runs as an aligned text table: run ID, status,
// replicate, params and metrics, one row per run.
func (r *Results) Table() string {
	var b strings.Builder
	r.WriteTable(&b)
	return b.String()
}

// WriteTable writes [Results.Table] to w: run ID, status, replicate, the
// params and metrics, and the error of runs that have one.
func (r *Results) WriteTable(w io.Writer) error {
	return r.writeTable(w, r.tableColumns())
}

// tableColumns are the columns of the table of runs: those of the CSV
// export but the seed and timings, the code only when the runs came from
// more than one (after an edit of the script, which runs are of which),
// and the error only when a run has one (the table of failed runs is where
// a person looks for why).
func (r *Results) tableColumns() []column {
	t, rows := r.view()
	failed := false
	for _, i := range rows {
		if t.errs.get(i) != "" {
			failed = true
			break
		}
	}
	codes := map[string]bool{}
	for _, i := range rows {
		if codes[t.code.get(i)] = true; len(codes) > 1 {
			break
		}
	}
	return pickTableColumns(r.columns(), failed, len(codes) > 1)
}

// pickTableColumns picks the columns of the table from those of the CSV
// export: the error only when a run failed, the code only when the runs
// came from several.
func pickTableColumns(all []column, failed, codes bool) []column {
	var cols []column
	for _, c := range all {
		switch {
		case c.kind != 'f', c.name == "experiment", c.name == "version", c.name == "run_id", c.name == "status", c.name == "replicate":
		case c.name == "error" && failed:
		case c.name == "code" && codes:
		default:
			continue
		}
		cols = append(cols, c)
	}
	return cols
}

// writeTable writes the runs as an aligned table of the given columns.
func (r *Results) writeTable(w io.Writer, cols []column) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for i, c := range cols {
		if i > 0 {
			fmt.Fprint(tw, "\t")
		}
		fmt.Fprint(tw, c.header)
	}
	fmt.Fprintln(tw)
	for run := range r.All() {
		for i, c := range cols {
			if i > 0 {
				fmt.Fprint(tw, "\t")
			}
			fmt.Fprint(tw, tableCell(run, c))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// writeCSV writes the runs as CSV with the given columns.
func (r *Results) writeCSV(w io.Writer, cols []column) error {
	cw, err := newCSVExport(w, cols)
	if err != nil {
		return err
	}
	for run := range r.All() {
		if err := cw.write(run); err != nil {
			return err
		}
	}
	return cw.flush()
}

func tableCell(r *Record, c column) string {
	switch c.kind {
	case 'm':
		v, ok := r.Metrics[c.name]
		switch {
		case !ok:
			return "-"
		case math.IsNaN(v) || math.IsInf(v, 0):
			return "null"
		}
		return strconv.FormatFloat(v, 'g', 6, 64)
	case 'p':
		return tabcell.Shorten(cell(r, c), 40)
	}
	if c.name == "error" {
		// The first line, as the CSV has it; 'logs' has the rest.
		return tabcell.Shorten(cell(r, c), 80)
	}
	return cell(r, c)
}
