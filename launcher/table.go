package launcher

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/store"
)

// The columnar form of a store's runs, which [Results] reads and filters
// without a record object per run: a million runs held as records cost
// 1.6 GB and 11.5 s to load (docs/performance.md, scale). Each fixed field
// is a slice indexed by row; params and metrics are columns keyed by
// name, a param's values interned (a sweep's grid has few distinct
// values), a metric's a float slice with a bitset of the rows that have
// it. A [Record] is built from the columns when asked for, one at a time.
// What the columns do not keep (series, data, artifacts, logs, a stack,
// log references) is rare in a sweep's records and costly to hold in
// columns: the records that have any are decoded in full and kept as
// they are (runTable.full).

// runTable holds the runs of a store (or the records given to a
// [Results]) in columns; rows are in the order they were read.
type runTable struct {
	n   int
	ids [][8]byte        // the run ID as bytes, when it is 16 hex digits
	odd map[int32]string // other run IDs

	status    []uint8 // index into statuses
	statuses  []store.Status
	exp       []uint16 // index into exps
	exps      []expRef
	replicate []int32
	seed      []uint64
	started   []int64 // UnixNano; noTime for the zero time
	ended     []int64

	seedBase, pid, peakRSS, slurmRestart, exitCode intCol
	hasExit                                        []uint64 // bitset: exit_code present
	code, errs, host, writer, signal               strCol
	slurmJob, slurmArray, slurmTask                strCol

	params    []*paramCol
	paramIdx  map[string]int
	metrics   []*metricCol
	metricIdx map[string]int

	full map[int32]*Record // rows read in full (see above)
	recs []*Record         // when the table was built from records: them

	// While reading: the rows expected, and the columns of the last
	// row's params and metrics by position (lines of one sweep list the
	// same names in the same order), and its metric values.
	capacity            int
	lastParam, lastMetr []int
	metricVals          []float64
}

// noTime stands for the zero time in the time columns.
const noTime = math.MinInt64

type expRef struct{ name, version string }

// strCol is a string column, interned. Until a second value appears it
// holds none per row: most such fields (the code, the host) are one value
// for a whole sweep.
type strCol struct {
	vals  []string
	index map[string]uint32
	ids   []uint32 // nil: every row so far has vals[0]
	// capacity is the rows expected, allocated when a second value
	// appears.
	capacity int
}

func (c *strCol) set(row int, s []byte) {
	id, ok := c.index[string(s)]
	if !ok {
		if c.index == nil {
			c.index = map[string]uint32{}
		}
		id = uint32(len(c.vals))
		c.vals = append(c.vals, string(s))
		c.index[string(s)] = id
	}
	if c.ids == nil {
		if id == 0 {
			return
		}
		c.ids = make([]uint32, row, max(row+1, c.capacity))
	}
	c.ids = append(c.ids, id)
}

func (c *strCol) get(row int32) string {
	if c.ids == nil {
		if len(c.vals) == 0 {
			return ""
		}
		return c.vals[0]
	}
	return c.vals[c.ids[row]]
}

// intCol is an int64 column; like strCol, a single value until a second
// one appears.
type intCol struct {
	first int64
	set1  bool
	vals  []int64
	// capacity is the rows expected, allocated when a second value
	// appears.
	capacity int
}

func (c *intCol) set(row int, v int64) {
	if c.vals == nil {
		if !c.set1 {
			c.first, c.set1 = v, true
		}
		if v == c.first {
			return
		}
		c.vals = make([]int64, row, max(row+1, c.capacity))
		for i := range c.vals {
			c.vals[i] = c.first
		}
	}
	c.vals = append(c.vals, v)
}

func (c *intCol) get(row int32) int64 {
	if c.vals == nil {
		return c.first
	}
	return c.vals[row]
}

// paramCol is one param over the rows: the index of each row's value
// (0: the row lacks the param) among the distinct values.
type paramCol struct {
	name   string
	ids    []uint32
	values []any             // values[id-1]
	byText map[string]uint32 // a value's JSON text → its id
	rank   []int32           // the order of values[id-1] (equal values: equal ranks)
	canon  []uint32          // the id of the first value equal to values[id-1]
}

func (c *paramCol) value(row int32) (any, bool) {
	if int(row) >= len(c.ids) || c.ids[row] == 0 {
		return nil, false
	}
	return c.values[c.ids[row]-1], true
}

// metricCol is one metric over the rows; NaN stands for null, as in
// [capture.Metrics].
type metricCol struct {
	name string
	vals []float64
	has  []uint64 // bitset of the rows that have the metric
}

