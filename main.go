// Command metalab runs parameter sweeps locally or as SLURM job arrays.
//
//	metalab run examples/pi/pi.toml --store runs/pi
//	metalab results --store runs/pi --format csv
//
// See README.md, docs/experiment-file.md and `metalab --help`.
package main

import (
	"context"
	"os"

	"github.com/metalab-hpc/metalab/expfile"
	"github.com/metalab-hpc/metalab/launcher"
)

func main() {
	os.Exit(run())
}

// run is the whole command; the CLI tests run it as the metalab binary.
func run() int {
	app := &launcher.App{Name: "metalab", LoadFile: expfile.Load}
	return app.Run(context.Background(), os.Args)
}
