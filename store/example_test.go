package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/store"
)

func Example() {
	dir, err := os.MkdirTemp("", "store-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	s, err := store.Open(dir)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	err = s.Init(store.Manifest{Experiment: "sweep", Version: "1", Spec: json.RawMessage(`{"lr":[0.1,0.01]}`)})
	if err != nil {
		log.Fatal(err)
	}

	// A worker: one writer per process.
	w, err := s.NewWriter(store.WriterOptions{})
	if err != nil {
		log.Fatal(err)
	}
	start := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for i, lr := range []float64{0.1, 0.01} {
		r := &store.Record{
			RunID:   fmt.Sprintf("%016x", i),
			Status:  store.StatusRunning,
			Params:  params.Point{"lr": lr},
			Started: start,
		}
		w.Append(r) // the start of the run
		r.Status, r.Ended = store.StatusCompleted, start.Add(time.Minute)
		if i == 1 {
			r.Status, r.Error = store.StatusFailed, "diverged"
		}
		w.Append(r) // its end
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	// The launcher: bring the store index up to date, then query it.
	rep, err := s.Collect(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d runs: %d completed, %d failed\n", rep.Runs, rep.Completed, rep.Failed)
	err = s.Records(func(r *store.Record) error {
		fmt.Printf("%s %s lr=%v error=%q\n", r.RunID, r.Status, r.Params.Float("lr"), r.Error)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// 2 runs: 1 completed, 1 failed
	// 0000000000000000 completed lr=0.1 error=""
	// 0000000000000001 failed lr=0.01 error="diverged"
}