func (c *metricCol) value(row int32) (float64, bool) {
	if int(row)>>6 >= len(c.has) || c.has[row>>6]&(1<<(row&63)) == 0 {
		return 0, false
	}
	return c.vals[row], true
}

func setBit(bits []uint64, row int) []uint64 {
	for len(bits) <= row>>6 {
		bits = append(bits, 0)
	}
	bits[row>>6] |= 1 << (row & 63)
	return bits
}

func newRunTable(capacity int) *runTable {
	t := &runTable{
		ids:       make([][8]byte, 0, capacity),
		status:    make([]uint8, 0, capacity),
		exp:       make([]uint16, 0, capacity),
		replicate: make([]int32, 0, capacity),
		seed:      make([]uint64, 0, capacity),
		started:   make([]int64, 0, capacity),
		ended:     make([]int64, 0, capacity),
		paramIdx:  map[string]int{}, metricIdx: map[string]int{}, capacity: capacity,
	}
	for _, c := range []*strCol{&t.code, &t.errs, &t.host, &t.writer, &t.signal, &t.slurmJob, &t.slurmArray, &t.slurmTask} {
		c.capacity = capacity
	}
	for _, c := range []*intCol{&t.seedBase, &t.pid, &t.peakRSS, &t.slurmRestart, &t.exitCode} {
		c.capacity = capacity
	}
	return t
}

// tableOf is the table of records given: each row is the record itself.
func tableOf(runs []*Record) *runTable {
	t := newRunTable(len(runs))
	for _, r := range runs {
		t.addRecord(r)
	}
	t.recs = runs
	t.finish()
	return t
}

// readTable reads the winning records of sn into a table. Of a damaged
// store it reads what it can and returns the [*store.DamageError] too.
// The lines are scanned on all CPUs, and added to the columns in order.
func readTable(sn *store.Snapshot) (*runTable, error) {
	t := newRunTable(sn.Len())
	type parsed struct {
		f    store.FlatRecord
		line []byte
		rec  *Record // the line decoded in full; nil with f
		bad  bool    // not the run's record
	}
	err := store.ParseLines(sn, func(line, id []byte) *parsed {
		p := &parsed{line: line}
		p.f.Params, p.f.Metrics = make([]store.FlatMember, 0, 8), make([]store.FlatMember, 0, 8)
		if store.ScanFlatRecord(line, &p.f) && !p.f.Other && bytes.Equal(p.f.RunID, id) {
			return p
		}
		rec, err := store.DecodeRecord(line)
		p.rec, p.bad = rec, err != nil || rec.RunID != string(id)
		return p
	}, func(p *parsed) (bool, error) {
		if p.bad {
			return false, nil
		}
		if p.rec == nil {
			if t.addFlat(&p.f) {
				return true, nil
			}
			// What the columns cannot hold as it is (see addFlat): the
			// line decoded in full, whose run ID the scanner read.
			rec, err := store.DecodeRecord(p.line)
			if err != nil || rec.RunID != string(p.f.RunID) {
				return false, nil
			}
			p.rec = rec
		}
		t.addRecord(p.rec)
		if t.full == nil {
			t.full = map[int32]*Record{}
		}
		t.full[int32(t.n-1)] = p.rec
		return true, nil
	})
	var de *store.DamageError
	if err != nil && !errors.As(err, &de) {
		return nil, err
	}
	t.finish()
	return t, err
}

// unixNano is t in the time columns, and whether it fits them.
func unixNano(t time.Time) (int64, bool) {
	if t.IsZero() {
		return noTime, true
	}
	if y := t.Year(); y < 1678 || y > 2261 {
		return 0, false
	}
	return t.UnixNano(), true
}

