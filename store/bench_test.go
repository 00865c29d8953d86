package store

import (
	"database/sql"
	"testing"
)

// BenchmarkEncodeRecord measures encoding one realistic record into a line,
// as Append does (twice per run: start and end).
func BenchmarkEncodeRecord(b *testing.B) {
	r := testRecord(1, StatusCompleted, 1)
	e := encoders.Get().(*lineEncoder)
	b.ReportAllocs()
	for b.Loop() {
		e.buf.Reset()
		if err := e.enc.Encode(r); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(e.buf.Len()))
}

// BenchmarkIndexUpdate measures a group commit's node index update: 2,000
// runs, a start and an end row each, in one transaction.
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
			id := runID(i*runs + k)
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
