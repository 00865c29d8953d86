package store

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"
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

// FlatRecord is a record line read member by member, without building a
// [Record]: what a reader that keeps a million records in columns
// (launcher's Results) needs of each, at a fraction of the cost of
// decoding it. Strings alias the line unless they held escapes; params
// and metrics values are their JSON text. Other is true when the line has
// a member that is not one of these (series, data, artifacts, logs, a
// stack, log references, a time not in UTC, an unknown key, an empty
// metrics object, a format other than [RecordFormat]): such a line must be
// decoded in full ([DecodeRecord]) to be read as the record it is.
type FlatRecord struct {
	RunID, Status, Experiment, Version, Code, Error []byte
	Host, Writer, Signal                            []byte
	SlurmJobID, SlurmArrayJobID, SlurmTaskID        []byte
	SeedBase, PID, PeakRSSKB, SlurmRestart          int64
	Replicate                                       int64
	Seed                                            uint64
	ExitCode                                        int64
	HasExitCode                                     bool
	Started, Ended                                  time.Time
	Params, Metrics                                 []FlatMember
	Other                                           bool
}

// FlatMember is one member of a record's params or metrics: the name
// (unquoted) and the value's JSON text.
type FlatMember struct {
	Name, Value []byte
}

// ScanFlatRecord reads line into f, reusing f's slices. ok is false for a
// line the scanner cannot read (not an object, a malformed member, a field
// of the wrong type); decode it with [DecodeRecord], which says what is
// wrong with it. A line with members the scanner does not keep sets
// f.Other (see [FlatRecord]).
func ScanFlatRecord(line []byte, f *FlatRecord) (ok bool) {
	*f = FlatRecord{Params: f.Params[:0], Metrics: f.Metrics[:0]}
	var format int64 = -1
	sawParams := false
	str := func(b []byte, i int, dst *[]byte) (int, bool) {
		j := skipSpace(b, i)
		if j >= len(b) || b[j] != '"' {
			return 0, false
		}
		end, ok := skipString(b, j)
		if !ok {
			return 0, false
		}
		q := b[j:end]
		if slices.Contains(q, '\\') {
			s, ok := unquote(q)
			if !ok {
				return 0, false
			}
			*dst = []byte(s)
		} else {
			*dst = q[1 : len(q)-1]
		}
		return end, true
	}
	num := func(b []byte, i int, dst *int64) (int, bool) {
		j := skipSpace(b, i)
		end, ok := skipValue(b, j)
		if !ok {
			return 0, false
		}
		n, err := strconv.ParseInt(string(b[j:end]), 10, 64)
		*dst = n
		return end, err == nil
	}
	tm := func(b []byte, i int, dst *time.Time) (int, bool) {
		var s []byte
		end, ok := str(b, i, &s)
		if !ok {
			return 0, false
		}
		if len(s) == 0 || s[len(s)-1] != 'Z' {
			f.Other = true // an offset: decoded in full keeps it
			return end, true
		}
		t, err := time.Parse(time.RFC3339Nano, string(s))
		*dst = t
		return end, err == nil
	}
	members := func(b []byte, i int, dst *[]FlatMember) (int, bool) {
		j := skipSpace(b, i)
		if j >= len(b) || b[j] != '{' {
			return 0, false
		}
		if !eachMember(b, j, func(key []byte, b []byte, i int) (int, bool) {
			k := skipSpace(b, i)
			end, ok := skipValue(b, k)
			if !ok {
				return 0, false
			}
			name := key[1 : len(key)-1]
			if slices.Contains(key, '\\') {
				s, ok := unquote(key)
				if !ok {
					return 0, false
				}
				name = []byte(s)
			}
			*dst = append(*dst, FlatMember{Name: name, Value: b[k:end]})
			return end, true
		}) {
			return 0, false
		}
		return skipValue(b, j)
	}
	ok = eachMember(line, 0, func(key []byte, b []byte, i int) (int, bool) {
		switch string(key[1 : len(key)-1]) {
		case "v":
			return num(b, i, &format)
		case "run_id":
			return str(b, i, &f.RunID)
		case "status":
			return str(b, i, &f.Status)
		case "experiment":
			return str(b, i, &f.Experiment)
		case "version":
			return str(b, i, &f.Version)
		case "code":
			return str(b, i, &f.Code)
		case "error":
			return str(b, i, &f.Error)
		case "host":
			return str(b, i, &f.Host)
		case "writer":
			return str(b, i, &f.Writer)
		case "signal":
			return str(b, i, &f.Signal)
		case "slurm_job_id":
			return str(b, i, &f.SlurmJobID)
		case "slurm_array_job_id":
			return str(b, i, &f.SlurmArrayJobID)
		case "slurm_array_task_id":
			return str(b, i, &f.SlurmTaskID)
		case "seed_base":
			return num(b, i, &f.SeedBase)
		case "pid":
			return num(b, i, &f.PID)
		case "peak_rss_kb":
			return num(b, i, &f.PeakRSSKB)
		case "slurm_restart_count":
			return num(b, i, &f.SlurmRestart)
		case "replicate":
			return num(b, i, &f.Replicate)
		case "exit_code":
			f.HasExitCode = true
			return num(b, i, &f.ExitCode)
		case "seed":
			j := skipSpace(b, i)
			end, ok := skipValue(b, j)
			if !ok {
				return 0, false
			}
			n, err := strconv.ParseUint(string(b[j:end]), 10, 64)
			f.Seed = n
			return end, err == nil
		case "started":
			return tm(b, i, &f.Started)
		case "ended":
			return tm(b, i, &f.Ended)
		case "params":
			sawParams = true
			return members(b, i, &f.Params)
		case "metrics":
			end, ok := members(b, i, &f.Metrics)
			if ok && len(f.Metrics) == 0 {
				f.Other = true // {} decodes to an empty map, not nil
			}
			return end, ok
		}
		if slices.Contains(key, '\\') {
			return 0, false // an escaped key might name one of the above
		}
		f.Other = true
		return skipValue(b, i)
	})
	if format != RecordFormat || !sawParams {
		f.Other = true
	}
	return ok
}