// addFlat adds a row of f, unless f holds what the columns cannot say as
// a record would (then it adds nothing and returns false).
func (t *runTable) addFlat(f *store.FlatRecord) bool {
	st := store.Status(f.Status)
	if len(f.RunID) == 0 || !st.Valid() || f.Replicate != int64(int32(f.Replicate)) {
		return false
	}
	started, ok1 := unixNano(f.Started)
	ended, ok2 := unixNano(f.Ended)
	if !ok1 || !ok2 {
		return false
	}
	// Check the values before touching a column: a row is added whole or
	// not at all.
	t.metricVals = t.metricVals[:0]
	for _, m := range f.Metrics {
		v := math.NaN()
		if string(m.Value) != "null" {
			var ok bool
			if v, ok = parseMetric(m.Value); !ok {
				return false
			}
		}
		t.metricVals = append(t.metricVals, v)
	}
	for _, p := range f.Params {
		if c, ok := t.paramIdx[string(p.Name)]; ok {
			if _, ok := t.params[c].byText[string(p.Value)]; ok {
				continue
			}
		}
		if _, ok := decodeParam(p.Value); !ok {
			return false
		}
	}
	row := t.n
	t.addID(f.RunID)
	t.addStatus(st)
	t.addExp(f.Experiment, f.Version)
	t.replicate = append(t.replicate, int32(f.Replicate))
	t.seed = append(t.seed, f.Seed)
	t.started = append(t.started, started)
	t.ended = append(t.ended, ended)
	t.seedBase.set(row, f.SeedBase)
	t.pid.set(row, f.PID)
	t.peakRSS.set(row, f.PeakRSSKB)
	t.slurmRestart.set(row, f.SlurmRestart)
	t.exitCode.set(row, f.ExitCode)
	if f.HasExitCode {
		t.hasExit = setBit(t.hasExit, row)
	}
	t.code.set(row, f.Code)
	t.errs.set(row, f.Error)
	t.host.set(row, f.Host)
	t.writer.set(row, f.Writer)
	t.signal.set(row, f.Signal)
	t.slurmJob.set(row, f.SlurmJobID)
	t.slurmArray.set(row, f.SlurmArrayJobID)
	t.slurmTask.set(row, f.SlurmTaskID)
	for k, p := range f.Params {
		c := t.paramAt(k, p.Name)
		id, ok := c.byText[string(p.Value)]
		if !ok {
			v, _ := decodeParam(p.Value)
			id = c.intern(string(p.Value), v)
		}
		c.set(row, id)
	}
	for k, m := range f.Metrics {
		t.metricAt(k, m.Name).set(row, t.metricVals[k])
	}
	t.n++
	return true
}

// paramAt is the column of the param named name, the k-th of its line.
func (t *runTable) paramAt(k int, name []byte) *paramCol {
	if k < len(t.lastParam) && t.params[t.lastParam[k]].name == string(name) {
		return t.params[t.lastParam[k]]
	}
	c := t.param(string(name))
	for len(t.lastParam) <= k {
		t.lastParam = append(t.lastParam, 0)
	}
	t.lastParam[k] = t.paramIdx[c.name]
	return c
}

// metricAt is the column of the metric named name, the k-th of its line.
func (t *runTable) metricAt(k int, name []byte) *metricCol {
	if k < len(t.lastMetr) && t.metrics[t.lastMetr[k]].name == string(name) {
		return t.metrics[t.lastMetr[k]]
	}
	c := t.metric(string(name))
	for len(t.lastMetr) <= k {
		t.lastMetr = append(t.lastMetr, 0)
	}
	t.lastMetr[k] = t.metricIdx[c.name]
	return c
}

// addRecord adds a row of rec.
func (t *runTable) addRecord(r *Record) {
	row := t.n
	t.addID([]byte(r.RunID))
	t.addStatus(r.Status)
	t.addExp([]byte(r.Experiment), []byte(r.Version))
	t.replicate = append(t.replicate, int32(r.Replicate))
	t.seed = append(t.seed, r.Seed)
	started, _ := unixNano(r.Started)
	ended, _ := unixNano(r.Ended)
	t.started = append(t.started, started)
	t.ended = append(t.ended, ended)
	t.seedBase.set(row, r.SeedBase)
	t.pid.set(row, int64(r.PID))
	t.peakRSS.set(row, r.PeakRSSKB)
	t.slurmRestart.set(row, int64(r.SlurmRestart))
	var exit int64
	if r.ExitCode != nil {
		exit = int64(*r.ExitCode)
		t.hasExit = setBit(t.hasExit, row)
	}
	t.exitCode.set(row, exit)
	t.code.set(row, []byte(r.Code))
	t.errs.set(row, []byte(r.Error))
	t.host.set(row, []byte(r.Host))
	t.writer.set(row, []byte(r.Writer))
	t.signal.set(row, []byte(r.Signal))
	t.slurmJob.set(row, []byte(r.SlurmJobID))
	t.slurmArray.set(row, []byte(r.SlurmArrayJobID))
	t.slurmTask.set(row, []byte(r.SlurmTaskID))
	for name, v := range r.Params {
		c := t.param(name)
		text, err := params.Canonical(v)
		if err != nil {
			text = []byte("\x00" + params.Format(v)) // no JSON text: its own value
		}
		id, ok := c.byText[string(text)]
		if !ok {
			id = c.intern(string(text), v)
		}
		c.set(row, id)
	}
	for name, v := range r.Metrics {
		t.metric(name).set(row, v)
	}
	t.n++
}

