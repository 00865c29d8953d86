package store

import (
	"encoding/binary"
	"encoding/json"
	"io"
	"maps"
	"os"
	"path/filepath"

	"github.com/metalab-hpc/metalab/internal/safefs"
	"github.com/metalab-hpc/metalab/internal/tempname"
)

// collectStateFile is where a Collect leaves what lets the next one skip
// work when little has changed: `metalab status` collects each time, and on
// a store of a million runs a full pass over unchanged indexes (integrity
// checks, merges) took seconds. It is a cache: a missing or unreadable one
// costs only time.
//
// It is not trusted with anything that Collect reports. The counts come
// from the store index itself (see storeCounts); the state only lets a
// Collect skip work that cannot change the result: merging a node index
// that it says is unchanged (skipping a merge loses nothing, as Collect
// reads every segment past what the store index covers), and checking the
// integrity of a store index whose stamp it matches (should that index
// turn out broken, Collect forgets the state and runs again with the
// check). Its segment stamps can only make Collect verify a segment.
// So a forged or stale state costs time at most.
const collectStateFile = "index/collect-state.json"

// collectState describes the indexes and segments as the last Collect left
// them.
type collectState struct {
	// Store is the store index's stamp when that Collect ended. A store
	// index with the same stamp has the same content: it passed that
	// Collect's integrity check.
	Store fileStamp `json:"store"`
	// Nodes are the stamps of the node indexes merged, taken before their
	// merge: a node index with the same stamp has nothing new to merge.
	Nodes map[string]fileStamp `json:"nodes"`
	// Segments are the size and modification time of each segment. An
	// append-only segment grows, or stays as it was: one of the same size
	// with another modification time was rewritten in place, and Collect
	// verifies it.
	Segments map[string]segmentStamp `json:"segments"`
}

// segmentStamp is a segment's size and modification time.
type segmentStamp struct {
	Size    int64 `json:"size"`
	ModTime int64 `json:"mtime_ns"`
}

func (c collectState) equal(d collectState) bool {
	return c.Store == d.Store && maps.Equal(c.Nodes, d.Nodes) && maps.Equal(c.Segments, d.Segments)
}

// fileStamp identifies the content of a SQLite file in rollback-journal
// mode without reading it: SQLite increments the file change counter in
// the header (offset 24) with every transaction that modifies the file, so
// the counter, with size and modification time, tells whether the file
// changed. Stamps are only compared for equality; a stamp that differs
// only costs a full merge or check.
type fileStamp struct {
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime_ns"`
	Counter uint32 `json:"counter"`
}

// stampOf reads the stamp of the SQLite file at path.
func stampOf(path string) (fileStamp, bool) {
	f, err := os.Open(path)
	if err != nil {
		return fileStamp{}, false
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fileStamp{}, false
	}
	var head [28]byte
	if _, err := io.ReadFull(f, head[:]); err != nil {
		return fileStamp{}, false
	}
	return fileStamp{Size: info.Size(), ModTime: info.ModTime().UnixNano(), Counter: binary.BigEndian.Uint32(head[24:])}, true
}

// readCollectState returns the state the last Collect left, or the zero
// state.
func (s *Store) readCollectState() collectState {
	var c collectState
	b, err := os.ReadFile(s.path(collectStateFile))
	if err != nil || json.Unmarshal(b, &c) != nil {
		return collectState{}
	}
	return c
}

// writeCollectState saves c for the next Collect. A failure is ignored: the
// next Collect does the full work.
func (s *Store) writeCollectState(c collectState) {
	b, err := json.Marshal(c)
	if err != nil {
		return
	}
	path := s.path(collectStateFile)
	dir := filepath.Dir(path)
	// The state is rewritten by nearly every Collect, also by the one a
	// sweep starts with, where a killed sweep most often dies: its
	// temporary files carry host and PID (internal/tempname), so that the
	// next write removes those of processes that died before the rename.
	tempname.RemoveStale(dir, stateTempPrefix)
	f, err := os.CreateTemp(dir, tempname.Pattern(stateTempPrefix, "tmp"))
	if err != nil {
		return
	}
	defer os.Remove(f.Name())
	_, err = f.Write(append(b, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), safefs.Mode(0o664))
	}
	if err == nil && os.Rename(f.Name(), path) == nil {
		syncDir(dir)
	}
}

// stateTempPrefix begins the names of the temporary files of
// writeCollectState.
const stateTempPrefix = ".collect-state."

// forgetCollectState removes the saved state, when the store index is
// rebuilt.
func (s *Store) forgetCollectState() { os.Remove(s.path(collectStateFile)) }
