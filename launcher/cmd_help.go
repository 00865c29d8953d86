package launcher

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// cmdHelp is `help [COMMAND]`. urfave/cli's own exits 3 with "No help
// topic" on a command it does not know, and had to be hidden.
func (a *App) cmdHelp() *cli.Command {
	return &cli.Command{
		Name:      "help",
		Usage:     "show the commands, or the help of one",
		ArgsUsage: "[COMMAND]",
		Description: "Prints the commands and global options, or the help of one command, as --help\n" +
			"does. A command that does not exist gets the nearest one's name.\n\n" +
			"EXAMPLES:\n" +
			"   metalab help\n" +
			"   metalab help results",
		Action: func(c *cli.Context) error {
			switch c.NArg() {
			case 0:
				return cli.ShowAppHelp(c)
			case 1:
				name := c.Args().First()
				if c.App.Command(name) == nil {
					return a.unknownCommand(c.App, name)
				}
				return cli.ShowCommandHelp(c, name)
			}
			return usageErr(fmt.Sprintf("usage: %s help [COMMAND]", a.Name), "help takes one command, got %d arguments", c.NArg())
		},
	}
}