func (t *runTable) addID(id []byte) {
	var b [8]byte
	if len(id) == 16 && isLowerHexID(id) {
		hex.Decode(b[:], id)
	} else {
		if t.odd == nil {
			t.odd = map[int32]string{}
		}
		t.odd[int32(t.n)] = string(id)
	}
	t.ids = append(t.ids, b)
}

func isLowerHexID(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func (t *runTable) addStatus(s store.Status) {
	i := slices.Index(t.statuses, s)
	if i < 0 {
		i = len(t.statuses)
		t.statuses = append(t.statuses, s)
	}
	t.status = append(t.status, uint8(i))
}

func (t *runTable) addExp(name, version []byte) {
	for i, e := range t.exps {
		if e.name == string(name) && e.version == string(version) {
			t.exp = append(t.exp, uint16(i))
			return
		}
	}
	t.exps = append(t.exps, expRef{string(name), string(version)})
	t.exp = append(t.exp, uint16(len(t.exps)-1))
}

func (t *runTable) param(name string) *paramCol {
	if i, ok := t.paramIdx[name]; ok {
		return t.params[i]
	}
	c := &paramCol{name: name, byText: map[string]uint32{}, ids: make([]uint32, 0, t.capacity)}
	t.paramIdx[name] = len(t.params)
	t.params = append(t.params, c)
	return c
}

func (t *runTable) metric(name string) *metricCol {
	if i, ok := t.metricIdx[name]; ok {
		return t.metrics[i]
	}
	c := &metricCol{name: name, vals: make([]float64, 0, t.capacity), has: make([]uint64, 0, (t.capacity+63)/64)}
	t.metricIdx[name] = len(t.metrics)
	t.metrics = append(t.metrics, c)
	return c
}

func (c *paramCol) intern(text string, v any) uint32 {
	c.values = append(c.values, v)
	id := uint32(len(c.values))
	c.byText[text] = id
	return id
}

func (c *paramCol) set(row int, id uint32) {
	if len(c.ids) == row {
		c.ids = append(c.ids, id)
		return
	}
	if len(c.ids) < row {
		c.ids = append(c.ids, make([]uint32, row-len(c.ids))...)
	}
	c.ids = append(c.ids[:row], id)
}

func (c *metricCol) set(row int, v float64) {
	if len(c.vals) == row {
		c.vals = append(c.vals, v)
		if row>>6 < len(c.has) {
			c.has[row>>6] |= 1 << (row & 63)
			return
		}
		c.has = setBit(c.has, row)
		return
	}
	if len(c.vals) < row {
		c.vals = append(c.vals, make([]float64, row-len(c.vals))...)
	}
	c.vals = append(c.vals[:row], v)
	c.has = setBit(c.has, row)
}

// parseMetric reads a metric's JSON number as capture.Metrics does.
func parseMetric(b []byte) (float64, bool) {
	if len(b) == 0 || !(b[0] == '-' || '0' <= b[0] && b[0] <= '9') || bytes.ContainsAny(b, "_xXpPiInN") {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(b), 64)
	return f, err == nil
}

// decodeParam decodes one param value's JSON text as params.Point does.
func decodeParam(text []byte) (any, bool) {
	var p params.Point
	b := make([]byte, 0, len(text)+6)
	b = append(append(append(b, `{"v":`...), text...), '}')
	if err := p.UnmarshalJSON(b); err != nil {
		return nil, false
	}
	v, ok := p["v"]
	return v, ok
}

// finish pads the columns to the rows and orders each param's values.
func (t *runTable) finish() {
	for _, c := range t.params {
		if len(c.ids) < t.n {
			c.ids = append(c.ids, make([]uint32, t.n-len(c.ids))...)
		}
		c.byText = nil
		order := make([]int, len(c.values))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int { return params.Compare(c.values[a], c.values[b]) })
		c.rank = make([]int32, len(c.values))
		rank := int32(-1)
		for k, i := range order {
			if k == 0 || params.Compare(c.values[order[k-1]], c.values[i]) != 0 {
				rank++
			}
			c.rank[i] = rank
		}
		// Values group as Summary groups them: by canonical encoding.
		c.canon = make([]uint32, len(c.values))
		first := map[string]uint32{}
		for i, v := range c.values {
			text, err := params.Canonical(v)
			if err != nil {
				c.canon[i] = uint32(i + 1)
				continue
			}
			if id, ok := first[string(text)]; ok {
				c.canon[i] = id
			} else {
				first[string(text)] = uint32(i + 1)
				c.canon[i] = uint32(i + 1)
			}
		}
	}
	for _, c := range t.metrics {
		if len(c.vals) < t.n {
			c.vals = append(c.vals, make([]float64, t.n-len(c.vals))...)
		}
	}
}

