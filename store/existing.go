package store

import (
	"errors"
	"fmt"
	"os"
)

// ErrNotStore: a directory given as a store is not one.
var ErrNotStore = errors.New("not a metalab store")

// OpenExisting opens the store at dir, which must already exist and hold a
// manifest (metalab.json). Commands that only read a store use it, so that a
// mistyped path is an error instead of a new empty store.
func OpenExisting(dir string) (*Store, error) {
	if _, err := os.Stat(ManifestPath(dir)); err != nil {
		if _, derr := os.Stat(dir); derr != nil {
			return nil, fmt.Errorf("%w: %s does not exist", ErrNotStore, dir)
		}
		return nil, fmt.Errorf("%w: %s has no metalab.json (run a sweep into it first)", ErrNotStore, dir)
	}
	return Open(dir)
}
