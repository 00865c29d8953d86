package shard

import (
	"math"
	"testing"
	"time"
)

func TestSummary(t *testing.T) {
	l, err := Split(seqIndexes(1000), Params{RunsPerTask: 10, MaxArraySize: 40, MaxConcurrent: 2})
	if err != nil {
		t.Fatal(err)
	}
	s := l.Summary()
	if got, want := s.String(), `1000 runs in 100 tasks of at most 10 runs, 4 arrays, at most 2 tasks at once
  array 0: --array=0-24%1, 250 runs
  array 1: --array=0-24%1, 250 runs
  array 2: --array=0-24%1, 250 runs, after array 0
  array 3: --array=0-24%1, 250 runs, after array 1
task size: runs_per_task as given
`; got != want {
		t.Fatalf("Summary().String()=\n%s\nwant\n%s", got, want)
	}

	one, err := Split(seqIndexes(15), Params{RunsPerTask: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := one.Summary().String(), `15 runs in 2 tasks of at most 10 runs, 1 array, at most 2 tasks at once
  array 0: --array=0-1, 15 runs
task size: runs_per_task as given
`; got != want {
		t.Fatalf("Summary().String()=\n%s\nwant\n%s", got, want)
	}
}

func TestCoreHours(t *testing.T) {
	l, err := Split(seqIndexes(1000), Params{RunsPerTask: 10}) // 100 tasks
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		limit time.Duration
		cpus  int
		want  float64
	}{
		{2 * time.Hour, 4, 800},
		{30 * time.Minute, 1, 50},
		{30 * time.Minute, 0, 50},
		{0, 8, 0},
		{-time.Hour, 8, 0},
	}
	for _, tt := range tests {
		if got := l.CoreHours(tt.limit, tt.cpus); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("CoreHours(%v, %d)=%v, want %v", tt.limit, tt.cpus, got, tt.want)
		}
	}
}
