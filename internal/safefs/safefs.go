// Package safefs holds the few file operations that metalab performs on
// directories a run can touch (its scratch and artifact directories, the
// store's logs and artifacts), where a path string must not be trusted: a
// run may have replaced any directory or file by a symlink, a FIFO or a
// device since metalab created it.
//
// The rule it serves: open metalab's directories once with [os.OpenRoot] and
// work through the *os.Root, so that nothing outside can be reached; where a
// symlink must not be followed even inside the directory (metalab appending
// to a log the run swapped for a link to a segment), open with
// [OpenRegularIn], which refuses a symlink in any component and anything but
// a regular file. Files are opened with O_NONBLOCK, so that a FIFO is seen
// for what it is instead of blocking metalab until its run is long over.
//
// Modes: metalab creates files 0664 and directories 0775, and the umask
// applies, so a store follows its owner's umask (a group-shared store with
// umask 002 works for the group) and nothing is ever world-writable.
package safefs

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Modes to create files and directories with; the umask applies.
const (
	FileCreate fs.FileMode = 0o664
	DirCreate  fs.FileMode = 0o775
	ExecCreate fs.FileMode = 0o775
)

var umask = sync.OnceValue(readUmask)

// Umask is the process's umask. It is read once, from /proc/self/status
// where the kernel shows it (Linux 4.7 and later), else by setting and
// restoring it, which is safe before other goroutines create files.
func Umask() fs.FileMode { return umask() }

func readUmask() fs.FileMode {
	if f, err := os.Open("/proc/self/status"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "Umask:"); ok {
				if m, err := strconv.ParseUint(strings.TrimSpace(v), 8, 32); err == nil {
					return fs.FileMode(m)
				}
			}
		}
	}
	old := syscall.Umask(0o022)
	syscall.Umask(old)
	return fs.FileMode(old)
}

// Mode is perm as the umask leaves it, and never world-writable: the mode
// to give a file that was created with a fixed mode (os.CreateTemp makes
// 0600) before it is renamed into place.
func Mode(perm fs.FileMode) fs.FileMode { return perm &^ Umask() &^ 0o002 }

// NotRegularError says that a path metalab wanted to read or write as a
// regular file is something else.
type NotRegularError struct {
	Path string
	Mode fs.FileMode
	Want string // "a directory" for a path component; "" means a regular file
}

func (e *NotRegularError) Error() string {
	want := e.Want
	if want == "" {
		want = "a regular file"
	}
	return fmt.Sprintf("%s is %s, not %s", e.Path, Describe(e.Mode), want)
}

// Describe names a file type for a message: "a symlink", "a FIFO", ...
func Describe(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m.IsDir():
		return "a directory"
	case m.IsRegular():
		return "a regular file"
	}
	return "a special file"
}

// OpenRegular opens path for reading, following symlinks, and returns it
// only if it is a regular file: a FIFO is opened without blocking and then
// refused, a device (/dev/zero) is refused before a byte is read.
func OpenRegular(p string) (*os.File, fs.FileInfo, error) {
	fd, err := openat(unix.AT_FDCWD, p, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, &fs.PathError{Op: "open", Path: p, Err: err}
	}
	return regular(fd, p)
}

// OpenRegularIn opens name, a path relative to root, refusing a symlink in
// any of its components (with an error that says so) and anything but a
// regular file. flag is as for os.OpenFile; O_CREATE creates the file with
// perm (the umask applies).
func OpenRegularIn(root *os.Root, name string, flag int, perm fs.FileMode) (*os.File, fs.FileInfo, error) {
	full := filepath.Join(root.Name(), filepath.FromSlash(name))
	name = path.Clean(filepath.ToSlash(name))
	if !filepath.IsLocal(name) {
		return nil, nil, &fs.PathError{Op: "open", Path: full, Err: errors.New("path leaves its directory")}
	}
	d, err := root.Open(".")
	if err != nil {
		return nil, nil, err
	}
	defer d.Close()
	dirfd := int(d.Fd())
	dir, base := path.Split(name)
	fd := dirfd
	closeFD := func() {
		if fd != dirfd {
			unix.Close(fd)
		}
	}
	walked := ""
	for _, comp := range strings.Split(strings.Trim(dir, "/"), "/") {
		if comp == "" {
			continue
		}
		walked = path.Join(walked, comp)
		next, err := openat(fd, comp, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		closeFD()
		if err != nil {
			return nil, nil, describeErr(root, walked, "a directory", err)
		}
		fd = next
	}
	ffd, err := openat(fd, base, flag|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, uint32(perm))
	closeFD()
	if err != nil {
		return nil, nil, describeErr(root, name, "", err)
	}
	return regular(ffd, full)
}

// regular wraps fd as a file if it is a regular file, in blocking mode.
func regular(fd int, name string) (*os.File, fs.FileInfo, error) {
	f := os.NewFile(uintptr(fd), name)
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !info.Mode().IsRegular() {
		f.Close()
		return nil, nil, &NotRegularError{Path: name, Mode: info.Mode()}
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, info, nil
}

// describeErr turns the errno of a no-follow open into an error that names
// what was found at rel.
func describeErr(root *os.Root, rel, want string, errno error) error {
	full := filepath.Join(root.Name(), filepath.FromSlash(rel))
	if errors.Is(errno, unix.ELOOP) || errors.Is(errno, unix.ENOTDIR) || errors.Is(errno, unix.ENXIO) || errors.Is(errno, unix.EISDIR) {
		if info, err := root.Lstat(rel); err == nil && info.Mode().Type() != modeOf(want) {
			return &NotRegularError{Path: full, Mode: info.Mode(), Want: want}
		}
	}
	return &fs.PathError{Op: "open", Path: full, Err: errno}
}

func openat(dirfd int, name string, flag int, perm uint32) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, flag, perm)
		if err != unix.EINTR {
			return fd, err
		}
	}
}

func modeOf(want string) fs.FileMode {
	if want == "a directory" {
		return fs.ModeDir
	}
	return 0
}

// OpenDirIn opens the directory rel inside root as a root of its own,
// creating it and its parents (mode [DirCreate]) when create is set. Every
// component must be a real directory: a symlink is refused even when it
// points inside root, so that what metalab writes lands where its records
// say.
func OpenDirIn(root *os.Root, rel string, create bool) (*os.Root, error) {
	rel = path.Clean(filepath.ToSlash(rel))
	if !filepath.IsLocal(rel) {
		return nil, &fs.PathError{Op: "open", Path: filepath.Join(root.Name(), rel), Err: errors.New("path leaves its directory")}
	}
	p := ""
	for _, comp := range strings.Split(rel, "/") {
		p = path.Join(p, comp)
		info, err := root.Lstat(p)
		if create && errors.Is(err, fs.ErrNotExist) {
			if err = root.Mkdir(p, DirCreate); err == nil || errors.Is(err, fs.ErrExist) {
				info, err = root.Lstat(p)
			}
		}
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			return nil, &NotRegularError{Path: filepath.Join(root.Name(), p), Mode: info.Mode(), Want: "a directory"}
		}
	}
	sub, err := root.OpenRoot(rel)
	if err != nil {
		return nil, err
	}
	// A symlink swapped in between the checks and the open: the root
	// confines it, and this catches it.
	want, err1 := root.Lstat(rel)
	got, err2 := sub.Stat(".")
	if err1 != nil || err2 != nil || !os.SameFile(want, got) {
		sub.Close()
		return nil, &fs.PathError{Op: "open", Path: filepath.Join(root.Name(), rel), Err: errors.New("directory was replaced while it was opened")}
	}
	return sub, nil
}
