package command

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/metalab-hpc/metalab/internal/tempname"
	"github.com/metalab-hpc/metalab/launcher"
)

// slot is what the runs of one worker slot reuse, one after the other: a
// scratch directory (with the capture file and the artifact directory in
// it) and the slot's open logs. Creating and removing a directory and two
// files and opening two logs a run was a fifth of the cost of running
// /bin/true.
type slot struct {
	key            string
	dir            string
	stdout, stderr *logFile
	busy           bool
}

// slotScratchPrefix is launcher's scratch prefix, so that a sweep that was
// killed leaves its slots' directories to the next sweep to remove.
const slotScratchPrefix = "metalab-run."

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
	sl, err := newSlot(rt.StoreDir(), filepath.Join("logs", fmt.Sprintf("%s-s%d", writer, rt.Slot)))
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

func newSlot(storeDir, logBase string) (*slot, error) {
	dir, err := os.MkdirTemp("", tempname.Pattern(slotScratchPrefix, "slot"))
	if err != nil {
		return nil, err
	}
	sl := &slot{dir: dir}
	if sl.stdout, err = openLog(storeDir, logBase+".out"); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if sl.stderr, err = openLog(storeDir, logBase+".err"); err != nil {
		sl.stdout.close()
		os.RemoveAll(dir)
		return nil, err
	}
	return sl, nil
}

// release empties the slot's scratch directory for its next run (run has
// emptied the capture file and the artifact directory), or drops the slot
// when that fails.
func (o *Op) release(sl *slot) {
	ok := true
	entries, err := os.ReadDir(sl.dir)
	if err != nil {
		ok = false
	}
	for _, e := range entries {
		switch {
		case e.Name() == "capture.jsonl" && e.Type().IsRegular(), e.Name() == "artifacts" && e.IsDir():
		default:
			if os.RemoveAll(filepath.Join(sl.dir, e.Name())) != nil {
				ok = false
			}
		}
	}
	o.mu.Lock()
	sl.busy = false
	kept := ok && o.slots[sl.key] == sl
	if !kept && o.slots[sl.key] == sl {
		delete(o.slots, sl.key)
	}
	o.mu.Unlock()
	if !kept {
		sl.close()
	}
}

func (sl *slot) close() {
	sl.stdout.close()
	sl.stderr.close()
	os.RemoveAll(sl.dir)
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
	return nil
}
