package command

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metalab-hpc/metalab/store"
)

// TestCaptureOnStdout finds a capture line in a run's range of its slot's
// stdout log, and nothing in the ranges of other runs or past the bound.
func TestCaptureOnStdout(t *testing.T) {
	earlier := `{"metric": "loss", "value": 1}` + "\n" // another run's
	mine := "epoch 1\n{not json}\n  {\"metric\": \"loss\", \"value\": 0.5}\n"
	f, err := os.Create(filepath.Join(t.TempDir(), "slot.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(earlier + mine + strings.Repeat("x", stdoutScanLimit) + "\n" + `{"log": "late"}` + "\n"); err != nil {
		t.Fatal(err)
	}
	off := int64(len(earlier))
	tests := []struct {
		name string
		ref  *store.LogRef
		want string
	}{
		{"the run's range", &store.LogRef{Offset: off, Length: int64(len(mine))}, `{"metric": "loss", "value": 0.5}`},
		{"plain output", &store.LogRef{Offset: off, Length: int64(len("epoch 1\n{not json}\n"))}, ""},
		{"past the bound", &store.LogRef{Offset: off + int64(len(mine)), Length: stdoutScanLimit + 20}, ""},
		{"no output", &store.LogRef{Offset: off, Length: 0}, ""},
		{"no log", nil, ""},
	}
	for _, tt := range tests {
		if got := captureOnStdout(f, tt.ref); got != tt.want {
			t.Errorf("%s: captureOnStdout()=%q, want %q", tt.name, got, tt.want)
		}
	}
}
