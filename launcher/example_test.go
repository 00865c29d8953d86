package launcher_test

import (
	"context"
	"fmt"
	"os"

	"github.com/rs/zerolog"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/launcher"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/seeds"
)

// The Python quickstart in Go: 3 param points x 3 seed replicates = 9 runs.
func ExampleRun() {
	dir, _ := os.MkdirTemp("", "example-")
	defer os.RemoveAll(dir)

	exp := launcher.Experiment{
		Name:    "pi_mc",
		Version: "0.1",
		Operation: launcher.Op(func(p params.Point, s seeds.Bundle, c capture.Capture) {
			n := p.Int("n_samples")
			rng := s.Rand("")
			inside := 0
			for range n {
				x, y := rng.Float64(), rng.Float64()
				if x*x+y*y <= 1 {
					inside++
				}
			}
			c.Metric("pi_estimate", 4*float64(inside)/float64(n))
		}),
		Params: params.Grid{"n_samples": {1000, 10000, 100000}},
		Seeds:  seeds.New(42, 3),
	}
	quiet := launcher.WithProgress("quiet", nil)
	handle, err := launcher.Run(context.Background(), exp, launcher.WithStore(dir), quiet, launcher.WithLogger(nopLogger))
	if err != nil {
		panic(err)
	}
	results, err := handle.Result()
	if err != nil {
		panic(err)
	}
	fmt.Println(results.Len(), "runs,", results.Completed().Len(), "completed")
	fmt.Println("first run:", results.Runs()[0].RunID, results.Runs()[0].Params)

	// Run again into the same store: nothing executes.
	handle, _ = launcher.Run(context.Background(), exp, launcher.WithStore(dir), quiet, launcher.WithLogger(nopLogger))
	handle.Result()
	fmt.Println(handle.Status())
	// Output:
	// 9 runs, 9 completed
	// first run: 854ff91945c9cd5d map[n_samples:1000]
	// 9 runs: 0 completed, 0 failed, 0 cancelled, 0 running, 0 pending, 9 skipped (already completed)
}

var nopLogger = zerolog.Nop()
