package capture

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestLineReader(t *testing.T) {
	long := strings.Repeat("x", 100)
	tests := []struct {
		name  string
		in    string
		max   int
		lines []string // "!" marks a line over the limit
		sizes []int64
	}{
		{"plain", "a\nbb\n", 10, []string{"a", "bb"}, []int64{2, 3}},
		{"crlf", "a\r\nb\r\n", 10, []string{"a", "b"}, []int64{3, 3}},
		{"no newline at the end", "a\nlast", 10, []string{"a", "last"}, []int64{2, 4}},
		{"empty lines", "\n\na\n", 10, []string{"", "", "a"}, []int64{1, 1, 2}},
		{"at the limit", long + "\n", 100, []string{long}, []int64{101}},
		{"one over the limit", long + "y\nok\n", 100, []string{"!", "ok"}, []int64{102, 3}},
		{"far over the limit", strings.Repeat("z", 200000) + "\nok\n", 100, []string{"!", "ok"}, []int64{200001, 3}},
		{"long last line without newline", "ok\n" + strings.Repeat("z", 200000), 100, []string{"ok", "!"}, []int64{3, 200000}},
	}
	for _, tt := range tests {
		lr := NewLineReader(strings.NewReader(tt.in), tt.max)
		var got []string
		var sizes []int64
		for {
			line, n, err := lr.Next()
			if err == io.EOF {
				break
			}
			switch {
			case errors.Is(err, ErrLineTooLong):
				got = append(got, "!")
			case err != nil:
				t.Fatalf("%s: %v", tt.name, err)
			default:
				got = append(got, string(line))
			}
			sizes = append(sizes, n)
		}
		if strings.Join(got, "|") != strings.Join(tt.lines, "|") {
			t.Errorf("%s: lines %q, want %q", tt.name, got, tt.lines)
		}
		if len(sizes) != len(tt.sizes) {
			t.Errorf("%s: sizes %v, want %v", tt.name, sizes, tt.sizes)
			continue
		}
		for i := range sizes {
			if sizes[i] != tt.sizes[i] {
				t.Errorf("%s: sizes %v, want %v", tt.name, sizes, tt.sizes)
				break
			}
		}
	}
}

func TestApplyLinesLimits(t *testing.T) {
	store := t.TempDir()
	rec := TestRecorder(t, store, "artifacts/r1")
	rec.limits.MaxLine = 64
	rec.limits.MaxCaptureSize = 200
	in := `{"metric": "a", "value": 1}` + "\n" +
		`{"log": "` + strings.Repeat("x", 1000) + `"}` + "\n" +
		`{"metric": "b", "value": 2}` + "\n" +
		strings.Repeat(`{"metric": "c", "value": 3}`+"\n", 10)
	if err := rec.ApplyLines(strings.NewReader(in), store); err != nil {
		t.Fatal(err)
	}
	res := rec.Result()
	if res.Metrics["a"] != 1 || res.Metrics["b"] != 2 {
		t.Errorf("metrics %v: the lines around the long one are lost", res.Metrics)
	}
	if len(res.Logs) != 0 {
		t.Errorf("the long line was applied: %d log lines", len(res.Logs))
	}
	if err := rec.Err(); err == nil || !strings.Contains(err.Error(), "capture line 2: capture line too long: 1012 bytes, the limit is 64 B") {
		t.Errorf("Err()=%v, want the long line 2 named", err)
	}
	// 200 bytes hold the first, third and a few more 28-byte lines.
	if rec.captured <= 200 || rec.captured > 200+28 {
		t.Errorf("read %d bytes of lines, want to stop just past 200", rec.captured)
	}
}
