package store

import (
	"database/sql"
	"fmt"
	"testing"
)

// BenchmarkEncodeRecord measures encoding one realistic record into a line,
// as Append does (twice per run: start and end).
func BenchmarkEncodeRecord(b *testing.B) {
	r := testRecord(1, StatusCompleted, 1)
	var line []byte
	b.ReportAllocs()
	for b.Loop() {
		var ok bool
		if line, ok = appendRecord(line[:0], r); !ok {
			b.Fatal("appendRecord declined")
		}
	}
	b.SetBytes(int64(len(line)))
}

// BenchmarkIndexUpdate measures a group commit's node index update: 2,000
// runs, a start and an end row each, in one transaction. Run IDs are
// scattered as real ones (hashes) are: sequential IDs made B-tree inserts
// look several times cheaper than in a sweep.
func BenchmarkIndexUpdate(b *testing.B) {
	s := TestStore(b)
	db, err := s.index(s.path(nodesDir) + "/bench" + indexExt)
	if err != nil {
		b.Fatal(err)
	}
	const runs = 2000
	rows := make([]indexRow, 0, 2*runs)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		rows = rows[:0]
		for k := range runs {
			id := scatteredRunID(i*runs + k)
			rows = append(rows,
				indexRow{runID: id, status: StatusRunning, at: int64(k), off: int64(2 * k), n: 1},
				indexRow{runID: id, status: StatusCompleted, at: int64(k + 1), off: int64(2*k + 1), n: 1})
		}
		err := inTx(db, func(tx *sql.Tx) error { return upsertRows(tx, "seg", rows, int64(i)) })
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*runs), "ns/run")
}

// scatteredRunID is a run ID as random as a hash, distinct for each i.
func scatteredRunID(i int) string {
	x := uint64(i) * 0x9e3779b97f4a7c15 // odd: a bijection
	x ^= x >> 31
	return fmt.Sprintf("%016x", x)
}
