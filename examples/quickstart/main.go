// Command quickstart estimates π by Monte Carlo: the Go translation of the
// Python metalab quickstart. 3 param points x 3 seed replicates = 9 runs.
//
//	go run ./examples/quickstart                    # temporary store, path printed
//	go run ./examples/quickstart --store runs/pi    # a store you keep; run it twice
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/launcher"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/seeds"
)

// estimatePi declares what it needs by its arguments: params, seeds, capture.
var estimatePi = launcher.Op(func(p params.Point, s seeds.Bundle, c capture.Capture) {
	n := p.Int("n_samples")
	rng := s.Rand("") // all randomness comes from the seed bundle
	inside := 0
	for range n {
		x, y := rng.Float64(), rng.Float64()
		if x*x+y*y <= 1 {
			inside++
		}
	}
	c.Metric("pi_estimate", 4*float64(inside)/float64(n))
})

var exp = launcher.Experiment{
	Name:      "pi_mc",
	Version:   "0.1",
	Context:   map[string]any{},
	Operation: estimatePi,
	Params:    params.Grid{"n_samples": {1000, 10000, 100000}},
	Seeds:     seeds.New(42, 3),
}

func main() {
	storeDir := flag.String("store", "", "store directory (default: a new temporary directory)")
	flag.Parse()

	// Run returns a handle at once; Result blocks until the sweep ends.
	handle, err := launcher.Run(context.Background(), exp, launcher.WithStore(*storeDir))
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(2)
	}
	results, err := handle.Result()
	if err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
	fmt.Print(results.Table())

	s := handle.Status()
	if s.Skipped == s.Total {
		fmt.Printf("nothing to run: all %d runs are already completed in %s\n", s.Total, handle.StoreDir())
	} else {
		fmt.Printf("executed %d runs (%d skipped); results in %s\n", s.Done(), s.Skipped, handle.StoreDir())
	}

	for run := range results.All() {
		fmt.Printf("Run %s: π ≈ %.4f  params=%v  status=%s\n",
			run.RunID, run.Metrics["pi_estimate"], run.Params, run.Status)
	}
}
