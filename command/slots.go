package command

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"

	"github.com/metalab-hpc/metalab/internal/safefs"
	"github.com/metalab-hpc/metalab/internal/tempname"
	"github.com/metalab-hpc/metalab/launcher"
	"github.com/metalab-hpc/metalab/store"
)

// slot is what the runs of one worker slot reuse, one after the other: a
// scratch directory and the slot's open logs. Creating and removing a
// directory and two files and opening two logs a run was a fifth of the
// cost of running /bin/true.
//
// The scratch directory is the run's to use, and a hostile run may replace
// it, or anything in it, by a symlink to a directory it wants emptied.
// metalab therefore opens it once as an [os.Root] when it makes it, and
// from then on touches its contents only through that root, which never
// leaves the directory; after each run it checks that path still names the
// directory it made, and if not, the run fails, whatever stands at path is
// removed (a link, not what it points to), and the slot starts afresh.
type slot struct {
	st             *store.Store // where the logs are; nil in tests
	key            string
	path           string      // the scratch directory, as runs see it
	root           *os.Root    // the directory, opened when it was made
	info           fs.FileInfo // what path named then
	runs           int         // runs so far: names each run's files
	stdout, stderr *logFile
	busy           bool
	broken         bool // a run tampered with the directory: drop the slot
}

// scratchPrefix begins the names of slot directories, after the host and
// process that made them (package tempname), so that a sweep that was
// killed leaves them to the next sweep on the host to remove; it is the
// prefix of launcher's own scratch directories.
const scratchPrefix = launcher.ScratchPrefix

var _ io.Closer = (*Op)(nil)

// acquire returns rt's slot, creating it on first use.
func (o *Op) acquire(rt *launcher.Runtime) (*slot, error) {
	writer := rt.Writer
	if writer == "" {
		writer = "run"
	}
	key := rt.StoreDir() + "\x00" + writer + "\x00" + strconv.Itoa(rt.Slot)
	o.mu.Lock()
	sl := o.slots[key]
	if sl != nil && !sl.busy {
		sl.busy = true
		o.mu.Unlock()
		return sl, nil
	}
	o.mu.Unlock()
	sl, err := newSlot(rt.Store(), store.SlotLogName(writer, rt.Slot))
	if err != nil {
		return nil, err
	}
	sl.key, sl.busy = key, true
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.slots == nil {
		o.slots = map[string]*slot{}
	}
	if o.slots[key] == nil {
		o.slots[key] = sl
	}
	return sl, nil
}

// newSlot makes a scratch directory and opens the slot's logs,
// logName.out and logName.err in the store's logs directory; a nil store
// (tests) opens none.
func newSlot(st *store.Store, logName string) (*slot, error) {
	sl, err := newScratch()
	if err != nil {
		return nil, err
	}
	if st == nil {
		return sl, nil
	}
	sl.st = st
	if sl.stdout, err = openLog(st, logName+".out"); err != nil {
		sl.close()
		return nil, err
	}
	if sl.stderr, err = openLog(st, logName+".err"); err != nil {
		sl.close()
		return nil, err
	}
	return sl, nil
}

// newScratch makes a scratch directory under $TMPDIR and opens it.
func newScratch() (*slot, error) {
	path, err := os.MkdirTemp("", tempname.Pattern(scratchPrefix, "slot"))
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(path)
	if err != nil {
		os.Remove(path)
		return nil, err
	}
	info, err := root.Stat(".")
	if err != nil {
		root.Close()
		os.Remove(path)
		return nil, err
	}
	return &slot{path: path, root: root, info: info}, nil
}

// nextRun numbers the slot's next run, for the names of its files: a
// process that a run left behind and that writes late reaches its own
// run's names, never the next run's.
func (sl *slot) nextRun() string {
	n := strconv.Itoa(sl.runs)
	sl.runs++
	return n
}

// check reports what a run did to the scratch directory itself: "" when
// path still names the directory metalab made. Otherwise the slot is
// marked broken and whatever now stands at path is removed, without
// following it.
func (sl *slot) check() string {
	info, err := os.Lstat(sl.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		sl.broken = true
		return fmt.Sprintf("removed its scratch directory $METALAB_SCRATCH (%s)", sl.path)
	case err != nil:
		sl.broken = true
		return fmt.Sprintf("made its scratch directory $METALAB_SCRATCH (%s) unreadable: %v", sl.path, err)
	case os.SameFile(info, sl.info):
		return ""
	}
	sl.broken = true
	target, _ := os.Readlink(sl.path)
	what := describe(info, target)
	if info.IsDir() {
		os.RemoveAll(sl.path) // a directory of the run's, at metalab's path
	} else {
		os.Remove(sl.path) // the link itself, never its target
	}
	return fmt.Sprintf("replaced its scratch directory $METALAB_SCRATCH (%s) by %s; metalab removed that and did not follow it",
		sl.path, what)
}

