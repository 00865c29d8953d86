package store

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/metalab-hpc/metalab/internal/safefs"
	"github.com/metalab-hpc/metalab/internal/tempname"
)

// WriteFileAtomic makes path appear whole or not at all: fill writes a
// temporary file in the same directory, which is fsynced, given perm,
// renamed over path, and the directory fsynced. perm is reduced by the
// umask and never world-writable (see [safefs.Mode]). Submission records, shard
// layouts, batch scripts and exports are written this way. The temporary
// file's name carries this host and PID (internal/tempname), so that one
// left by a process killed mid-write is removed by the next write of path.
func WriteFileAtomic(path string, perm os.FileMode, fill func(io.Writer) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, safefs.DirCreate); err != nil {
		return err
	}
	prefix := "." + filepath.Base(path) + ".tmp-"
	tempname.RemoveStale(dir, prefix) // best effort: a leftover harms nothing
	tmp, err := os.CreateTemp(dir, tempname.Pattern(prefix, "w"))
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
