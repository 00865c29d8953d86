package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/params"
)

// t0 is the start of the runs in tests.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// runID is the i-th run ID of a test.
func runID(i int) string { return fmt.Sprintf("%016x", i) }

// testRecord is a realistic record of run i: three params, a few metrics, an
// artifact; ended at t0+at seconds (started one second before), or, for a
// running one, started then. Either way its When is t0+at.
func testRecord(i int, st Status, at int) *Record {
	r := &Record{
		RunID:      runID(i),
		Status:     st,
		Experiment: "sweep",
		Version:    "1",
		Params:     params.Point{"lr": 0.001 * float64(i%7+1), "model": "resnet", "layers": int64(i%4 + 1)},
		SeedBase:   42,
		Replicate:  i % 3,
		Seed:       uint64(i) * 0x9e3779b97f4a7c15,
		Started:    t0.Add(time.Duration(at-1) * time.Second),
		Host:       "node01",
		PID:        4242,
	}
	if st == StatusRunning {
		r.Started = t0.Add(time.Duration(at) * time.Second)
	} else {
		r.Ended = t0.Add(time.Duration(at) * time.Second)
		r.Result = capture.Result{
			Metrics: capture.Metrics{"loss": 0.25, "accuracy": 0.91},
			Artifacts: []capture.Artifact{{
				Name: "model.npz", Path: "artifacts/" + runID(i) + "/model.npz", SHA256: strings.Repeat("ab", 32), Size: 1234,
			}},
		}
	}
	if st == StatusFailed {
		r.Error = "diverged"
	}
	return r
}

// encode is the JSON encoding of a record, for comparing records.
func encode(t testing.TB, r *Record) string {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestOpenCreatesLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "store")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got, want := s.Dir(), dir; got != want {
		t.Errorf("Dir()=%q, want %q", got, want)
	}
	for _, d := range []string{"segments", "artifacts", "logs", "index/nodes", "submissions", "bin", "tmp"} {
		if info, err := os.Stat(filepath.Join(dir, d)); err != nil || !info.IsDir() {
			t.Errorf("Open did not create %s: %v", d, err)
		}
	}
	// Opening again is fine.
	s2, err := Open(dir)
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	s2.Close()
}

func TestOpenRefusesNewerFormat(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "metalab.json"), []byte(`{"format": 2, "experiment": "x"}`), 0o666); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir)
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("Open()=%v, want a *FormatError", err)
	}
	want := fmt.Sprintf("store %s was written by a newer metalab (format 2; this one reads up to 1)", dir)
	if got := err.Error(); got != want || fe.Hint() == "" {
		t.Errorf("Open() error:\n%s (hint %q)\nwant\n%s\nand a hint", got, fe.Hint(), want)
	}
	if _, err := os.Stat(filepath.Join(dir, "segments")); err == nil {
		t.Errorf("Open created segments/ in a store it refused")
	}
	figures(t, "format=2 refused=%t message=%q", fe != nil, strings.SplitN(err.Error(), "\n", 2)[0])
}

func TestArtifactDir(t *testing.T) {
	s := TestStore(t)
	base := filepath.Join(s.Dir(), "artifacts")
	tests := []struct {
		id    string
		valid bool
	}{
		{"0123456789abcdef", true},
		{"0123456789ABCDEF", false},
		{"../../etc/passwd", false},
		{"..", false},
		{"", false},
		{"0123456789abcdef0", false},
		{"a/b", false},
	}
	for _, tt := range tests {
		got := s.ArtifactDir(tt.id)
		if filepath.Dir(got) != base {
			t.Errorf("ArtifactDir(%q)=%q, not directly under %s", tt.id, got, base)
		}
		if tt.valid {
			if want := filepath.Join(base, tt.id); got != want {
				t.Errorf("ArtifactDir(%q)=%q, want %q", tt.id, got, want)
			}
		} else if !strings.HasPrefix(filepath.Base(got), "invalid-") {
			t.Errorf("ArtifactDir(%q)=%q, want an invalid-... directory", tt.id, got)
		}
	}
	if a, b := s.ArtifactDir("x"), s.ArtifactDir("y"); a == b {
		t.Errorf("ArtifactDir of two invalid IDs are both %q", a)
	}
}

func TestTestStore(t *testing.T) {
	s := TestStore(t)
	if _, err := os.Stat(filepath.Join(s.Dir(), "segments")); err != nil {
		t.Fatal(err)
	}
	if err := s.Init(Manifest{Experiment: "e", Version: "1", Spec: json.RawMessage(`{}`)}); err != nil {
		t.Fatal(err)
	}
}

func TestLayoutNames(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	lock, err := s.Lock(context.Background(), LockOptions{Mode: Exclusive, Purpose: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	want := LayoutNames()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("a new, locked store holds %v; LayoutNames()=%v", got, want)
	}
}
