package launcher

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"
)

func TestFormatSeconds(t *testing.T) {
	const day, year = 86400.0, 365.25 * 86400
	tests := []struct {
		sec  float64
		want string
	}{
		{0, "0s"},
		{59.6, "1m0s"},
		{3600, "1h0m0s"},
		{2*day - 1, "47h59m59s"},
		{2 * day, "2.0 days"},
		{400 * day, "400.0 days"},
		{3 * year, "3 years"},
		{1584.4 * year, "1,584 years"},
		{float64(math.MaxInt64), "292,271,023,045 years"},
		{1e30, "3.17e+22 years"},
		{-1, "?"},
		{math.NaN(), "?"},
		{math.Inf(1), "?"},
	}
	for _, tt := range tests {
		if got := formatSeconds(tt.sec); got != tt.want {
			t.Errorf("formatSeconds(%g)=%q, want %q", tt.sec, got, tt.want)
		}
	}
}

// TestETA never overflows or goes negative, whatever the sweep's size and
// pace.
func TestETA(t *testing.T) {
	tests := []struct {
		name       string
		elapsed    time.Duration
		done, todo int
		want       string
	}{
		{"nothing done yet", 10 * time.Second, 0, 100, "?"},
		{"all done", 10 * time.Second, 100, 100, "0s"},
		{"half done", 10 * time.Second, 50, 100, "10s"},
		{"10^16 runs at one a second", time.Second, 1, 1e16, "316,880,878 years"},
		{"MaxInt runs, one done in MaxInt64 ns", math.MaxInt64, 1, math.MaxInt, "2.7e+21 years"},
		{"no time elapsed", 0, 5, 10, "?"},
		{"a clock that went back", -5 * time.Second, 5, 10, "?"},
	}
	for _, tt := range tests {
		got := eta(tt.elapsed, tt.done, tt.todo)
		if got != tt.want {
			t.Errorf("%s: eta(%s, %d, %d)=%q, want %q", tt.name, tt.elapsed, tt.done, tt.todo, got, tt.want)
		}
		if strings.HasPrefix(got, "-") {
			t.Errorf("%s: negative eta %q", tt.name, got)
		}
	}
}

// TestProgressLineOfAHugeSweep: the line of a sweep of 10^16 runs shows a
// sensible ETA, by the progress display's clock.
func TestProgressLineOfAHugeSweep(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := &Handle{total: 1e16, queued: 1e16}
	h.completed.Store(1)
	var out bytes.Buffer
	p := newProgress(Options{Progress: &out, ProgressMode: "lines", now: func() time.Time { return now }}, h)
	p.started = now.Add(-time.Second)
	if got, want := p.line(h.Status()), "1/10000000000000000 runs done (1 completed, 0 failed, 0 cancelled), 0 running, 1s elapsed, eta 316,880,878 years"; !strings.HasSuffix(got, want) {
		t.Errorf("line()=%q, want ...%q", got, want)
	}
}