// runID is the run ID of row.
func (t *runTable) runID(row int32) string {
	if s, ok := t.odd[row]; ok {
		return s
	}
	return hex.EncodeToString(t.ids[row][:])
}

func (t *runTable) statusOf(row int32) store.Status { return t.statuses[t.status[row]] }

func timeOf(ns int64) time.Time {
	if ns == noTime {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// record is the record of row: the one given or read in full, or one
// built from the columns (a new one each call).
func (t *runTable) record(row int32) *Record {
	if t.recs != nil {
		return t.recs[row]
	}
	if r := t.full[row]; r != nil {
		return r
	}
	e := t.exps[t.exp[row]]
	r := &Record{
		Format: store.RecordFormat, RunID: t.runID(row), Status: t.statusOf(row),
		Experiment: e.name, Version: e.version, Params: params.Point{},
		SeedBase: t.seedBase.get(row), Replicate: int(t.replicate[row]), Seed: t.seed[row],
		Code: t.code.get(row), Error: t.errs.get(row), Signal: t.signal.get(row),
		Started: timeOf(t.started[row]), Ended: timeOf(t.ended[row]),
		Host: t.host.get(row), PID: int(t.pid.get(row)), Writer: t.writer.get(row), PeakRSSKB: t.peakRSS.get(row),
		SlurmJobID: t.slurmJob.get(row), SlurmArrayJobID: t.slurmArray.get(row), SlurmTaskID: t.slurmTask.get(row),
		SlurmRestart: int(t.slurmRestart.get(row)),
	}
	if int(row)>>6 < len(t.hasExit) && t.hasExit[row>>6]&(1<<(row&63)) != 0 {
		x := int(t.exitCode.get(row))
		r.ExitCode = &x
	}
	for _, c := range t.params {
		if v, ok := c.value(row); ok {
			r.Params[c.name] = v
		}
	}
	for _, c := range t.metrics {
		if v, ok := c.value(row); ok {
			if r.Metrics == nil {
				r.Metrics = make(map[string]float64, len(t.metrics))
			}
			r.Metrics[c.name] = v
		}
	}
	return r
}

// fullRecord is the record of row if it was given or read in full, else
// nil: a row of the columns alone has no series, data or artifacts.
func (t *runTable) fullRecord(row int32) *Record {
	if t.recs != nil {
		return t.recs[row]
	}
	return t.full[row]
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// paramOrder is the indexes of t.params by name.
func (t *runTable) paramOrder() []int {
	order := make([]int, len(t.params))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmpStr(t.params[a].name, t.params[b].name) })
	return order
}

// sorted returns rows in table order (see [sortRuns]).
func (t *runTable) sorted(rows []int32) []int32 {
	order := t.paramOrder()
	cols := make([]*paramCol, len(order))
	for k, i := range order {
		cols[k] = t.params[i]
	}
	var expRank []int
	if len(t.exps) > 1 {
		idx := make([]int, len(t.exps))
		for i := range idx {
			idx[i] = i
		}
		slices.SortFunc(idx, func(a, b int) int {
			if c := cmpStr(t.exps[a].name, t.exps[b].name); c != 0 {
				return c
			}
			return cmpStr(t.exps[a].version, t.exps[b].version)
		})
		expRank = make([]int, len(t.exps))
		for r, i := range idx {
			expRank[i] = r
		}
	}
	slices.SortFunc(rows, func(a, b int32) int {
		if expRank != nil {
			if c := expRank[t.exp[a]] - expRank[t.exp[b]]; c != 0 {
				return c
			}
		}
		for _, c := range cols {
			ra, rb := int32(-1), int32(-1)
			if id := c.ids[a]; id != 0 {
				ra = c.rank[id-1]
			}
			if id := c.ids[b]; id != 0 {
				rb = c.rank[id-1]
			}
			if ra != rb {
				return int(ra) - int(rb)
			}
		}
		if ra, rb := t.replicate[a], t.replicate[b]; ra != rb {
			return int(ra) - int(rb)
		}
		if t.odd == nil {
			return bytes.Compare(t.ids[a][:], t.ids[b][:])
		}
		return cmpStr(t.runID(a), t.runID(b))
	})
	return rows
}
