package shard

import (
	"errors"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// seqIndexes returns 0..n-1.
func seqIndexes(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// scattered returns the indexes below n that are not multiples of 3, as left
// by a sweep of which every third run completed.
func scattered(n int) []int {
	var out []int
	for i := range n {
		if i%3 != 0 {
			out = append(out, i)
		}
	}
	return out
}

// shuffled returns 0..n-1 in a fixed random order.
func shuffled(n int) []int {
	out := seqIndexes(n)
	rand.New(rand.NewPCG(1, 2)).Shuffle(n, func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// specs describes the arrays of l like "0-9%2 after 0".
func specs(l *Layout) []string {
	var out []string
	for _, a := range l.Arrays {
		s := a.Spec()
		if len(a.After) > 0 {
			after := make([]string, len(a.After))
			for i, d := range a.After {
				after[i] = strconv.Itoa(d)
			}
			s += " after " + strings.Join(after, ",")
		}
		out = append(out, s)
	}
	return out
}

// checkLayout verifies every promise of Split about l, made from indexes
// with p.
func checkLayout(t *testing.T, l *Layout, indexes []int, p Params) {
	t.Helper()
	mas := p.MaxArraySize
	if mas == 0 {
		mas = DefaultMaxArraySize
	}
	if got, want := l.Runs(), len(indexes); got != want {
		t.Fatalf("Runs()=%d, want %d", got, want)
	}
	if l.RunsPerTask < 1 {
		t.Fatalf("RunsPerTask=%d, want at least 1", l.RunsPerTask)
	}
	if p.RunsPerTask > 0 && l.RunsPerTask != p.RunsPerTask {
		t.Fatalf("RunsPerTask=%d, want the given %d", l.RunsPerTask, p.RunsPerTask)
	}
	if budget := p.MaxJobCount / 2; p.MaxJobCount > 1 && l.Tasks() > budget {
		t.Fatalf("Tasks()=%d, want at most MaxJobCount/2=%d", l.Tasks(), budget)
	}
	var all []int
	tasks := 0
	for i, a := range l.Arrays {
		if a.Tasks < 1 || a.Tasks > mas {
			t.Fatalf("array %d has %d tasks, want 1..%d (highest index %d)", i, a.Tasks, mas, mas-1)
		}
		if p.MaxConcurrent > 0 && (a.Throttle < 1 || a.Throttle > p.MaxConcurrent) {
			t.Fatalf("array %d has throttle %d, want 1..%d", i, a.Throttle, p.MaxConcurrent)
		}
		if p.MaxConcurrent == 0 && (a.Throttle != 0 || len(a.After) != 0) {
			t.Fatalf("array %d has throttle %d after %v without MaxConcurrent", i, a.Throttle, a.After)
		}
		for _, d := range a.After {
			if d < 0 || d >= i {
				t.Fatalf("array %d depends on array %d", i, d)
			}
		}
		for task := range a.Tasks {
			shard, err := l.Shard(i, task)
			if err != nil {
				t.Fatalf("Shard(%d, %d): %v", i, task, err)
			}
			last := i == len(l.Arrays)-1 && task == a.Tasks-1
			if len(shard) != l.RunsPerTask && (!last || len(shard) == 0 || len(shard) > l.RunsPerTask) {
				t.Fatalf("Shard(%d, %d) has %d runs, want %d", i, task, len(shard), l.RunsPerTask)
			}
			all = append(all, shard...)
		}
		tasks += a.Tasks
	}
	if got, want := l.Tasks(), tasks; got != want {
		t.Fatalf("Tasks()=%d, want %d", got, want)
	}
	if !slices.Equal(all, indexes) {
		t.Fatalf("the shards hold %d indexes that differ from the %d given", len(all), len(indexes))
	}
	if c := p.MaxConcurrent; c > 0 {
		if got := concurrency(l); got > c {
			t.Fatalf("up to %d tasks can run at once, want at most MaxConcurrent %d", got, c)
		}
	}
}

// concurrency returns the most tasks that can run at once, computed without
// MaxRunning: arrays run at the same time unless one transitively depends on
// the other, so it is the heaviest set of arrays no two of which are ordered,
// found by brute force over the arrays' chains.
func concurrency(l *Layout) int {
	// Split makes chains: follow After to the root of each array.
	root := make([]int, len(l.Arrays))
	peak := map[int]int{}
	for i, a := range l.Arrays {
		root[i] = i
		if len(a.After) == 1 {
			root[i] = root[a.After[0]]
		} else if len(a.After) > 1 {
			panic("not a chain")
		}
		limit := a.Tasks
		if a.Throttle > 0 {
			limit = min(a.Throttle, a.Tasks)
		}
		peak[root[i]] = max(peak[root[i]], limit)
	}
	// Two arrays of one chain must not depend on the same array.
	seen := map[int]bool{}
	for _, a := range l.Arrays {
		for _, d := range a.After {
			if seen[d] {
				panic("a tree, not a chain")
			}
			seen[d] = true
		}
	}
	sum := 0
	for _, v := range peak {
		sum += v
	}
	return sum
}

func TestSplit(t *testing.T) {
	tests := []struct {
		name        string
		indexes     []int
		p           Params
		runsPerTask int
		tasks       int
		specs       []string // nil: not checked
		arrays      int      // 0: not checked
	}{
		{"one run", []int{7}, Params{}, 1, 1, []string{"0"}, 0},
		{"small sweep, one task a run", seqIndexes(10), Params{}, 1, 10, []string{"0-9"}, 0},
		{"1000 runs, MaxArraySize 11", seqIndexes(1000), Params{RunsPerTask: 1, MaxArraySize: 11}, 1, 1000, nil, 91},
		{"1000 runs, MaxArraySize 11, throttle 4: waves", seqIndexes(1000), Params{RunsPerTask: 10, MaxArraySize: 11, MaxConcurrent: 4}, 10, 100,
			[]string{
				"0-8%1", "0-8%1", "0-8%1", "0-8%1",
				"0-7%1 after 0", "0-7%1 after 1", "0-7%1 after 2", "0-7%1 after 3",
				"0-7%1 after 4", "0-7%1 after 5", "0-7%1 after 6", "0-7%1 after 7",
			}, 0},
		{"1000 runs, MaxArraySize 11, throttle 20: one array a lane", seqIndexes(1000), Params{RunsPerTask: 10, MaxArraySize: 11, MaxConcurrent: 20}, 10, 100,
			[]string{"0-9%2", "0-9%2", "0-9%2", "0-9%2", "0-9%2", "0-9%2", "0-9%2", "0-9%2", "0-9%2", "0-9%2"}, 0},
		{"uneven lanes", seqIndexes(2002), Params{RunsPerTask: 1, MaxConcurrent: 3}, 1, 2002,
			[]string{"0-666%2", "0-667%1", "0-666%2 after 0"}, 0},
		{"throttle above tasks", seqIndexes(5), Params{MaxConcurrent: 100}, 1, 5, []string{"0-4%5"}, 0},
		{"throttle 1, one array", seqIndexes(1000), Params{RunsPerTask: 10, MaxConcurrent: 1}, 10, 100, []string{"0-99%1"}, 0},
		{"MaxArraySize 1, two lanes", seqIndexes(6), Params{RunsPerTask: 1, MaxArraySize: 1, MaxConcurrent: 2}, 1, 6,
			[]string{"0%1", "0%1", "0%1 after 0", "0%1 after 1", "0%1 after 2", "0%1 after 3"}, 0},
		{"explicit runs per task, short last shard", seqIndexes(100), Params{RunsPerTask: 7}, 7, 15, []string{"0-14"}, 0},
		{"explicit runs per task above runs", seqIndexes(3), Params{RunsPerTask: 50}, 50, 1, []string{"0"}, 0},
		{"MaxJobCount budget", seqIndexes(10000), Params{MaxJobCount: 100, Durations: Durations{Known: 10, Median: time.Minute, P90: time.Minute}, Usable: 10 * time.Minute},
			200, 50, []string{"0-49"}, 0},
		{"MaxJobCount 1", seqIndexes(10), Params{MaxJobCount: 1}, 10, 1, []string{"0"}, 0},
		{"1M runs, nothing known: one task a default slot", seqIndexes(1_000_000), Params{}, 31250, 32, []string{"0-31"}, 0},
		{"1M runs, throttle 300, nothing known", seqIndexes(1_000_000), Params{MaxConcurrent: 300}, 3334, 300,
			[]string{"0-299%300"}, 0},
		{"1M runs of 1 s, throttle 300, two rounds a slot", seqIndexes(1_000_000),
			Params{MaxConcurrent: 300, MaxArraySize: 1001, Durations: Durations{Known: 50, Median: time.Second, P90: 2 * time.Second}},
			834, 1200, []string{"0-599%150", "0-599%150"}, 0},
		{"1M runs, throttle 5000, SLURM defaults", seqIndexes(1_000_000), Params{MaxConcurrent: 5000, MaxJobCount: 10000}, 200, 5000, nil, 5},
		{"scattered", scattered(3000), Params{RunsPerTask: 2, MaxArraySize: 100}, 2, 1000, nil, 10},
		{"shuffled", shuffled(3000), Params{RunsPerTask: 30, MaxArraySize: 7, MaxConcurrent: 3}, 30, 100, nil, 15},
		{"huge throttle", seqIndexes(100), Params{MaxConcurrent: int(^uint(0) >> 1)}, 1, 100, []string{"0-99%100"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Split(tt.indexes, tt.p)
			if err != nil {
				t.Fatalf("Split: %v", err)
			}
			checkLayout(t, l, tt.indexes, tt.p)
			if got, want := l.RunsPerTask, tt.runsPerTask; got != want {
				t.Errorf("RunsPerTask=%d, want %d", got, want)
			}
			if got, want := l.Tasks(), tt.tasks; got != want {
				t.Errorf("Tasks()=%d, want %d", got, want)
			}
			if tt.specs != nil {
				if got, want := specs(l), tt.specs; !slices.Equal(got, want) {
					t.Errorf("arrays=%q, want %q", got, want)
				}
			}
			if tt.arrays != 0 {
				if got, want := len(l.Arrays), tt.arrays; got != want {
					t.Errorf("len(Arrays)=%d, want %d", got, want)
				}
			}
		})
	}
}

// TestSplitThrottleSweep holds the throttle and the array size over many
// combinations, including more arrays than MaxConcurrent.
func TestSplitThrottleSweep(t *testing.T) {
	for _, runs := range []int{1, 2, 13, 100, 1000, 4321} {
		for _, mas := range []int{1, 2, 3, 11, 1001} {
			for _, mc := range []int{0, 1, 2, 3, 7, 50, 10000} {
				for _, rpt := range []int{0, 1, 3} {
					p := Params{RunsPerTask: rpt, MaxArraySize: mas, MaxConcurrent: mc}
					if mas == 1 && rpt == 1 && runs > 1000 {
						continue // thousands of arrays; covered by smaller sizes
					}
					indexes := seqIndexes(runs)
					l, err := Split(indexes, p)
					if err != nil {
						t.Fatalf("Split(%d runs, %+v): %v", runs, p, err)
					}
					checkLayout(t, l, indexes, p)
					if mc > 0 {
						if got, want := l.MaxRunning(), concurrency(l); got != want {
							t.Fatalf("Split(%d runs, %+v): MaxRunning()=%d, want %d", runs, p, got, want)
						}
					}
				}
			}
		}
	}
}

// TestSplitLanesBalance checks that lanes hold tasks in proportion to their
// throttle, so that they finish together.
func TestSplitLanesBalance(t *testing.T) {
	l, err := Split(seqIndexes(10000), Params{RunsPerTask: 1, MaxArraySize: 100, MaxConcurrent: 7})
	if err != nil {
		t.Fatal(err)
	}
	rounds := map[int]float64{} // chain root -> tasks / throttle
	root := make([]int, len(l.Arrays))
	for i, a := range l.Arrays {
		root[i] = i
		if len(a.After) == 1 {
			root[i] = root[a.After[0]]
		}
		rounds[root[i]] += float64(a.Tasks) / float64(a.Throttle)
	}
	if got, want := len(rounds), 7; got != want {
		t.Fatalf("%d lanes, want %d", got, want)
	}
	lo, hi := 1e18, 0.0
	for _, r := range rounds {
		lo, hi = min(lo, r), max(hi, r)
	}
	if hi-lo > 1 {
		t.Fatalf("lanes take %.1f to %.1f rounds, want within one round", lo, hi)
	}
}

func TestSplitErrors(t *testing.T) {
	huge := 1 << 40
	tests := []struct {
		name    string
		indexes []int
		p       Params
		want    string
	}{
		{"no indexes", nil, Params{}, "no indexes"},
		{"negative RunsPerTask", []int{1}, Params{RunsPerTask: -1}, "RunsPerTask must not be negative"},
		{"negative MaxArraySize", []int{1}, Params{MaxArraySize: -2}, "MaxArraySize must not be negative"},
		{"negative MaxJobCount", []int{1}, Params{MaxJobCount: -3}, "MaxJobCount must not be negative"},
		{"negative MaxConcurrent", []int{1}, Params{MaxConcurrent: -4}, "MaxConcurrent must not be negative"},
		{"negative index", []int{0, 1, -5}, Params{}, "negative index -5 at position 2"},
		{"duplicate", []int{0, 1, 2, 3, 1}, Params{}, "index 1 appears more than once"},
		{"duplicate in a stretch", []int{10, 11, 12, 5, 6, 7, 8, 9, 10}, Params{}, "index 10 appears more than once"},
		{"duplicate, sparse values", []int{huge, 3, huge + 1, huge}, Params{}, "appears more than once"},
		{"too many tasks for MaxJobCount", seqIndexes(1000), Params{RunsPerTask: 10, MaxJobCount: 100},
			"make 100 tasks, more than half of MaxJobCount 100; raise RunsPerTask to at least 20"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Split(tt.indexes, tt.p)
			if err == nil {
				t.Fatalf("Split()=%+v, want an error", l)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Split() error %q, want it to contain %q", err, tt.want)
			}
		})
	}
	if _, err := Split(nil, Params{}); !errors.Is(err, ErrNoIndexes) {
		t.Fatalf("Split(nil) error %v, want ErrNoIndexes", err)
	}
}

func TestSplitSparseValues(t *testing.T) {
	indexes := []int{1 << 40, 3, 1<<40 + 1, 1 << 50}
	l, err := Split(indexes, Params{})
	if err != nil {
		t.Fatal(err)
	}
	checkLayout(t, l, indexes, Params{})
}

func TestSplitDoesNotKeepIndexes(t *testing.T) {
	indexes := seqIndexes(10)
	l, err := Split(indexes, Params{RunsPerTask: 5})
	if err != nil {
		t.Fatal(err)
	}
	indexes[0] = 99
	if got, _ := l.Shard(0, 0); got[0] != 0 {
		t.Fatalf("Shard(0, 0)=%v after the caller changed its slice", got)
	}
}

// TestSplitMemoryLight holds the memory promise of the package comment: a
// contiguous million indexes cost a bitmap of 125 KB, not a copy.
func TestSplitMemoryLight(t *testing.T) {
	indexes := seqIndexes(1_000_000)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	if _, err := Split(indexes, Params{}); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(512<<10); got > limit {
		t.Fatalf("Split of 1M contiguous indexes allocated %d bytes, want at most %d", got, limit)
	}
}

func BenchmarkSplit1M(b *testing.B) {
	indexes := seqIndexes(1_000_000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Split(indexes, Params{MaxConcurrent: 200}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSplit1MScattered(b *testing.B) {
	indexes := scattered(1_500_000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Split(indexes, Params{MaxConcurrent: 200}); err != nil {
			b.Fatal(err)
		}
	}
}
