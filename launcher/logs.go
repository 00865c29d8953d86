package launcher

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/metalab-hpc/metalab/store"
)

// minPrefix is the shortest run ID prefix that names a run.
const minPrefix = 4

// findRun returns the record of the run whose ID is id or, failing that,
// the only one that starts with id; name is the program's, for hints. Of a
// damaged store it also returns the [*store.DamageError], with the record
// if it could be read, or alone: the run may be one of those lost.
func findRun(st *store.Store, id, name string) (*Record, error) {
	var exact *Record
	var matches []*Record
	err := st.Records(func(r *store.Record) error {
		switch {
		case r.RunID == id:
			exact = r
		case len(id) >= minPrefix && strings.HasPrefix(r.RunID, id):
			matches = append(matches, r)
		}
		return nil
	})
	var damage *store.DamageError
	switch {
	case err != nil && !errors.As(err, &damage):
		return nil, err
	case exact != nil:
		return exact, err
	case len(matches) == 1:
		return matches[0], err
	case len(matches) > 1:
		ids := make([]string, len(matches))
		for i, m := range matches {
			ids[i] = m.RunID
		}
		sort.Strings(ids)
		if len(ids) > 5 {
			ids = append(ids[:5], "...")
		}
		return nil, usageErr("give more characters of the run ID",
			"run ID prefix %q matches %d runs: %s", id, len(matches), strings.Join(ids, ", "))
	}
	if damage != nil {
		return nil, damage
	}
	hint := fmt.Sprintf("list the run IDs with '%s results --store %s'", name, st.Dir())
	if len(id) < minPrefix {
		hint = fmt.Sprintf("a run ID prefix needs at least %d characters; %s", minPrefix, hint)
	}
	return nil, usageErr(hint, "no run %q in %s", id, st.Dir())
}

// copyLog writes one run's byte range of a shared log file. The file is
// opened inside the store only: a record's path comes from a segment that
// anyone who can write the store could have edited.
func copyLog(w io.Writer, st *store.Store, ref *store.LogRef) error {
	if ref.Length == 0 {
		return nil // no output: its log may have been removed as empty
	}
	f, err := st.OpenFile(ref.File)
	if err != nil {
		return fmt.Errorf("log of the run: %w", err)
	}
	defer f.Close()
	if ref.Offset < 0 || ref.Length < 0 {
		return fmt.Errorf("log of the run: the record gives a negative range (%d, %d) of %s", ref.Offset, ref.Length, f.Name())
	}
	n, err := io.Copy(w, io.NewSectionReader(f, ref.Offset, ref.Length))
	if err != nil {
		return err
	}
	if n < ref.Length {
		return fmt.Errorf("log %s is truncated: the run's bytes %d-%d are not all there", f.Name(), ref.Offset, ref.Offset+ref.Length)
	}
	return nil
}
