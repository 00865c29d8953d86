package launcher

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"
)

// runVersion writes the build report of the program called name to w:
// what `version` and `--version` print.
func runVersion(w io.Writer, name string) error {
	_, err := readBuildInfo(name).WriteTo(w)
	return err
}

func (a *App) cmdVersion() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version and build of this program",
		Description: "Prints the program's module version, the commit it was built from, the Go and\n" +
			"SQLite versions, and whether the binary is statically linked (a static binary\n" +
			"runs on compute nodes whose C library is older than the login node's). --version\n" +
			"prints the same.\n\n" +
			"EXAMPLES:\n" +
			"   metalab version\n" +
			"   metalab --version",
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErr(fmt.Sprintf("usage: %s version", a.Name), "version takes no arguments, got %d", c.NArg())
			}
			return runVersion(a.Stdout, a.Name)
		},
	}
}
