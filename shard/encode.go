package shard

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// maxRuns bounds the runs of a decoded layout, so that a corrupt file can
// neither overflow the counts nor claim more runs than memory could hold.
const maxRuns = math.MaxInt32

// Format is the version of the encoding written by [Layout.Encode].
const Format = 1

// Encode writes l as JSON, one shard a line. Split(indexes 0-2499,
// Params{RunsPerTask: 1000, MaxArraySize: 2, MaxConcurrent: 1}) encodes as:
//
//	{"format":1,"runs":2500,"runs_per_task":1000,"arrays":[
//	{"tasks":2,"throttle":1,"after":[],"shards":[
//	"0-999",
//	"1000-1999"
//	]},
//	{"tasks":1,"throttle":1,"after":[0],"shards":[
//	"2000-2499"
//	]}
//	]}
//
// A shard is a comma-separated list of values and inclusive ranges of
// consecutive values, in run order, so a contiguous shard takes one range
// whatever its size.
func (l *Layout) Encode(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	buf := make([]byte, 0, 256)
	buf = fmt.Appendf(buf, `{"format":%d,"runs":%d,"runs_per_task":%d,"arrays":[`, Format, l.seq.n, l.RunsPerTask)
	p := 0
	for i, a := range l.Arrays {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = fmt.Appendf(buf, "\n"+`{"tasks":%d,"throttle":%d,"after":[`, a.Tasks, a.Throttle)
		for j, d := range a.After {
			if j > 0 {
				buf = append(buf, ',')
			}
			buf = strconv.AppendInt(buf, int64(d), 10)
		}
		buf = append(buf, `],"shards":[`...)
		for t := 0; t < a.Tasks; t++ {
			if t > 0 {
				buf = append(buf, ',')
			}
			q := min(p+l.RunsPerTask, l.seq.n)
			if p >= q {
				return fmt.Errorf("shard: encode: array %d task %d: the layout is inconsistent (no runs left)", i, t)
			}
			buf = append(buf, "\n\""...)
			buf = l.seq.appendRanges(buf, p, q)
			buf = append(buf, '"')
			p = q
			if len(buf) >= 32<<10 {
				if _, err := bw.Write(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
		}
		buf = append(buf, "\n]}"...)
	}
	if p != l.seq.n {
		return fmt.Errorf("shard: encode: the layout is inconsistent (its tasks hold %d of %d runs)", p, l.seq.n)
	}
	buf = append(buf, "\n]}\n"...)
	if _, err := bw.Write(buf); err != nil {
		return err
	}
	return bw.Flush()
}

type layoutJSON struct {
	Format      int         `json:"format"`
	Runs        int         `json:"runs"`
	RunsPerTask int         `json:"runs_per_task"`
	Arrays      []arrayJSON `json:"arrays"`
}

type arrayJSON struct {
	Tasks    int      `json:"tasks"`
	Throttle int      `json:"throttle"`
	After    []int    `json:"after"`
	Shards   []string `json:"shards"`
}

// Decode reads a layout written by [Layout.Encode], and checks everything
// that [Split] guarantees: shard sizes, task counts, dependencies on earlier
// arrays only, and every index non-negative and present once.
func Decode(r io.Reader) (*Layout, error) {
	var in layoutJSON
	if err := json.NewDecoder(r).Decode(&in); err != nil {
		return nil, fmt.Errorf("shard: decode layout: %w", err)
	}
	if in.Format != Format {
		return nil, fmt.Errorf("shard: decode layout: format %d, want %d", in.Format, Format)
	}
	bad := func(format string, args ...any) (*Layout, error) {
		return nil, fmt.Errorf("shard: decode layout: "+format, args...)
	}
	if in.RunsPerTask < 1 {
		return bad("runs_per_task %d, want at least 1", in.RunsPerTask)
	}
	if len(in.Arrays) == 0 {
		return bad("no arrays")
	}
	l := &Layout{RunsPerTask: in.RunsPerTask, Arrays: make([]Array, len(in.Arrays)), seq: newSeq()}
	// Every range makes at most one stretch; sizing them up front saves the
	// copies of growing by append.
	ranges := 0
	for _, a := range in.Arrays {
		for _, s := range a.Shards {
			ranges += 1 + strings.Count(s, ",")
		}
	}
	l.seq.stretches = make([]stretch, 0, ranges)
	for i, a := range in.Arrays {
		if a.Tasks < 1 || a.Tasks != len(a.Shards) {
			return bad("array %d has %d tasks and %d shards", i, a.Tasks, len(a.Shards))
		}
		if a.Throttle < 0 {
			return bad("array %d has throttle %d", i, a.Throttle)
		}
		for _, d := range a.After {
			if d < 0 || d >= i {
				return bad("array %d depends on array %d, which is not an earlier one", i, d)
			}
		}
		l.Arrays[i] = Array{Tasks: a.Tasks, Throttle: a.Throttle, After: a.After}
		for t, s := range a.Shards {
			if l.seq.n%l.RunsPerTask != 0 {
				return bad("array %d task %d follows a shard shorter than runs_per_task %d", i, t, l.RunsPerTask)
			}
			before := l.seq.n
			if err := parseRanges(&l.seq, s, l.RunsPerTask); err != nil {
				return bad("array %d task %d: %v", i, t, err)
			}
			if l.seq.n == before {
				return bad("array %d task %d: empty shard", i, t)
			}
			if l.seq.n > maxRuns {
				return bad("more than %d runs", maxRuns)
			}
		}
	}
	if l.seq.n != in.Runs {
		return bad("the shards hold %d runs, the header says %d", l.seq.n, in.Runs)
	}
	if err := l.seq.checkUnique(); err != nil {
		return nil, err
	}
	return l, nil
}

// parseRanges appends the values of "a-b,c" to s, and refuses more than limit
// values.
func parseRanges(s *seq, text string, limit int) error {
	n := 0
	for part := range strings.SplitSeq(text, ",") {
		a, b, isRange := strings.Cut(part, "-")
		lo, err := strconv.Atoi(a)
		hi := lo
		if err == nil && isRange {
			hi, err = strconv.Atoi(b)
		}
		// Atoi takes a sign; a range never has one.
		if err != nil || hi < lo || strings.Contains(part, "+") || (isRange && strings.Contains(b, "-")) {
			return fmt.Errorf("bad range %q in %q", part, text)
		}
		if hi-lo >= limit-n {
			return fmt.Errorf("more than %d runs in %q", limit, text)
		}
		n += hi - lo + 1
		s.appendRange(lo, hi)
	}
	return nil
}
