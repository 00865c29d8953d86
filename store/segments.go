package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"

	"github.com/metalab-hpc/metalab/internal/safefs"
)

// Segments lists the names of the store's segments (without extension),
// sorted: a reader that keeps its own offsets into them (an export to
// another database, which resumes where it stopped) reads each with
// [Store.OpenSegment] and [ReadSegment], without any index.
func (s *Store) Segments() ([]string, error) {
	entries, err := os.ReadDir(s.path(segmentsDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("store: %w", err)
	}
	var out []string
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), segmentExt)
		if ok && e.Type().IsRegular() && validName(name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out, nil
}

// OpenSegment opens segment name for reading. It refuses a symlink or
// anything but a regular file in its place, as [Store.OpenFile] does.
func (s *Store) OpenSegment(name string) (*os.File, error) {
	if !validName(name) {
		return nil, fmt.Errorf("store: invalid segment name %q", name)
	}
	f, _, err := safefs.OpenRegularIn(s.root, segmentsDir+"/"+name+segmentExt, os.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return f, nil
}
