package launcher

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
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

// TestProgressOfASkippedSweep: a sweep with nothing to run shows no
// progress; the caller prints its one line.
func TestProgressOfASkippedSweep(t *testing.T) {
	for _, mode := range []string{"lines", "bar", "log"} {
		var out bytes.Buffer
		h := &Handle{total: 9, skipped: 9}
		p := newProgress(Options{Progress: &out, ProgressMode: mode}, h)
		p.start()
		p.stop()
		if out.Len() > 0 {
			t.Errorf("mode %s printed %q", mode, out.String())
		}
	}
}

func TestRate(t *testing.T) {
	tests := []struct {
		elapsed time.Duration
		done    int
		want    string
	}{
		{time.Minute, 0, ""}, // no "0 runs/hr" before the first run ends
		{0, 5, ""},
		{time.Second, 5, "5 runs/s"},
		{time.Minute, 3, "3 runs/min"},
		{time.Hour, 2, "2.0 runs/hr"},
	}
	for _, tt := range tests {
		if got := rate(tt.elapsed, tt.done); got != tt.want {
			t.Errorf("rate(%s, %d)=%q, want %q", tt.elapsed, tt.done, got, tt.want)
		}
	}
}

// TestBar draws the bar of a sweep whose runs fail one after the other:
// no frame shows more failures than runs done, or a rate before the first
// run ends; and log lines written meanwhile each start a line of their
// own, never glued to the bar.
func TestBar(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := &Handle{total: 20, queued: 20}
	p := newProgress(Options{Progress: f, ProgressMode: "bar"}, h)
	log := NewLogger(f, zerolog.InfoLevel)
	p.start()
	for i := range 20 {
		time.Sleep(40 * time.Millisecond)
		h.failed.Add(1)
		log.Info().Int("i", i).Msg("a log line")
	}
	time.Sleep(150 * time.Millisecond)
	p.stop()
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	frame := regexp.MustCompile(`runs \((\d+) failed[^|]*\|[^|]*\| \((\d+)/20`)
	frames := frame.FindAllStringSubmatch(string(b), -1)
	if len(frames) < 3 {
		t.Fatalf("%d frames of the bar:\n%q", len(frames), b)
	}
	for _, m := range frames {
		failed, _ := strconv.Atoi(m[1])
		done, _ := strconv.Atoi(m[2])
		if failed > done {
			t.Errorf("a frame shows %d failed of %d done: %q", failed, done, m[0])
		}
	}
	if strings.Contains(string(b), "runs/hr") && strings.Contains(string(b), "(0 failed, 0") {
		t.Errorf("a rate before the first run ended:\n%q", b)
	}
	logs := 0
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.Contains(line, "a log line") {
			continue
		}
		logs++
		start := line[strings.LastIndexByte(line, '\r')+1:]
		if start = strings.TrimPrefix(start, "\x1b[K"); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT`).MatchString(start) {
			t.Errorf("a log line glued to the bar: %q", line)
		}
	}
	if logs != 20 {
		t.Errorf("%d log lines, want 20:\n%q", logs, b)
	}
}

// TestProgressRecords: mode "log" (--log-format json) writes the progress
// lines as records of the sweep's logger.
func TestProgressRecords(t *testing.T) {
	var out bytes.Buffer
	log := NewJSONLogger(&out, zerolog.InfoLevel)
	h := &Handle{total: 4, queued: 4}
	h.completed.Store(1)
	h.failed.Store(1)
	p := newProgress(Options{Progress: &out, ProgressMode: "log", Logger: &log}, h)
	p.start()
	p.stop()
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2 (start and end):\n%s", len(lines), out.String())
	}
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		if rec["message"] != "progress" || rec["done"] != 2.0 || rec["failed"] != 1.0 || rec["to_run"] != 4.0 {
			t.Errorf("record %s", l)
		}
	}
}
