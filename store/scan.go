package store

import (
	"encoding/json"
	"slices"
)

// RecordKeys is what an export must know of a record before it can write
// any: its status, its experiment and version (a store holds several), and
// the names of its params and metrics, which make the columns of a CSV
// file.
type RecordKeys struct {
	RunID      string
	Code       string
	Status     Status
	Experiment string
	Version    string
	Params     []string // in the order of the line
	Metrics    []string // in the order of the line
}

// ScanRecordKeys reads the run ID, code, status, experiment, version and the param and metric names of a
// record's JSON line (as [Snapshot.Lines] delivers it) without decoding the
// rest. A CSV export reads every record twice, once to find its columns and
// once to write its rows, and decoding a record (about 10 µs) is most of
// the second pass; the first needs only these keys, which a scanner finds
// at a fraction of that cost (docs/performance.md, item 5). A line whose
// shape the scanner does not know is decoded with encoding/json instead;
// the error is that of a line that is not a JSON object with those keys (a
// damaged line, say).
func ScanRecordKeys(line []byte) (RecordKeys, error) {
	if k, ok := scanRecordKeys(line); ok {
		return k, nil
	}
	var r struct {
		RunID      string                     `json:"run_id"`
		Code       string                     `json:"code"`
		Status     Status                     `json:"status"`
		Experiment string                     `json:"experiment"`
		Version    string                     `json:"version"`
		Params     map[string]json.RawMessage `json:"params"`
		Metrics    map[string]json.RawMessage `json:"metrics"`
	}
	if err := json.Unmarshal(line, &r); err != nil {
		return RecordKeys{}, err
	}
	k := RecordKeys{RunID: r.RunID, Code: r.Code, Status: r.Status, Experiment: r.Experiment, Version: r.Version}
	for p := range r.Params {
		k.Params = append(k.Params, p)
	}
	for m := range r.Metrics {
		k.Metrics = append(k.Metrics, m)
	}
	return k, nil
}

// scanRecordKeys is the scanner of ScanRecordKeys, at a fraction of the
// cost of json.Unmarshal. ok is false for a line it does not understand; a
// name with escapes is unquoted by encoding/json.
func scanRecordKeys(line []byte) (k RecordKeys, ok bool) {
	ok = eachMember(line, 0, func(key []byte, b []byte, i int) (int, bool) {
		switch string(key) { // quotes included
		case `"status"`, `"experiment"`, `"version"`, `"run_id"`, `"code"`:
			j := skipSpace(b, i)
			end, ok := skipValue(b, j)
			if !ok || b[j] != '"' {
				return end, ok
			}
			s, ok := unquote(b[j:end])
			switch string(key) {
			case `"status"`:
				k.Status = Status(s)
			case `"experiment"`:
				k.Experiment = s
			case `"run_id"`:
				k.RunID = s
			case `"code"`:
				k.Code = s
			default:
				k.Version = s
			}
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
					k.Params = names
				} else {
					k.Metrics = names
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
