package launcher

import (
	"context"
	"testing"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/seeds"
)

// benchExperiment is a sweep of n trivial runs: the operation only records
// one metric, so what a run costs is metalab's own overhead.
func benchExperiment(n int) Experiment {
	xs := make([]any, n)
	for i := range xs {
		xs[i] = i
	}
	return Experiment{
		Name: "bench", Version: "1",
		Operation: Op(func(p params.Point, c capture.Capture) {
			c.Metric("x", float64(p.Int("x")))
		}),
		Params: params.Grid{"x": xs, "lr": {0.001}},
		Seeds:  seeds.New(1, 1),
	}
}

func BenchmarkRunID(b *testing.B) {
	pt := params.Point{"n_samples": 10000, "lr": 0.001, "model": "resnet18"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		RunID("pi_mc", "0.1", "0123456789abcdef0123456789abcdef", pt, 42, i&7)
	}
}

// BenchmarkPlanExpand computes every run of a 100,000-run plan: params, ID
// and seeds, as a sweep's dedup pass does.
func BenchmarkPlanExpand(b *testing.B) {
	exp := benchExperiment(100_000)
	p, err := NewPlan(&exp)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		for i := range p.Len() {
			p.At(i)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*p.Len()), "ns/run")
}

// BenchmarkSweep runs an in-process sweep of 10,000 trivial runs into a
// fresh store per iteration, from plan to loaded results.
func BenchmarkSweep(b *testing.B) {
	const n = 10_000
	exp := benchExperiment(n)
	b.ReportAllocs()
	for b.Loop() {
		h, err := Run(context.Background(), exp, append(quiet(), WithStore(b.TempDir()))...)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := h.Result(); err != nil {
			b.Fatal(err)
		}
		if got := h.Status().Completed; got != n {
			b.Fatalf("completed %d runs, want %d", got, n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/run")
}
