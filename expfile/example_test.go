package expfile_test

import (
	"fmt"

	"github.com/metalab-hpc/metalab/expfile"
	"github.com/metalab-hpc/metalab/launcher"
)

func ExampleLoad() {
	exp, err := expfile.Load("../examples/shell/sweep.toml")
	if err != nil {
		fmt.Println(err)
		return
	}
	plan, err := launcher.NewPlan(exp)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s: %d runs, timeout %v\n", exp.Name, plan.Len(), exp.Timeout)
	for i := range plan.Len() {
		fmt.Println(plan.At(i).Params)
	}
	// Output:
	// shell_demo: 4 runs, timeout 1m0s
	// map[greeting:hello n:1]
	// map[greeting:hello n:2]
	// map[greeting:it's "quoted" and $(not run) n:1]
	// map[greeting:it's "quoted" and $(not run) n:2]
}

func ExampleError() {
	_, err := expfile.Load("testdata/typo.toml")
	fmt.Println(err)
	if e, ok := err.(*expfile.Error); ok {
		fmt.Println("hint:", e.Hint())
	}
	// Output:
	// testdata/typo.toml:3: unknown key "comand"
	// hint: did you mean "command"?
}
