package store

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "f.txt")
	write := func(s string) error {
		return WriteFileAtomic(path, 0o640, func(w io.Writer) error { _, err := io.WriteString(w, s); return err })
	}
	if err := write("one"); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := WriteFileAtomic(path, 0o640, func(w io.Writer) error { io.WriteString(w, "half"); return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("WriteFileAtomic()=%v, want the fill error", err)
	}
	b, _ := os.ReadFile(path)
	if got, want := string(b), "one"; got != want {
		t.Fatalf("after a failed write the file holds %q, want %q", got, want)
	}
	fi, _ := os.Stat(path)
	if got, want := fi.Mode().Perm(), os.FileMode(0o640); got != want {
		t.Errorf("mode %v, want %v", got, want)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}
