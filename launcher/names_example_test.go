package launcher_test

import (
	"context"
	"fmt"
	"os"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/launcher"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/seeds"
)

// Names are checked as the command line checks them: a typo is an error of
// Results.Err rather than an empty result, and numbers compare by value.
func ExampleResults_Err() {
	dir, _ := os.MkdirTemp("", "example-")
	defer os.RemoveAll(dir)
	exp := launcher.Experiment{
		Name: "names", Version: "1", Seeds: seeds.New(1, 1),
		Params: params.Grid{"n": {10, 100}},
		Operation: launcher.Op(func(p params.Point, c capture.Capture) {
			c.Metric("final_loss", 1/float64(p.Int("n")))
		}),
	}
	handle, err := launcher.Run(context.Background(), exp, launcher.WithStore(dir),
		launcher.WithProgress("quiet", nil), launcher.WithLogger(nopLogger))
	if err != nil {
		panic(err)
	}
	results, _ := handle.Result()

	fmt.Println(results.Where("n", 100.0).Mean("final_loss"), results.Err())
	fmt.Println(results.Mean("final_los"))
	fmt.Println(results.Err())
	// Output:
	// 0.01 <nil>
	// NaN
	// no metric "final_los" in the results
}
