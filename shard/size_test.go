package shard

import (
	"strings"
	"testing"
	"time"
)

func TestObserve(t *testing.T) {
	if got := Observe(nil); got != (Durations{}) {
		t.Errorf("Observe(nil)=%+v, want nothing known", got)
	}
	var ds []time.Duration
	for i := 10; i >= 1; i-- { // unsorted: 10 s down to 1 s
		ds = append(ds, time.Duration(i)*time.Second)
	}
	got := Observe(ds)
	if want := (Durations{Known: 10, Median: 6 * time.Second, P90: 9 * time.Second}); got != want {
		t.Errorf("Observe(1..10 s)=%+v, want %+v", got, want)
	}
	if ds[0] != 10*time.Second {
		t.Errorf("Observe sorted its argument")
	}
}

// TestTaskSize holds the sizing rule of the package comment.
func TestTaskSize(t *testing.T) {
	known := func(median, p90 time.Duration) Durations { return Durations{Known: 100, Median: median, P90: p90} }
	tests := []struct {
		name     string
		runs     int
		p        Params
		tasks    int
		per      int
		estimate string // part of Estimate.String()
	}{
		{"2000 zero-second runs, nothing known: one task per default slot", 2000, Params{},
			32, 63, "no run durations known yet (0 completed runs, want 5): one task per slot (32 slots"},
		{"nothing known, throttle 4", 2000, Params{MaxConcurrent: 4}, 4, 500, "one task per slot (4 slots"},
		{"too few known", 2000, Params{Durations: Durations{Known: 4, Median: time.Second, P90: time.Second}}, 32, 63, "(4 completed runs, want 5)"},
		{"fewer runs than slots", 10, Params{}, 10, 1, ""},
		{"2000 runs of 10 ms: the slots, each a few seconds", 2000, Params{Durations: known(10*time.Millisecond, 20*time.Millisecond)},
			32, 63, "about 630ms of runs per task"},
		{"2000 runs of 10 s: 5-minute tasks", 2000, Params{Durations: known(10*time.Second, 12*time.Second)},
			67, 30, "about 5m0s of runs per task"},
		{"on 4 CPUs a task runs 4 at once", 2000, Params{Workers: 4, Durations: known(10*time.Second, 12*time.Second)},
			32, 63, "about 2m38s"},
		{"throttle 8: at most 4 rounds", 2000, Params{MaxConcurrent: 8, Durations: known(10*time.Second, 12*time.Second)},
			32, 63, "about 10m30s"},
		{"60 runs of 5 s, time limit 1 min: tasks fit the limit", 60,
			Params{Durations: known(5*time.Second, 5*time.Second), Usable: 54 * time.Second},
			30, 2, ", to fit the time limit"},
		{"60 runs of 5 s, time limit 1 min, throttle 2", 60,
			Params{MaxConcurrent: 2, Durations: known(5*time.Second, 5*time.Second), Usable: 54 * time.Second},
			8, 8, "about 40s of runs per task, to fit the time limit"},
		{"the 90th percentile must fit the limit", 1000,
			Params{MaxConcurrent: 1, Durations: known(time.Second, 30*time.Second), Usable: 5 * time.Minute},
			125, 8, ""},
		{"the time limit beats the rounds", 10000,
			Params{MaxConcurrent: 2, Durations: known(time.Minute, time.Minute), Usable: 10 * time.Minute},
			1250, 8, ""},
		{"MaxJobCount beats the time limit", 10000,
			Params{MaxConcurrent: 2, MaxJobCount: 100, Durations: known(time.Minute, time.Minute), Usable: 10 * time.Minute},
			50, 200, ""},
		{"without a throttle, at most DefaultTasks", 1_000_000, Params{Durations: known(time.Second, time.Second)},
			1000, 1000, ""},
		{"runs of zero length count as unknown", 100, Params{Durations: known(0, 0)}, 25, 4, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Split(seqIndexes(tt.runs), tt.p)
			if err != nil {
				t.Fatal(err)
			}
			checkLayout(t, l, seqIndexes(tt.runs), tt.p)
			if got, want := l.Tasks(), tt.tasks; got != want {
				t.Errorf("Tasks()=%d, want %d", got, want)
			}
			if got, want := l.RunsPerTask, tt.per; got != want {
				t.Errorf("RunsPerTask=%d, want %d", got, want)
			}
			if got := l.Estimate.String(); !strings.Contains(got, tt.estimate) {
				t.Errorf("Estimate=%q, want it to say %q", got, tt.estimate)
			}
		})
	}
}
