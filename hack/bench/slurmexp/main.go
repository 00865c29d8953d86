// Command slurmexp holds the experiments of hack/bench.sh --slurm, built
// with launcher.Main: the same binary submits them from the login node and
// runs their array tasks. bench_inproc records one metric per run, in
// process; bench_true runs /bin/true once per run. Their sizes come from
// $METALAB_BENCH_RUNS and $METALAB_BENCH_TRUE_RUNS at submit time; the
// workers run the plan recorded by the submission, so the compute nodes
// need neither variable.
package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/command"
	"github.com/metalab-hpc/metalab/launcher"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/seeds"
	"github.com/metalab-hpc/metalab/slurm"
)

func main() {
	n := size("METALAB_BENCH_RUNS", 1_000_000)
	nTrue := size("METALAB_BENCH_TRUE_RUNS", 100_000)
	trueOp, err := command.New(command.Spec{Argv: []string{"/bin/true"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "slurmexp:", err)
		os.Exit(1)
	}
	launcher.Main(launcher.Experiment{
		Name:    "bench_inproc",
		Version: "1",
		Operation: launcher.Op(func(p params.Point, c capture.Capture) {
			c.Metric("twice", float64(2*p.Int("i")))
		}),
		Params: params.Grid{"i": upTo(n)},
		Seeds:  seeds.New(1, 1),
		// As a user would: 8 tasks at once (the CPUs of the 2 nodes of 4),
		// task size left to metalab (one task per slot for a new store).
		Slurm: slurm.Settings{MaxConcurrent: 8, Time: "30"},
	}, launcher.Experiment{
		Name:      "bench_true",
		Version:   "1",
		Operation: trueOp,
		Params:    params.Grid{"i": upTo(nTrue)},
		Seeds:     seeds.New(1, 1),
		Slurm:     slurm.Settings{MaxConcurrent: 8, Time: "30"},
	})
}

// size reads a run count from the environment, else def.
func size(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// upTo is the grid values 0, 1, ..., n-1.
func upTo(n int) []any {
	v := make([]any, n)
	for i := range v {
		v[i] = i
	}
	return v
}
