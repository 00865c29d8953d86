package shard

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestShard(t *testing.T) {
	// 3,4,5,6 then 10,11, then 0,1,2 at 2 per task, in arrays of 2 tasks.
	l, err := Split([]int{3, 4, 5, 6, 10, 11, 0, 1, 2}, Params{RunsPerTask: 2, MaxArraySize: 2})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		array, task int
		want        []int
	}{
		{0, 0, []int{3, 4}},
		{0, 1, []int{5, 6}},
		{1, 0, []int{10, 11}},
		{1, 1, []int{0, 1}},
		{2, 0, []int{2}},
	}
	for _, tt := range tests {
		got, err := l.Shard(tt.array, tt.task)
		if err != nil {
			t.Fatalf("Shard(%d, %d): %v", tt.array, tt.task, err)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Shard(%d, %d)=%v, want %v", tt.array, tt.task, got, tt.want)
		}
	}
}

func TestShardErrors(t *testing.T) {
	l, err := Split(seqIndexes(100), Params{RunsPerTask: 10, MaxArraySize: 4})
	if err != nil {
		t.Fatal(err)
	}
	// 10 tasks in arrays of 4, 3 and 3.
	tests := []struct {
		array, task int
		want        string
	}{
		{-1, 0, "shard: array -1 out of range: the layout has 3 arrays (0-2)"},
		{3, 0, "shard: array 3 out of range: the layout has 3 arrays (0-2)"},
		{0, -1, "shard: task -1 out of range: array 0 has 4 tasks (0-3)"},
		{0, 4, "shard: task 4 out of range: array 0 has 4 tasks (0-3)"},
		{2, 3, "shard: task 3 out of range: array 2 has 3 tasks (0-2)"},
	}
	for _, tt := range tests {
		_, err := l.Shard(tt.array, tt.task)
		if err == nil {
			t.Fatalf("Shard(%d, %d) succeeded, want an error", tt.array, tt.task)
		}
		if got, want := err.Error(), tt.want; got != want {
			t.Errorf("Shard(%d, %d) error %q, want %q", tt.array, tt.task, got, want)
		}
		if !errors.Is(err, ErrOutOfRange) {
			t.Errorf("Shard(%d, %d) error %v is not ErrOutOfRange", tt.array, tt.task, err)
		}
	}

	one, err := Split([]int{0}, Params{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := one.Shard(0, 1); err == nil || !strings.Contains(err.Error(), "array 0 has 1 task (only 0)") {
		t.Errorf("Shard(0, 1) error %v, want one naming the only task", err)
	}

	// A layout whose arrays were edited into more tasks than runs.
	l.Arrays[2].Tasks = 5
	if _, err := l.Shard(2, 4); err == nil || !strings.Contains(err.Error(), "inconsistent") {
		t.Errorf("Shard of an edited layout error %v, want inconsistent", err)
	}
}

func TestSpec(t *testing.T) {
	tests := []struct {
		a    Array
		want string
	}{
		{Array{Tasks: 1}, "0"},
		{Array{Tasks: 1, Throttle: 1}, "0%1"},
		{Array{Tasks: 11}, "0-10"},
		{Array{Tasks: 11, Throttle: 4}, "0-10%4"},
	}
	for _, tt := range tests {
		if got := tt.a.Spec(); got != tt.want {
			t.Errorf("%+v.Spec()=%q, want %q", tt.a, got, tt.want)
		}
	}
}

func TestMaxRunning(t *testing.T) {
	tests := []struct {
		name   string
		arrays []Array
		want   int
	}{
		{"unthrottled", []Array{{Tasks: 10}, {Tasks: 5}}, 15},
		{"throttled", []Array{{Tasks: 10, Throttle: 3}, {Tasks: 5, Throttle: 2}}, 5},
		{"throttle above tasks", []Array{{Tasks: 2, Throttle: 8}}, 2},
		{"chain", []Array{{Tasks: 10, Throttle: 3}, {Tasks: 10, Throttle: 4, After: []int{0}}}, 4},
		{"two chains", []Array{
			{Tasks: 10, Throttle: 3}, {Tasks: 10, Throttle: 2},
			{Tasks: 10, Throttle: 3, After: []int{0}}, {Tasks: 10, Throttle: 5, After: []int{1}},
		}, 8},
		{"tree: two arrays after one", []Array{
			{Tasks: 10, Throttle: 1}, {Tasks: 10, Throttle: 1, After: []int{0}}, {Tasks: 10, Throttle: 1, After: []int{0}},
		}, 3},
		{"two dependencies", []Array{
			{Tasks: 10, Throttle: 1}, {Tasks: 10, Throttle: 1}, {Tasks: 10, Throttle: 1, After: []int{0, 1}},
		}, 3},
	}
	for _, tt := range tests {
		l := &Layout{RunsPerTask: 1, Arrays: tt.arrays}
		if got := l.MaxRunning(); got != tt.want {
			t.Errorf("%s: MaxRunning()=%d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestMarkRange(t *testing.T) {
	set := make([]uint64, 4)
	for _, r := range [][2]int{{0, 1}, {1, 64}, {64, 200}, {250, 256}, {200, 250}} {
		if v, dup := markRange(set, r[0], r[1]); dup {
			t.Fatalf("markRange(%d, %d) found %d twice", r[0], r[1], v)
		}
	}
	for _, v := range []int{0, 63, 64, 127, 199, 255} {
		if got, dup := markRange(set, v, v+1); !dup || got != v {
			t.Errorf("markRange(%d, %d)=%d,%v, want %d,true", v, v+1, got, dup, v)
		}
	}
	set = make([]uint64, 4)
	markRange(set, 130, 131)
	if got, dup := markRange(set, 100, 200); !dup || got != 130 {
		t.Errorf("markRange(100, 200)=%d,%v, want 130,true", got, dup)
	}
}

func BenchmarkShard(b *testing.B) {
	l, err := Split(scattered(1_500_000), Params{MaxConcurrent: 200})
	if err != nil {
		b.Fatal(err)
	}
	last := len(l.Arrays) - 1
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Shard(last, l.Arrays[last].Tasks-1); err != nil {
			b.Fatal(err)
		}
	}
}
