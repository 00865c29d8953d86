package launcher

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"slices"

	"github.com/metalab-hpc/metalab/store"
)

// Streaming exports write a store's results without holding them: a
// million-run store held in memory took 1.9 GiB, and sorting it took
// seconds. They write the runs in the store's record order (by segment, then
// position: stable from one call to the next), not in the table order of
// [Results].

// streamCSV writes the CSV export of st's runs (those with one of statuses,
// or all) in two passes: the first finds the columns, reading only the
// status, param names and metric names of each record; the second decodes
// the records and writes the rows. The columns and cells are those of
// [Results.WriteCSV].
//
// Of a damaged store it writes every record it can read, and then returns
// the [*store.DamageError] of the second pass.
func streamCSV(st *store.Store, statuses []store.Status, w io.Writer) error {
	sn, err := st.Snapshot()
	if err != nil {
		return err
	}
	pset, mset := map[string]bool{}, map[string]bool{}
	err = sn.Lines(func(line []byte) error {
		k, ok := scanRecordKeys(line)
		if !ok {
			// Not the shape the scanner knows: decode it in full.
			var r struct {
				Status  store.Status               `json:"status"`
				Params  map[string]json.RawMessage `json:"params"`
				Metrics map[string]json.RawMessage `json:"metrics"`
			}
			if json.Unmarshal(line, &r) != nil {
				// A damaged line; the second pass skips and reports it.
				return nil
			}
			k = recordKeys{status: string(r.Status)}
			for p := range r.Params {
				k.params = append(k.params, p)
			}
			for m := range r.Metrics {
				k.metrics = append(k.metrics, m)
			}
		}
		if !hasStatus(statuses, store.Status(k.status)) {
			return nil
		}
		for _, p := range k.params {
			pset[p] = true
		}
		for _, m := range k.metrics {
			mset[m] = true
		}
		return nil
	})
	if err != nil && !errors.As(err, new(*store.DamageError)) {
		return err
	}
	cols := columnsOf(pset, mset)
	bw := bufio.NewWriterSize(w, 1<<20)
	cw := csv.NewWriter(bw)
	row := make([]string, len(cols))
	for i, c := range cols {
		row[i] = c.header
	}
	if err := cw.Write(row); err != nil {
		return err
	}
	damage := sn.Records(func(run *store.Record) error {
		if !hasStatus(statuses, run.Status) {
			return nil
		}
		for i, c := range cols {
			row[i] = cell(run, c)
		}
		return cw.Write(row)
	})
	if damage != nil && !errors.As(damage, new(*store.DamageError)) {
		return damage
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return damage
}

// streamJSONL writes each run's full record as one JSON object a line, as
// [Results.WriteJSONL] does. Of a damaged store it writes every record it
// can read, and then returns the [*store.DamageError].
func streamJSONL(st *store.Store, statuses []store.Status, w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	damage := st.Records(func(run *store.Record) error {
		if !hasStatus(statuses, run.Status) {
			return nil
		}
		return enc.Encode(run)
	})
	if damage != nil && !errors.As(damage, new(*store.DamageError)) {
		return damage
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return damage
}

// hasStatus reports whether s is one of statuses, or statuses is empty.
func hasStatus(statuses []store.Status, s store.Status) bool {
	return len(statuses) == 0 || slices.Contains(statuses, s)
}

// recordKeys is what the first pass of a CSV export needs of a record.
type recordKeys struct {
	status          string
	params, metrics []string
}

// scanRecordKeys reads the status and the param and metric names of a
// record's JSON line without decoding the rest, at a fraction of the cost
// of json.Unmarshal. ok is false for a line it does not understand (then
// the caller decodes it in full); a name with escapes is unquoted by
// encoding/json.
func scanRecordKeys(line []byte) (k recordKeys, ok bool) {
	ok = eachMember(line, 0, func(key []byte, b []byte, i int) (int, bool) {
		switch string(key) { // quotes included
		case `"status"`:
			j := skipSpace(b, i)
			end, ok := skipValue(b, j)
			if !ok || b[j] != '"' {
				return end, ok
			}
			s, ok := unquote(b[j:end])
			k.status = s
			return end, ok
		case `"params"`, `"metrics"`:
			j := skipSpace(b, i)
			if j < len(b) && b[j] == '{' {
				var names []string
				if !eachMember(b, j, func(key []byte, b []byte, i int) (int, bool) {
					name, ok := unquote(key)
					names = append(names, name)
					if !ok {
						return 0, false
					}
					return skipValue(b, i)
				}) {
					return 0, false
				}
				end, ok := skipValue(b, j)
				if string(key) == `"params"` {
					k.params = names
				} else {
					k.metrics = names
				}
				return end, ok
			}
		}
		return skipValue(b, i)
	})
	return k, ok
}

// eachMember calls fn with each member of the JSON object at b[i:]: its key
// (quotes included) and the position of its value; fn returns the position
// just past the value.
func eachMember(b []byte, i int, fn func(key []byte, b []byte, i int) (int, bool)) bool {
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return true
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return false
		}
		end, ok := skipString(b, i)
		if !ok {
			return false
		}
		key := b[i:end]
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		if i, ok = fn(key, b, i+1); !ok {
			return false
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return true
		default:
			return false
		}
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the position just past the JSON string at b[i].
func skipString(b []byte, i int) (int, bool) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		}
	}
	return 0, false
}

// skipValue returns the position just past the JSON value at b[i:].
func skipValue(b []byte, i int) (int, bool) {
	i = skipSpace(b, i)
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, ok := skipString(b, j)
				if !ok {
					return 0, false
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1, true
				}
			}
		}
		return 0, false
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\t' && b[j] != '\r' {
		j++
	}
	return j, j > i
}

// unquote decodes a JSON string, quotes included.
func unquote(q []byte) (string, bool) {
	if len(q) < 2 {
		return "", false
	}
	if !slices.Contains(q, '\\') {
		return string(q[1 : len(q)-1]), true
	}
	var s string
	return s, json.Unmarshal(q, &s) == nil
}
