package store

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/metalab-hpc/metalab/internal/safefs"
)

// WriteFileAtomic makes path appear whole or not at all: fill writes a
// temporary file in the same directory, which is fsynced, given perm,
// renamed over path, and the directory fsynced. perm is reduced by the
// umask and never world-writable (see [safefs.Mode]). Submission records, shard
// layouts, batch scripts and exports are written this way.
func WriteFileAtomic(path string, perm os.FileMode, fill func(io.Writer) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, safefs.DirCreate); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	err = fill(tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), safefs.Mode(perm))
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
