package launcher

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// interspersed lets flags follow positional arguments, as in
// `metalab run pi.toml --store runs/pi`, and global flags follow the
// command, as in `metalab run pi.toml --log-level error`. urfave/cli v2
// stops parsing flags at a command's first positional argument, and parses
// a global flag only before the command, so the command's flags (with
// their values) are moved in front of its positional arguments, and global
// flags that the command does not have in front of the command. Everything
// after "--" stays where it is.
func interspersed(app *cli.App, args []string) []string {
	i := 1
	global := valueFlags(app.Flags)
	for i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "--" {
		if global[flagName(args[i])] && !strings.Contains(args[i], "=") {
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
	// A command of commands (store export): the flags are the
	// subcommand's, and go after it.
	top := i
	for len(cmd.Subcommands) > 0 && i+1 < len(args) && cmd.Command(args[i+1]) != nil {
		i++
		cmd = cmd.Command(args[i])
	}
	takesValue := valueFlags(cmd.Flags)
	var globals, flags, pos []string
	rest := args[i+1:]
	for j := 0; j < len(rest); j++ {
		a := rest[j]
		switch {
		case a == "--":
			pos = append(pos, rest[j:]...)
			j = len(rest)
		case strings.HasPrefix(a, "-") && a != "-":
			name := flagName(a)
			to := &flags
			value, known := takesValue[name]
			if !known && i > top && (name == "help" || name == "h") {
				// The subcommand's help, not its parent's.
				known = true
			} else if !known {
				if value, known = global[name]; known {
					to = &globals
				}
			}
			*to = append(*to, a)
			if value && !strings.Contains(a, "=") && j+1 < len(rest) {
				*to = append(*to, rest[j+1])
				j++
			}
		default:
			pos = append(pos, a)
		}
	}
	out := append([]string(nil), args[:top]...)
	out = append(out, globals...)
	out = append(out, args[top:i+1]...)
	out = append(out, flags...)
	return append(out, pos...)
}

// flagName is the name of a flag argument: "--store=x" names "store".
func flagName(arg string) string {
	name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
	return name
}

// valueFlags maps the names of flags to whether they take a value (all
// but booleans).
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

// completionFlag is what the shell completion scripts append to the words
// typed so far; urfave/cli answers only when it is the last argument.
const completionFlag = "--generate-bash-completion"

// withCompletion rearranges args with rearrange, keeping a trailing
// completion request last. While completing, it turns off urfave/cli's
// short option handling, which fails on the flag being typed ("--st")
// where it should let it be, and then crashes.
func withCompletion(app *cli.App, args []string, rearrange func(*cli.App, []string) []string) []string {
	if n := len(args); n > 1 && args[n-1] == completionFlag {
		app.UseShortOptionHandling = false
		return append(rearrange(app, args[:n-1]), completionFlag)
	}
	return rearrange(app, args)
}
