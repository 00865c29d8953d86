package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/internal/browser"
	"github.com/metalab-hpc/metalab/launcher"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/seeds"
)

// reportScenario is scenario 6: `metalab report` of stores of n runs each,
// its time, the page's size, and how long Chromium takes to draw it.
func reportScenario(dir string, sizes []int, workers int, add func(row)) {
	for _, n := range sizes {
		st := filepath.Join(dir, fmt.Sprintf("report-store-%d", n))
		must(runChild("seed-report", st, strconv.Itoa(n)))
		html := filepath.Join(dir, fmt.Sprintf("report-%d.html", n))
		m := measure(dir, "report", n, workers, st, html)
		info, err := os.Stat(html)
		must(err)
		add(row{
			scenario: fmt.Sprintf("6. report of %s runs: generation, size", count(n)),
			figure:   fmt.Sprintf("%.2f s, %.1f MB, %s peak", m.seconds, float64(info.Size())/1e6, mib(m.maxRSS)),
			target:   "≤20 MB", met: info.Size() <= 20e6, ratio: -1,
		})
		render, err := renderTime(html)
		switch {
		case errors.Is(err, errNoBrowser):
			add(row{scenario: fmt.Sprintf("6. report of %s runs: render in Chromium", count(n)), figure: "skipped: no chromium", ratio: -1})
		case err != nil:
			fatal(err)
		default:
			add(row{
				scenario: fmt.Sprintf("6. report of %s runs: render in Chromium", count(n)),
				figure:   fmt.Sprintf("%.2f s (median of 3 loads, navigation to drawn)", render.Seconds()),
				target:   "≤2 s", met: render <= 2*time.Second, ratio: -1,
			})
		}
		os.RemoveAll(st)
	}
}

var errNoBrowser = errors.New("no chromium")

// renderTime is the median of 3 loads of the page in headless Chromium,
// from the start of navigation to the end of the report's drawing, as the
// page measures it (performance.now()).
func renderTime(html string) (time.Duration, error) {
	path := browser.Path()
	if path == "" {
		return 0, errNoBrowser
	}
	page, stop, err := browser.Start(path, 1280, 900)
	if err != nil {
		return 0, err
	}
	defer stop()
	var times []float64
	for range 3 {
		if _, err := page.Open("file://"+html, 2*time.Minute); err != nil {
			return 0, err
		}
		ms, err := browser.Eval[float64](page, "window.metalabReport.renderMs")
		if err != nil {
			return 0, err
		}
		times = append(times, ms)
	}
	if errs := page.Errors(); len(errs) > 0 {
		return 0, fmt.Errorf("the report logged errors: %v", errs)
	}
	slices.Sort(times)
	return time.Duration(times[1] * float64(time.Millisecond)), nil
}

// reportExperiment is a sweep shaped like a real one: lr (10 values over
// four decades) x batch (5) x optimizer (2) x n/100 replicates, a loss and
// an accuracy, a 20-step series in one run of 10, and one run in 100
// failing.
func reportExperiment(n int) launcher.Experiment {
	lrs := make([]any, 10)
	for i := range lrs {
		lrs[i] = math.Pow(10, -5+4*float64(i)/9)
	}
	return launcher.Experiment{
		Name: "bench_report", Version: "1",
		Operation: launcher.Op(func(p params.Point, s seeds.Bundle, c capture.Capture) error {
			rng := s.Rand("")
			if rng.IntN(100) == 0 {
				return fmt.Errorf("diverged: loss is NaN at step %d", rng.IntN(20))
			}
			lr, batch := p.Float("lr"), float64(p.Int("batch"))
			base := math.Abs(math.Log10(lr)+2.5)/4 + batch/1000
			if p.String("optimizer") == "adam" {
				base *= 0.8
			}
			if rng.IntN(10) == 0 { // one run in 10 records its curve
				for step := range 20 {
					c.Metric("train_loss", base+1/float64(step+1)+rng.NormFloat64()*0.02, capture.Step(step))
				}
			}
			c.Metric("loss", base+rng.NormFloat64()*0.05)
			c.Metric("accuracy", 1-base/2+rng.NormFloat64()*0.02)
			return nil
		}),
		Params: params.Grid{"lr": lrs, "batch": {16, 32, 64, 128, 256}, "optimizer": {"sgd", "adam"}},
		Seeds:  seeds.New(1, max(n/100, 1)),
	}
}
