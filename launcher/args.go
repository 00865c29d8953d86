package launcher

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// interspersed lets flags follow positional arguments, as in
// `metalab run pi.toml --store runs/pi`. urfave/cli v2 stops parsing flags
// at a command's first positional argument, so the command's flags (with
// their values) are moved in front of its positional arguments first.
// Everything after "--" stays where it is.
func interspersed(app *cli.App, args []string) []string {
	i := 1
	global := valueFlags(app.Flags)
	for i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "--" {
		if name := strings.TrimLeft(args[i], "-"); global[name] {
			i++
		}
		i++
	}
	if i >= len(args) {
		return args
	}
	cmd := app.Command(args[i])
	if cmd == nil {
		return args
	}
	takesValue := valueFlags(cmd.Flags)
	var flags, pos []string
	rest := args[i+1:]
	for j := 0; j < len(rest); j++ {
		a := rest[j]
		switch {
		case a == "--":
			pos = append(pos, rest[j:]...)
			j = len(rest)
		case strings.HasPrefix(a, "-") && a != "-":
			flags = append(flags, a)
			if takesValue[strings.TrimLeft(a, "-")] && j+1 < len(rest) {
				flags = append(flags, rest[j+1])
				j++
			}
		default:
			pos = append(pos, a)
		}
	}
	out := append([]string(nil), args[:i+1]...)
	out = append(out, flags...)
	return append(out, pos...)
}

// valueFlags lists the names of flags that take a value (all but booleans);
// a name written with "=value" is not among them, so it takes nothing more.
func valueFlags(flags []cli.Flag) map[string]bool {
	m := map[string]bool{}
	for _, f := range flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			m[n] = !isBool
		}
	}
	return m
}
