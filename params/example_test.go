package params_test

import (
	"fmt"

	"github.com/metalab-hpc/metalab/params"
)

func ExampleGrid() {
	g := params.Grid{"method": {"mc", "qmc"}, "n": {100, 1000, 10000}}
	if err := g.Validate(); err != nil {
		panic(err)
	}
	for i := range g.Len() {
		p := g.At(i)
		fmt.Println(p.String("method"), p.Int("n"))
	}
	// Output:
	// mc 100
	// mc 1000
	// mc 10000
	// qmc 100
	// qmc 1000
	// qmc 10000
}

func ExampleRandom() {
	r := params.Random{Trials: 3, Seed: 42, Space: map[string]params.Dist{
		"lr":    params.LogUniform(1e-4, 0.1),
		"batch": params.RandInt(16, 128), // 128 included
		"opt":   params.Choice("adam", "sgd"),
	}}
	if err := r.Validate(); err != nil {
		panic(err)
	}
	for i := range r.Len() {
		b, _ := params.Canonical(r.At(i))
		fmt.Println(string(b))
	}
	// Output:
	// {"batch":112,"lr":0.07623341532166181,"opt":"adam"}
	// {"batch":36,"lr":0.005245996638098532,"opt":"sgd"}
	// {"batch":28,"lr":0.08037128603374463,"opt":"adam"}
}

func ExampleCases() {
	c := params.Cases{
		{"model": "resnet", "depth": 50},
		{"model": "vit", "patch": 16},
	}
	if err := c.Validate(); err != nil {
		panic(err)
	}
	fmt.Println(c.At(1).Int("patch"))
	// Output: 16
}

func ExampleCanonical() {
	b, err := params.Canonical(params.Point{"n": 1, "lr": 1.0, "tag": "<b>", "small": 1e-7})
	if err != nil {
		panic(err)
	}
	fmt.Println(string(b))
	// Output: {"lr":1.0,"n":1,"small":1e-07,"tag":"<b>"}
}

func ExamplePoint_Int() {
	p := params.Point{"n_samples": "abc"}
	defer func() { fmt.Println(recover()) }()
	p.Int("n_samples")
	// Output: params: "n_samples" is a string ("abc"), not an int
}