// describe says what info is, for a message: "a symlink to /etc" (target
// is where a symlink points).
func describe(info fs.FileInfo, target string) string {
	what := safefs.Describe(info.Mode())
	if info.Mode()&fs.ModeSymlink != 0 && target != "" {
		what += " to " + target
	}
	if info.IsDir() {
		what = "another directory"
	}
	return what
}

// describeIn is describe for name in root.
func describeIn(root *os.Root, name string, info fs.FileInfo) string {
	target, _ := root.Readlink(name)
	return describe(info, target)
}

// empty removes everything in the scratch directory, through its root; it
// reports whether that worked. A run may have taken away the permissions
// metalab needs, which it restores first.
func (sl *slot) empty() bool {
	names, err := readNames(sl.root, ".")
	if err != nil {
		sl.root.Chmod(".", 0o700)
		if names, err = readNames(sl.root, "."); err != nil {
			return false
		}
	}
	ok := true
	for _, n := range names {
		if sl.root.RemoveAll(n) != nil {
			chmodTree(sl.root, n)
			if sl.root.RemoveAll(n) != nil {
				ok = false
			}
		}
	}
	return ok
}

// readNames lists the names in directory dir of root.
func readNames(root *os.Root, dir string) ([]string, error) {
	d, err := root.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}

// chmodTree gives metalab back the permissions a run took away from the
// directories under name, without following symlinks, so that they can be
// removed.
func chmodTree(root *os.Root, name string) {
	info, err := root.Lstat(name)
	if err != nil || !info.IsDir() {
		return
	}
	root.Chmod(name, 0o700)
	names, _ := readNames(root, name)
	for _, n := range names {
		chmodTree(root, name+"/"+n)
	}
}

// release readies the slot for its next run: the scratch directory is
// emptied, or the slot is dropped when that fails or a run tampered with it.
func (o *Op) release(sl *slot) {
	kept := !sl.broken && sl.empty()
	o.mu.Lock()
	sl.busy = false
	kept = kept && o.slots[sl.key] == sl
	if !kept && o.slots[sl.key] == sl {
		delete(o.slots, sl.key)
	}
	o.mu.Unlock()
	if !kept {
		sl.close()
	}
}

// close removes the scratch directory, if path still names it, and closes
// the slot's logs, removing those nothing was written to.
func (sl *slot) close() {
	for _, l := range []*logFile{sl.stdout, sl.stderr} {
		if l != nil {
			closeLog(sl.st, l)
		}
	}
	if sl.root == nil {
		return
	}
	if !sl.broken {
		sl.empty()
		if info, err := os.Lstat(sl.path); err == nil && os.SameFile(info, sl.info) {
			os.Remove(sl.path)
		}
	}
	sl.root.Close()
	sl.root = nil
}

// closeLog closes a slot's log and removes it if it is empty: the runs of
// a SLURM array task that print nothing (most of them, for a program that
// reports through $METALAB_CAPTURE) would leave two empty files a task.
// The records of those runs point at an empty range of it, which reads as
// no output. It is removed only if its name still names the file metalab
// opened: a run may have put something else there.
func closeLog(st *store.Store, l *logFile) {
	fi, err := l.f.Stat()
	l.close()
	if err != nil || fi.Size() != 0 || st == nil {
		return
	}
	if now, err := st.Root().Lstat(l.rel); err == nil && os.SameFile(fi, now) && now.Size() == 0 {
		st.Root().Remove(l.rel)
	}
}

// Close removes the slots' scratch directories and closes their logs; the
// launcher calls it when the sweep has ended. A later Execute makes new
// ones.
func (o *Op) Close() error {
	o.mu.Lock()
	var idle []*slot
	for k, sl := range o.slots {
		if !sl.busy {
			idle = append(idle, sl)
			delete(o.slots, k)
		}
	}
	o.mu.Unlock()
	for _, sl := range idle {
		sl.close()
	}
	killLeftovers(0, "") // reaps orphans' zombies
	return nil
}
