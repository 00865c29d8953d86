// Command goexp holds Go experiments built with launcher.Main, submitted to
// SLURM by the end-to-end tests: the same binary runs on the login node
// (submit) and in the array tasks (worker).
package main

import (
	"context"
	"os"
	"time"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/launcher"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/seeds"
	"github.com/metalab-hpc/metalab/slurm"
)

func main() {
	launcher.Main(launcher.Experiment{
		Name:    "go_pi",
		Version: "1",
		Operation: launcher.Op(func(p params.Point, s seeds.Bundle, c capture.Capture) {
			n := p.Int("n")
			rng := s.Rand("")
			inside := 0
			for range n {
				x, y := rng.Float64(), rng.Float64()
				if x*x+y*y <= 1 {
					inside++
				}
			}
			c.Metric("pi", 4*float64(inside)/float64(n))
		}),
		Params: params.Grid{"n": {100, 1000, 10000, 20000, 50000}},
		Seeds:  seeds.New(3, 4),
		Slurm:  slurm.Settings{RunsPerTask: 2, MaxConcurrent: 6, Time: "5"},
	}, launcher.Experiment{
		// An operation that ignores its cancellation while the file
		// $STUBBORN exists: it runs on for a minute after SIGTERM, and
		// SLURM kills its worker with SIGKILL, KillWait later. Each
		// execution appends the run ID to $EXEC_LOG.
		Name:    "go_stubborn",
		Version: "1",
		Operation: launcher.Op(func(ctx context.Context, rt *launcher.Runtime) error {
			f, err := os.OpenFile(os.Getenv("EXEC_LOG"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
			if err != nil {
				return err
			}
			f.WriteString(rt.RunID + "\n")
			f.Close()
			if _, err := os.Stat(os.Getenv("STUBBORN")); err == nil {
				time.Sleep(time.Minute)
			}
			rt.Capture.Metric("x", float64(rt.Params.Int("x")))
			return nil
		}),
		Params: params.Grid{"x": {0, 1, 2, 3}},
		Seeds:  seeds.New(5, 1),
		Slurm:  slurm.Settings{RunsPerTask: 2},
	}, launcher.Experiment{
		// 100,000 trivial in-process runs, each recording one metric: the
		// scale test of the cluster (TestHundredThousandRunsOnCluster).
		Name:    "go_scale",
		Version: "1",
		Operation: launcher.Op(func(p params.Point, c capture.Capture) {
			c.Metric("twice", float64(2*p.Int("i")))
		}),
		Params: params.Grid{"i": upTo(100_000)},
		Seeds:  seeds.New(11, 1),
		Slurm:  slurm.Settings{RunsPerTask: 5000, MaxConcurrent: 8, Time: "10"},
	})
}

// upTo is the grid values 0, 1, ..., n-1.
func upTo(n int) []any {
	v := make([]any, n)
	for i := range v {
		v[i] = i
	}
	return v
}
