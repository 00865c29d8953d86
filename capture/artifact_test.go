package capture

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/metalab-hpc/metalab/internal/safefs"
)

func TestArtifactFileRefusesAndBounds(t *testing.T) {
	work := t.TempDir()
	reg := filepath.Join(work, "reg.bin")
	os.WriteFile(reg, []byte(strings.Repeat("r", 3000)), 0o644)
	link := filepath.Join(work, "link.bin")
	os.Symlink(reg, link)
	fifo := filepath.Join(work, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancelCause(context.Background())
	cancel(context.DeadlineExceeded)
	tests := []struct {
		name    string
		path    string
		ctx     context.Context
		maxSize int64
		want    string // "" means stored
	}{
		{"regular", reg, nil, 0, ""},
		{"symlink to a regular file", link, nil, 0, ""},
		{"device", "/dev/zero", nil, 0, "/dev/zero is a character device, not a regular file"},
		{"fifo", fifo, nil, 0, "is a FIFO, not a regular file"},
		{"directory", work, nil, 0, "is a directory, not a regular file"},
		{"missing", filepath.Join(work, "nope"), nil, 0, "no such file"},
		{"over the limit", reg, nil, 1000, "is 3000 B, larger than the limit of 1000 B (max_artifact_size)"},
		{"cancelled", reg, cancelled, 0, "copy stopped after 0 B"},
	}
	for _, tt := range tests {
		root, err := os.OpenRoot(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		rec := NewRecorder(Config{Root: root, Dir: "artifacts/r1", Context: tt.ctx, Limits: Limits{MaxArtifactSize: tt.maxSize}})
		done := make(chan struct{})
		go func() {
			defer close(done)
			rec.ArtifactFile("a", tt.path, "")
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: ArtifactFile blocked", tt.name)
		}
		err = rec.Err()
		res := rec.Result()
		if tt.want == "" {
			if err != nil || len(res.Artifacts) != 1 || res.Artifacts[0].Size != 3000 {
				t.Errorf("%s: err %v, artifacts %+v; want it stored", tt.name, err, res.Artifacts)
			}
			if _, err := os.Stat(tt.path); err != nil {
				t.Errorf("%s: the source is gone (%v): artifacts are copied, never moved", tt.name, err)
			}
		} else if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err %v, want %q", tt.name, err, tt.want)
		}
		rec.Close()
		root.Close()
	}
}

func TestArtifactDirSymlinkInStoreRefused(t *testing.T) {
	store := t.TempDir()
	victim := t.TempDir()
	os.MkdirAll(filepath.Join(store, "artifacts"), 0o755)
	os.Symlink(victim, filepath.Join(store, "artifacts", "r1"))
	rec := TestRecorder(t, store, "artifacts/r1")
	rec.Artifact("x", []byte("data"), "")
	if err := rec.Err(); err == nil || !strings.Contains(err.Error(), "is a symlink, not a directory") {
		t.Fatalf("Err()=%v, want the planted link refused", err)
	}
	if names, _ := os.ReadDir(victim); len(names) != 0 {
		t.Fatalf("written through the link: %v", names)
	}
}

func TestArtifactModeFollowsUmask(t *testing.T) {
	rec := TestRecorder(t, t.TempDir(), "artifacts/r1")
	rec.Artifact("x", []byte("data"), "")
	res := rec.Result()
	if len(res.Artifacts) != 1 {
		t.Fatalf("artifacts %+v, err %v", res.Artifacts, rec.Err())
	}
	info, err := rec.artRoot.Stat(filepath.Base(res.Artifacts[0].Path))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := info.Mode().Perm(), safefs.FileCreate&^safefs.Umask(); got != want {
		t.Errorf("artifact mode %v, want %v (0664 less the umask)", got, want)
	}
}
