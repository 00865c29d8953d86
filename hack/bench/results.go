package main

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"time"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/launcher"
	"github.com/metalab-hpc/metalab/store"
)

// Scenario 7: reading the results of a store of n runs through the Go API,
// a grid of lr (10) × batch (5) × optimizer (2) × replicates, two metrics,
// one run in 100 failed: LoadResults, a pass over every run (a param and
// a metric of each), and Summary by lr. Beside it, what holding a record
// object per run costs (store.Records into a slice, which the Results of
// before issue 14 did, before sorting and summarising), and the same
// reading through All, which builds each run's record.
func resultsScenario(dir string, n, workers int, add func(row)) {
	st := filepath.Join(dir, "results-store")
	must(runChild("seed-results", st, strconv.Itoa(n)))
	base := measure(dir, "results-records", n, workers, st)
	baseline := fmt.Sprintf("a record per run (store.Records): %.2f s, %s peak", base.seconds, mib(base.maxRSS))
	for _, c := range []struct{ what, how string }{
		{"results", "Rows"},
		{"results-all", "All"},
	} {
		m := measure(dir, c.what, n, workers, st)
		add(row{
			scenario: fmt.Sprintf("9. LoadResults + %s + Summary, %s runs", c.how, count(n)),
			figure:   fmt.Sprintf("%.2f s, %s peak", m.seconds, mib(m.maxRSS)),
			baseline: baseline,
			ratio:    base.seconds / m.seconds,
			target:   "≤2 s, ≤300 MB", met: m.seconds <= 2 && m.maxRSS <= 300e6,
		})
	}
}

// seedResults writes the n runs of scenario 9 as two writers would.
func seedResults(dir string, n int) error {
	exp := reportExperiment(n)
	st, plan, err := seedStore(dir, exp)
	if err != nil {
		return err
	}
	defer st.Close()
	t0 := time.Unix(1_800_000_000, 0)
	const writers = 2
	for k := range writers {
		w, err := st.NewWriter(store.WriterOptions{Name: fmt.Sprintf("w%d", k)})
		if err != nil {
			return err
		}
		for i := k; i < plan.Len(); i += writers {
			spec := plan.At(i)
			rec := &store.Record{
				RunID: spec.ID, Status: store.StatusCompleted, Experiment: exp.Name, Version: exp.Version,
				Params: spec.Params, SeedBase: spec.Seeds.Base, Replicate: spec.Replicate, Seed: spec.Seeds.Seed(),
				Started: t0.Add(time.Duration(i) * time.Millisecond), Ended: t0.Add(time.Duration(i)*time.Millisecond + 500*time.Microsecond),
				Host: "node", PID: 1000 + k,
			}
			if i%100 == 7 {
				rec.Status, rec.Error = store.StatusFailed, "diverged: loss is NaN"
			} else {
				loss := math.Abs(math.Log10(spec.Params.Float("lr"))+2.5)/4 + float64(i%97)/1000
				rec.Metrics = capture.Metrics{"loss": loss, "accuracy": 1 - loss/2}
			}
			if err := w.Append(rec); err != nil {
				return err
			}
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
	_, err = st.Collect(context.Background())
	return err
}

// readResults is the timed part of scenario 9; all builds each run's
// record (Results.All) instead of reading the columns (Results.Rows).
func readResults(dir string, all bool) error {
	res, err := launcher.LoadResults(dir)
	if err != nil {
		return err
	}
	var sum float64
	var n int
	if all {
		for run := range res.All() {
			if v, ok := run.Metrics["loss"]; ok && run.Params["lr"] != nil {
				sum += v
				n++
			}
		}
	} else {
		for run := range res.Rows() {
			_, lr := run.Param("lr")
			if v, ok := run.Metric("loss"); ok && lr {
				sum += v
				n++
			}
		}
	}
	stats := res.Summary("lr")
	if n == 0 || len(stats) == 0 || math.IsNaN(sum) {
		return fmt.Errorf("results: %d runs with a loss, %d groups", n, len(stats))
	}
	return res.Err()
}

// readRecords is the baseline of scenario 9: a record object per run.
func readRecords(dir string) error {
	st, err := store.OpenExisting(dir)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.Collect(context.Background()); err != nil {
		return err
	}
	var runs []*store.Record
	if err := st.Records(func(r *store.Record) error { runs = append(runs, r); return nil }); err != nil {
		return err
	}
	if len(runs) == 0 {
		return fmt.Errorf("no records")
	}
	return nil
}
