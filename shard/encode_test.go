package shard

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestEncodeRoundTrip(t *testing.T) {
	tests := []struct {
		name    string
		indexes []int
		p       Params
	}{
		{"one run", []int{0}, Params{}},
		{"contiguous", seqIndexes(1000), Params{MaxArraySize: 11, MaxConcurrent: 4}},
		{"scattered", scattered(10000), Params{MaxArraySize: 50, MaxConcurrent: 7}},
		{"shuffled", shuffled(500), Params{RunsPerTask: 3}},
		{"descending", []int{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}, Params{RunsPerTask: 4}},
		{"large values", []int{1 << 40, 1<<40 + 1, 3}, Params{RunsPerTask: 2}},
		{"1M", seqIndexes(1_000_000), Params{MaxConcurrent: 300}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Split(tt.indexes, tt.p)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := l.Encode(&buf); err != nil {
				t.Fatalf("Encode: %v", err)
			}
			encoded := buf.Bytes()
			if !json.Valid(encoded) {
				t.Fatalf("Encode wrote invalid JSON:\n%s", encoded)
			}
			got, err := Decode(bytes.NewReader(encoded))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got.RunsPerTask != l.RunsPerTask || got.Runs() != l.Runs() || len(got.Arrays) != len(l.Arrays) {
				t.Fatalf("Decode()=%d runs at %d per task in %d arrays, want %d at %d in %d",
					got.Runs(), got.RunsPerTask, len(got.Arrays), l.Runs(), l.RunsPerTask, len(l.Arrays))
			}
			for i := range l.Arrays {
				a, b := got.Arrays[i], l.Arrays[i]
				if a.Tasks != b.Tasks || a.Throttle != b.Throttle || !slices.Equal(a.After, b.After) {
					t.Fatalf("decoded array %d=%+v, want %+v", i, a, b)
				}
			}
			checkLayout(t, got, tt.indexes, tt.p)
			var again bytes.Buffer
			if err := got.Encode(&again); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again.Bytes(), encoded) {
				t.Fatalf("re-encoding differs")
			}
		})
	}
}

// TestEncodeCompact holds the promise that a contiguous shard costs one
// range whatever its size.
func TestEncodeCompact(t *testing.T) {
	l, err := Split(seqIndexes(1_000_000), Params{RunsPerTask: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := l.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	// 1000 shards like
	//  "123000-123999",
	// plus the header.
	if got, limit := buf.Len(), 1000*18+200; got > limit {
		t.Fatalf("1M contiguous runs encode in %d bytes, want at most %d", got, limit)
	}
	if !strings.Contains(buf.String(), "\n\"999000-999999\"\n") {
		t.Fatalf("last shard is not one range:\n%s", buf.String()[buf.Len()-100:])
	}
}

func TestDecodeErrors(t *testing.T) {
	head := `{"format":1,"runs":%RUNS%,"runs_per_task":2,"arrays":[`
	layout := func(runs, arrays string) string {
		return strings.Replace(head, "%RUNS%", runs, 1) + arrays + "]}"
	}
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "EOF"},
		{"not JSON", "shards", "invalid character"},
		{"wrong format", `{"format":2}`, "format 2, want 1"},
		{"no runs per task", `{"format":1,"runs":1,"arrays":[]}`, "runs_per_task 0"},
		{"no arrays", layout("0", ""), "no arrays"},
		{"tasks and shards differ", layout("2", `{"tasks":2,"shards":["0-1"]}`), "array 0 has 2 tasks and 1 shards"},
		{"no tasks", layout("0", `{"tasks":0,"shards":[]}`), "array 0 has 0 tasks"},
		{"negative throttle", layout("2", `{"tasks":1,"throttle":-1,"shards":["0-1"]}`), "throttle -1"},
		{"dependency on itself", layout("2", `{"tasks":1,"after":[0],"shards":["0-1"]}`), "array 0 depends on array 0"},
		{"dependency on a later array", layout("4", `{"tasks":1,"after":[1],"shards":["0-1"]},{"tasks":1,"shards":["2-3"]}`), "depends on array 1"},
		{"bad number", layout("2", `{"tasks":1,"shards":["a-1"]}`), `bad range "a-1"`},
		{"descending range", layout("2", `{"tasks":1,"shards":["5-4"]}`), `bad range "5-4"`},
		{"negative", layout("2", `{"tasks":1,"shards":["-1,2"]}`), `bad range "-1"`},
		{"sign", layout("2", `{"tasks":1,"shards":["+1,2"]}`), `bad range "+1"`},
		{"signed end", layout("2", `{"tasks":1,"shards":["1-+2"]}`), `bad range "1-+2"`},
		{"double dash", layout("2", `{"tasks":1,"shards":["1--2"]}`), `bad range "1--2"`},
		{"empty part", layout("2", `{"tasks":1,"shards":["1,,2"]}`), `bad range ""`},
		{"empty shard", layout("2", `{"tasks":1,"shards":[""]}`), `bad range ""`},
		{"shard too big", layout("3", `{"tasks":1,"shards":["0-2"]}`), "more than 2 runs"},
		{"huge range", layout("3", `{"tasks":1,"shards":["0-9223372036854775806"]}`), "more than 2 runs"},
		{"short shard before the last", layout("3", `{"tasks":2,"shards":["0","1-2"]}`), "follows a shard shorter than runs_per_task 2"},
		{"run count", layout("5", `{"tasks":1,"shards":["0-1"]}`), "the shards hold 2 runs, the header says 5"},
		{"duplicate", layout("4", `{"tasks":2,"shards":["0-1","1,5"]}`), "index 1 appears more than once"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Decode(strings.NewReader(tt.in))
			if err == nil {
				t.Fatalf("Decode()=%+v, want an error", l)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Decode() error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestEncodeWriteError(t *testing.T) {
	l, err := Split(seqIndexes(10), Params{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Encode(failWriter{}); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Encode to a failing writer: %v, want disk full", err)
	}
}

func TestEncodeInconsistent(t *testing.T) {
	l, err := Split(seqIndexes(10), Params{RunsPerTask: 5})
	if err != nil {
		t.Fatal(err)
	}
	l.Arrays[0].Tasks = 3
	if err := l.Encode(new(bytes.Buffer)); err == nil || !strings.Contains(err.Error(), "inconsistent") {
		t.Fatalf("Encode with too many tasks: %v, want inconsistent", err)
	}
	l.Arrays[0].Tasks = 1
	if err := l.Encode(new(bytes.Buffer)); err == nil || !strings.Contains(err.Error(), "hold 5 of 10 runs") {
		t.Fatalf("Encode with too few tasks: %v, want inconsistent", err)
	}
}

func BenchmarkEncode1M(b *testing.B) {
	l, err := Split(scattered(1_500_000), Params{MaxConcurrent: 200})
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := l.Encode(&buf); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(buf.Len()), "bytes/layout")
}

func BenchmarkDecode1M(b *testing.B) {
	l, err := Split(scattered(1_500_000), Params{MaxConcurrent: 200})
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if err := l.Encode(&buf); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(bytes.NewReader(buf.Bytes())); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeDecode1MContiguous(b *testing.B) {
	l, err := Split(seqIndexes(1_000_000), Params{})
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := l.Encode(&buf); err != nil {
			b.Fatal(err)
		}
		if _, err := Decode(&buf); err != nil {
			b.Fatal(err)
		}
	}
}
