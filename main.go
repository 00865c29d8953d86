// Command metalab runs parameter sweeps locally or as SLURM job arrays.
//
//	metalab run examples/pi/pi.toml --store runs/pi
//	metalab results --store runs/pi --format csv
//
// See README.md and `metalab --help`.
package main

import (
	"context"
	"os"

	"github.com/metalab-hpc/metalab/launcher"
)

func main() {
	app := &launcher.App{Name: "metalab"}
	os.Exit(app.Run(context.Background(), os.Args))
}
