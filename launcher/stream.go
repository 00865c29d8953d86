package launcher

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"slices"

	"github.com/metalab-hpc/metalab/store"
)

// Streaming exports write a store's results without holding them: a
// million-run store held in memory took 1.9 GiB, and sorting it took
// seconds. They write the runs in the store's record order (by segment, then
// position: stable from one call to the next), not in the table order of
// [Results].

// streamCSV writes the CSV export of st's runs (those with one of statuses,
// or all, of the experiments only picks) in two passes: the first finds the columns, reading only the
// status, param names and metric names of each record
// ([store.ScanRecordKeys]); the second decodes the records and writes the
// rows. The columns and cells are those of [Results.WriteCSV]: both write
// through [csvExport].
//
// Of a damaged store it writes every record it can read, and then returns
// the [*store.DamageError] of the second pass.
func streamCSV(st *store.Store, statuses []store.Status, only experimentFilter, w io.Writer) error {
	sn, err := st.Snapshot()
	if err != nil {
		return err
	}
	pset, mset := map[string]bool{}, map[string]bool{}
	exps := map[string]bool{}
	err = sn.Lines(func(line []byte) error {
		k, err := store.ScanRecordKeys(line)
		if err != nil {
			// A damaged line; the second pass skips and reports it.
			return nil
		}
		if !hasStatus(statuses, k.Status) || !only.matchKeys(k) {
			return nil
		}
		exps[store.Ref(k.Experiment, k.Version)] = true
		for _, p := range k.Params {
			pset[p] = true
		}
		for _, m := range k.Metrics {
			mset[m] = true
		}
		return nil
	})
	if err != nil && !errors.As(err, new(*store.DamageError)) {
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	cw, err := newCSVExport(bw, columnsOf(pset, mset, len(exps) > 1))
	if err != nil {
		return err
	}
	damage := sn.Records(func(run *store.Record) error {
		if !hasStatus(statuses, run.Status) || !only.match(run) {
			return nil
		}
		return cw.write(run)
	})
	if damage != nil && !errors.As(damage, new(*store.DamageError)) {
		return damage
	}
	if err := cw.flush(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return damage
}

// streamJSONL writes each run's full record as one JSON object a line, as
// [Results.WriteJSONL] does. Of a damaged store it writes every record it
// can read, and then returns the [*store.DamageError].
func streamJSONL(st *store.Store, statuses []store.Status, only experimentFilter, w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	damage := st.Records(func(run *store.Record) error {
		if !hasStatus(statuses, run.Status) || !only.match(run) {
			return nil
		}
		return enc.Encode(run)
	})
	if damage != nil && !errors.As(damage, new(*store.DamageError)) {
		return damage
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return damage
}

// hasStatus reports whether s is one of statuses, or statuses is empty.
func hasStatus(statuses []store.Status, s store.Status) bool {
	return len(statuses) == 0 || slices.Contains(statuses, s)
}
