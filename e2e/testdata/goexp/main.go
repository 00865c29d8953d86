// Command goexp is a Go experiment built with launcher.Main, submitted to
// SLURM by the end-to-end tests: the same binary runs on the login node
// (submit) and in the array tasks (worker).
package main

import (
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
	})
}
