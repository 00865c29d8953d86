// Package tempname names temporary files and directories after the process
// that creates them (its host and PID), so that a later process can tell
// those that a crashed one left behind and remove them. A process killed
// with SIGKILL, or by the loss of its node, cleans up nothing; metalab's
// next run, on the same host, does.
package tempname

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/metalab-hpc/metalab/internal/host"
)

// Pattern returns an os.CreateTemp or os.MkdirTemp pattern for a name that
// starts with prefix and records this host and process:
// PREFIX<host>.<pid>.<rest>-* . rest must not contain '.'.
func Pattern(prefix, rest string) string {
	return prefix + host.Short() + "." + strconv.Itoa(os.Getpid()) + "." + rest + "-*"
}

// Stale reports whether name (a base name made from Pattern(prefix, ...))
// belongs to a process of this host that no longer exists.
func Stale(name, prefix string) bool {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok {
		return false
	}
	parts := strings.SplitN(rest, ".", 3)
	if len(parts) != 3 || parts[0] != host.Short() {
		return false
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil || pid <= 0 || pid == os.Getpid() {
		return false
	}
	// ESRCH: no such process. EPERM means it exists (another user's).
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// RemoveStale removes the entries of dir whose names Stale reports as left
// by a dead process, and returns how many it removed. A missing dir has none.
func RemoveStale(dir, prefix string) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, nil
		}
		return 0, err
	}
	n := 0
	var first error
	for _, e := range entries {
		if !Stale(e.Name(), prefix) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		n++
	}
	return n, first
}
