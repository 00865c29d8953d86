package store

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/params"
)

// appendRecord appends r as one JSON line, as encoding/json (without HTML
// escaping) would encode it, at a fifth of its cost: Append encodes two
// records per run, and with encoding/json that was a fifth of an
// in-process run. ok is false for what only encoding/json should judge (a
// time it cannot write, a series value that is not finite, data that is not
// valid JSON); Append then encodes r with encoding/json, whose error it
// reports. TestAppendRecordMatchesJSON decodes both encodings of varied
// records and compares.
func appendRecord(b []byte, r *Record) (_ []byte, ok bool) {
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, int64(r.Format), 10)
	b = appendKey(b, "run_id")
	b = appendString(b, r.RunID)
	b = appendKey(b, "status")
	b = appendString(b, string(r.Status))
	b = appendKey(b, "experiment")
	b = appendString(b, r.Experiment)
	b = appendKey(b, "version")
	b = appendString(b, r.Version)
	b = appendKey(b, "params")
	var err error
	if b, err = params.AppendCanonical(b, r.Params); err != nil {
		return b, false
	}
	b = appendKey(b, "seed_base")
	b = strconv.AppendInt(b, r.SeedBase, 10)
	b = appendKey(b, "replicate")
	b = strconv.AppendInt(b, int64(r.Replicate), 10)
	b = appendKey(b, "seed")
	b = strconv.AppendUint(b, r.Seed, 10)
	b = appendOptString(b, "code", r.Code)

	if b, ok = appendResult(b, &r.Result); !ok {
		return b, false
	}

	b = appendOptString(b, "error", r.Error)
	b = appendOptString(b, "stack", r.Stack)
	if r.ExitCode != nil {
		b = appendKey(b, "exit_code")
		b = strconv.AppendInt(b, int64(*r.ExitCode), 10)
	}
	b = appendOptString(b, "signal", r.Signal)
	b = appendOptString(b, "stderr_tail", r.StderrTail)
	b = appendLogRef(b, "stdout", r.Stdout)
	b = appendLogRef(b, "stderr", r.Stderr)

	b = appendKey(b, "started")
	if b, ok = appendTime(b, r.Started); !ok {
		return b, false
	}
	if !r.Ended.IsZero() {
		b = appendKey(b, "ended")
		if b, ok = appendTime(b, r.Ended); !ok {
			return b, false
		}
	}
	b = appendOptString(b, "host", r.Host)
	b = appendOptInt(b, "pid", int64(r.PID))
	b = appendOptString(b, "writer", r.Writer)
	b = appendOptInt(b, "peak_rss_kb", r.PeakRSSKB)
	b = appendOptString(b, "slurm_job_id", r.SlurmJobID)
	b = appendOptString(b, "slurm_array_job_id", r.SlurmArrayJobID)
	b = appendOptString(b, "slurm_array_task_id", r.SlurmTaskID)
	b = appendOptInt(b, "slurm_restart_count", int64(r.SlurmRestart))
	return append(b, "}\n"...), true
}

