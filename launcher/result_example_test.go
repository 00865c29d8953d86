package launcher_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/launcher"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/seeds"
	"github.com/metalab-hpc/metalab/store"
)

// failingExp is a sweep of x = 1..4 whose runs of even x fail.
func failingExp() launcher.Experiment {
	return launcher.Experiment{
		Name: "half", Version: "1",
		Operation: launcher.Op(func(p params.Point, c capture.Capture) error {
			if p.Int("x")%2 == 0 {
				return fmt.Errorf("x=%d is even", p.Int("x"))
			}
			c.Metric("y", float64(p.Int("x")))
			return nil
		}),
		Params: params.Grid{"x": {1, 2, 3, 4}},
		Seeds:  seeds.New(1, 1),
	}
}

// When runs fail, Result returns every run, the failed ones with their
// errors, and a nil error: a run's failure is a result of the sweep, not
// an error of it. The error is for what stopped the sweep itself (it was
// cancelled, or the store failed).
func ExampleHandle_Result_failedRuns() {
	dir, _ := os.MkdirTemp("", "example-")
	defer os.RemoveAll(dir)

	handle, err := launcher.Run(context.Background(), failingExp(), launcher.WithStore(dir),
		launcher.WithProgress("quiet", nil), launcher.WithLogger(nopLogger))
	if err != nil {
		panic(err)
	}
	results, err := handle.Result()
	fmt.Println("error:", err)
	fmt.Println(results.Len(), "runs:", results.Completed().Len(), "completed,", handle.Status().Failed, "failed")
	for run := range results.WithStatus(store.StatusFailed).All() {
		fmt.Println(run.Params["x"], run.Status, run.Error)
	}
	// Output:
	// error: <nil>
	// 4 runs: 2 completed, 2 failed
	// 2 failed x=2 is even
	// 4 failed x=4 is even
}

// TestResultOfFailedRuns pins what ExampleHandle_Result_failedRuns shows,
// and what Result returns of a cancelled sweep: the results so far and an
// error wrapping context.Canceled.
func TestResultOfFailedRuns(t *testing.T) {
	res, err := runToEnd(t, context.Background(), failingExp())
	if err != nil {
		t.Fatalf("Result() error %v, want nil: failed runs are results", err)
	}
	if got, want := res.Counts()[store.StatusFailed], 2; got != want {
		t.Errorf("%d failed runs, want %d", got, want)
	}
	if err := res.Err(); err != nil {
		t.Errorf("Results.Err()=%v, want nil", err)
	}

	// Cancelled while its first run is in flight, on one worker.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	exp := failingExp()
	exp.Operation = launcher.Op(func(ctx context.Context) error {
		cancel()
		<-ctx.Done()
		return ctx.Err()
	})
	res, err = runToEnd(t, ctx, exp, launcher.WithWorkers(1))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Result() of a cancelled sweep: error %v, want context.Canceled", err)
	}
	if res == nil {
		t.Fatal("Result() of a cancelled sweep: no results")
	}
	if got, want := res.Counts()[store.StatusCancelled], 1; got != want {
		t.Errorf("%d cancelled runs, want %d: %v", got, want, res)
	}
}

func runToEnd(t *testing.T, ctx context.Context, exp launcher.Experiment, opts ...launcher.Option) (*launcher.Results, error) {
	t.Helper()
	opts = append([]launcher.Option{launcher.WithStore(t.TempDir()), launcher.WithProgress("quiet", nil), launcher.WithLogger(nopLogger)}, opts...)
	h, err := launcher.Run(ctx, exp, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return h.Result()
}