func appendResult(b []byte, res *capture.Result) ([]byte, bool) {
	var scratch [8]string
	ok := true
	if len(res.Metrics) > 0 {
		b = appendObject(appendKey(b, "metrics"), res.Metrics, scratch[:], func(b []byte, v float64) ([]byte, bool) {
			return appendFloat(b, v), true
		})
	}
	if len(res.Series) > 0 {
		b, ok = appendObjectOK(appendKey(b, "series"), res.Series, scratch[:], appendSeries)
		if !ok {
			return b, false
		}
	}
	if len(res.Data) > 0 {
		b, ok = appendObjectOK(appendKey(b, "data"), res.Data, scratch[:], func(b []byte, v json.RawMessage) ([]byte, bool) {
			if v == nil {
				return append(b, "null"...), true
			}
			buf := bytes.NewBuffer(b)
			if json.Compact(buf, v) != nil {
				return b, false
			}
			return buf.Bytes(), true
		})
		if !ok {
			return b, false
		}
	}
	if len(res.Artifacts) > 0 {
		b = appendKey(b, "artifacts")
		b = append(b, '[')
		for i, a := range res.Artifacts {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"name":`...)
			b = appendString(b, a.Name)
			b = appendKey(b, "path")
			b = appendString(b, a.Path)
			b = appendOptString(b, "format", a.Format)
			b = appendKey(b, "sha256")
			b = appendString(b, a.SHA256)
			b = appendKey(b, "size")
			b = strconv.AppendInt(b, a.Size, 10)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = appendStrings(b, "logs", res.Logs)
	b = appendStrings(b, "warnings", res.Warnings)
	return b, true
}

// appendObject writes m as a JSON object with sorted keys, each value by
// appendValue.
func appendObject[V any](b []byte, m map[string]V, scratch []string, appendValue func([]byte, V) ([]byte, bool)) []byte {
	b, _ = appendObjectOK(b, m, scratch, appendValue)
	return b
}

// appendObjectOK is appendObject for values that can fail to encode; it
// stops at the first such value and reports false.
func appendObjectOK[V any](b []byte, m map[string]V, scratch []string, appendValue func([]byte, V) ([]byte, bool)) ([]byte, bool) {
	b = append(b, '{')
	for i, k := range sortedKeys(m, scratch) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		var ok bool
		if b, ok = appendValue(b, m[k]); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

// appendSeries writes a stepped series; a non-finite value cannot be
// encoded (encoding/json refuses it too).
func appendSeries(b []byte, pts []capture.Point) ([]byte, bool) {
	if pts == nil {
		return append(b, "null"...), true
	}
	b = append(b, '[')
	for j, p := range pts {
		if j > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"step":`...)
		b = strconv.AppendInt(b, p.Step, 10)
		b = append(b, `,"value":`...)
		switch {
		case p.Value == nil:
			b = append(b, "null"...)
		case math.IsNaN(*p.Value) || math.IsInf(*p.Value, 0):
			return b, false
		default:
			b = appendFloat(b, *p.Value)
		}
		b = append(b, '}')
	}
	return append(b, ']'), true
}

// sortedKeys returns m's keys in order, in scratch when they fit: most
// records have a metric or two, and this allocates nothing for them.
func sortedKeys[V any](m map[string]V, scratch []string) []string {
	keys := scratch[:0]
	for k := range m {
		keys = append(keys, k)
	}
	if len(keys) > 1 {
		slices.Sort(keys)
	}
	return keys
}

func appendStrings(b []byte, key string, ss []string) []byte {
	if len(ss) == 0 {
		return b
	}
	b = appendKey(b, key)
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

func appendLogRef(b []byte, key string, l *LogRef) []byte {
	if l == nil {
		return b
	}
	b = appendKey(b, key)
	b = append(b, `{"file":`...)
	b = appendString(b, l.File)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, l.Offset, 10)
	b = append(b, `,"length":`...)
	b = strconv.AppendInt(b, l.Length, 10)
	return append(b, '}')
}

// appendKey appends ,"key": (keys here need no escaping).
func appendKey(b []byte, key string) []byte {
	b = append(b, ',', '"')
	b = append(b, key...)
	return append(b, '"', ':')
}

func appendOptString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(appendKey(b, key), s)
}

func appendOptInt(b []byte, key string, n int64) []byte {
	if n == 0 {
		return b
	}
	return strconv.AppendInt(appendKey(b, key), n, 10)
}

// appendTime writes t as time.Time.MarshalJSON does; ok is false for the
// years it refuses.
func appendTime(b []byte, t time.Time) ([]byte, bool) {
	if y := t.Year(); y < 0 || y > 9999 {
		return b, false
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), true
}

// appendFloat writes f as encoding/json writes a float64, and a NaN or an
// infinity as null (as [capture.Metrics] does).
func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// Clean up e-09 to e-9, as encoding/json does.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendString writes s as encoding/json does without HTML escaping
// (invalid UTF-8 becomes U+FFFD).
func appendString(b []byte, s string) []byte {
	b, _ = params.AppendJSONString(b, s)
	return b
}
