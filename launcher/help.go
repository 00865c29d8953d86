package launcher

import (
	"cmp"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/metalab-hpc/metalab/internal/suggest"
)

// How the command line explains itself: the help texts, their EXIT CODES
// blocks, and what bad usage gets back (exit 2, with a suggestion). The
// commands' own files say what they do; this file makes their help read
// alike, whoever wrote it, and fit the program it is in (the metalab binary
// or a program of [Main]).

// StoreEnv names the store of every command that takes --store, when the
// flag is not given.
const StoreEnv = "METALAB_STORE"

// exitCodeDoc is one line of an EXIT CODES block.
type exitCodeDoc struct {
	code int
	text string
}

// Lines shared by several commands' EXIT CODES blocks.
var (
	codeUsageStore = exitCodeDoc{ExitUsage, "bad usage, or a directory that is not a store"}
	codeDamaged    = exitCodeDoc{ExitDamaged, "a damaged store: it printed what it could read; 'collect' repairs the indexes"}
	codeReadFailed = exitCodeDoc{ExitRunsFailed, "the store could not be read, or the output not written"}
	codeInterrupt  = exitCodeDoc{ExitInterrupted, "interrupted (Ctrl-C or SIGTERM); run the same command again to resume"}
)

// exitCodes lists, per command, the codes it can return; "" is the
// program's list, of every code.
var exitCodes = map[string][]exitCodeDoc{
	"": {
		{ExitOK, "all runs completed (or: the command did what it was asked)"},
		{ExitRunsFailed, "some runs failed (their errors: 'results --status failed'), or another error"},
		{ExitUsage, "bad usage or bad input: experiment file, params, or a --store directory that is not a store"},
		codeDamaged,
		{ExitScheduler, "the scheduler failed or could not be reached (sbatch, squeue, scontrol, scancel)"},
		codeInterrupt,
	},
	"run": {
		{ExitOK, "all runs completed, or none was left to run; --dry-run: the plan was printed"},
		{ExitRunsFailed, "some runs failed (their errors: 'results --status failed'), or another process writes the store"},
		{ExitUsage, "bad usage or bad input: experiment file, params, a directory that is not a store"},
		{ExitDamaged, "the results table read a damaged store; 'collect' repairs the indexes"},
		codeInterrupt,
	},
	"results": {{ExitOK, "the results were printed"}, codeReadFailed, codeUsageStore, codeDamaged},
	"summary": {{ExitOK, "the summary was printed"}, codeReadFailed, codeUsageStore, codeDamaged},
	"report":  {{ExitOK, "the report was written"}, codeReadFailed, codeUsageStore, codeDamaged},
	"serve": {
		{ExitOK, "the server was stopped (SIGINT, SIGTERM)"},
		{ExitRunsFailed, "the store could not be read, or the server failed"},
		{ExitUsage, "bad usage, a --listen address that cannot be used, or a directory that is not a store"},
	},
	"logs": {{ExitOK, "the run's output was printed"}, codeReadFailed, {ExitUsage, "bad usage, no such run, or a directory that is not a store"}, codeDamaged},
	"artifacts": {
		{ExitOK, "the artifacts were listed (and copied, with --copy)"},
		{ExitRunsFailed, "the store could not be read, or an artifact not copied (a file that is not the one its record describes)"},
		{ExitUsage, "bad usage, no such run or artifact name, or a directory that is not a store"},
		codeDamaged,
	},
	"store": {
		{ExitOK, "the command did what it was asked"},
		{ExitRunsFailed, "a store or database could not be read or written (a database not reachable, a password refused, a schema of another version)"},
		{ExitUsage, "bad usage or bad input: a directory that is not a store, a Python store with a broken file"},
	},
	// store's commands.
	"export": {
		{ExitOK, "the store's new records are in the database"},
		{ExitRunsFailed, "the store could not be read, or the database not written (what was committed stays: run it again)"},
		{ExitUsage, "bad usage, or a directory that is not a store"},
		codeInterrupt,
	},
	"import": {
		{ExitOK, "the source's runs are in the destination"},
		{ExitRunsFailed, "the source could not be read, or the destination not written"},
		{ExitUsage, "bad usage or bad input: a directory that is not a store, a Python store with a broken file, an experiment the source lacks"},
		codeInterrupt,
	},
	"list": {{ExitOK, "the experiments were listed"}, {ExitRunsFailed, "the store or database could not be read"}, codeUsageStore},
	"status": {
		{ExitOK, "the counts were printed"},
		{ExitRunsFailed, "the store could not be read"},
		codeUsageStore,
	},
	"submit": {
		{ExitOK, "submitted, or nothing left to submit; --dry-run: the plan and scripts were printed"},
		{ExitRunsFailed, "another process writes the store"},
		{ExitUsage, "bad usage or bad input: experiment file, [slurm] settings, a directory that is not a store, jobs of earlier submissions of the experiment still queued"},
		{ExitScheduler, "sbatch, squeue or scontrol failed or could not be reached"},
		codeInterrupt,
	},
	"collect": {
		{ExitOK, "the indexes were merged, and every run of the plan is completed (or was resubmitted)"},
		{ExitRunsFailed, "runs of the plan are missing or failed, or the store could not be merged"},
		{ExitUsage, "bad usage or bad input, or a directory that is not a store"},
		{ExitScheduler, "squeue or sbatch failed or could not be reached"},
	},
	"cancel": {
		{ExitOK, "the submissions' jobs were cancelled (or none was left)"},
		{ExitRunsFailed, "the store could not be read"},
		codeUsageStore,
		{ExitScheduler, "squeue or scancel failed or could not be reached"},
	},
	"worker": {
		{ExitOK, "the task's runs completed"},
		{ExitRunsFailed, "some of the task's runs failed, or another error"},
		{ExitUsage, "bad usage, or the experiment changed since it was submitted"},
		{ExitInterrupted, "interrupted (scancel, or the time limit); collect --resubmit submits the rest"},
	},
	"version":    {{ExitOK, "printed"}, {ExitUsage, "bad usage"}},
	"completion": {{ExitOK, "printed"}, {ExitUsage, "bad usage: a shell other than bash, zsh or fish"}},
	"help":       {{ExitOK, "printed"}, {ExitUsage, "no such command"}},
}

// exitCodesHelp is the EXIT CODES block of a command's help ("": the
// program's).
func exitCodesHelp(cmd string) string {
	codes, ok := exitCodes[cmd]
	if !ok {
		codes = exitCodes[""]
	}
	var b strings.Builder
	b.WriteString("\nEXIT CODES:")
	for _, c := range codes {
		fmt.Fprintf(&b, "\n   %-4d %s", c.code, c.text)
	}
	return b.String()
}

// appHelpTemplate is urfave/cli's, with a line on where global options
// may stand.
var appHelpTemplate = strings.Replace(cli.AppHelpTemplate,
	"GLOBAL OPTIONS:",
	"GLOBAL OPTIONS (before or after the command):", -1)

// appDescription is the program's DESCRIPTION: what a sweep is, the
// experiments of a [Main] program, and examples of the commands.
func (a *App) appDescription() string {
	var b strings.Builder
	b.WriteString("A sweep is an experiment (an operation, a parameter grid and a seed plan) run for\n" +
		"every param point times every seed replicate. Results go to a store directory:\n" +
		"runs already completed there are never run again. Every command that takes\n" +
		"--store reads the store from $" + StoreEnv + " when the flag is not given.\n")
	if len(a.Experiments) > 0 {
		b.WriteString("\nEXPERIMENTS:\n")
		for _, e := range a.Experiments {
			fmt.Fprintf(&b, "   %s", e.Name)
			if e.Version != "" {
				fmt.Fprintf(&b, " (version %s)", e.Version)
			}
			b.WriteString("\n")
		}
	}
	target, st := a.exampleTarget()
	fmt.Fprintf(&b, "\nEXAMPLES:\n"+
		"   %[1]s run %[2]s --store %[3]s --dry-run\n"+
		"   %[1]s run %[2]s --store %[3]s\n"+
		"   %[1]s results --store %[3]s --status failed\n"+
		"   %[1]s results --store %[3]s --where 'pi_estimate>3' --sort -pi_estimate\n"+
		"   %[1]s summary --store %[3]s --group-by n_samples\n"+
		"   %[1]s help run\n"+
		"   %[1]s version\n"+
		"   source <(%[1]s completion bash)",
		a.Name, target, st)
	return b.String()
}

// exampleTarget is what examples run, and the store they name: the pi
// example's file for the metalab binary, the first experiment of a [Main]
// program.
func (a *App) exampleTarget() (target, storeDir string) {
	if a.LoadFile == nil && len(a.Experiments) > 0 {
		name := a.Experiments[0].Name
		return name, "runs/" + safeName(name)
	}
	return "examples/pi/pi.toml", "runs/pi"
}

// localizeHelp rewrites a command's help for the program it is in: the
// example lines (those indented under EXAMPLES:) name the program, and in
// a program without experiment files they run its experiment instead of a
// .toml file.
func (a *App) localizeHelp(s string) string {
	if a.Name == "metalab" && a.LoadFile != nil {
		return s
	}
	target, _ := a.exampleTarget()
	lines := strings.Split(s, "\n")
	inExamples := false
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "EXAMPLES:"):
			inExamples = true
		case inExamples && strings.HasPrefix(l, "   "):
			l = metalabWord.ReplaceAllString(l, a.Name+" ")
			if a.LoadFile == nil {
				l = tomlWord.ReplaceAllString(l, target)
			}
			lines[i] = l
		case !strings.HasPrefix(l, "   "):
			inExamples = false
		}
	}
	return strings.Join(lines, "\n")
}

// commandsHelpTemplate is the help of a command of commands (store): the
// subcommands are listed by hand, as urfave/cli lists them only once the
// command has run.
const commandsHelpTemplate = `NAME:
   {{template "helpNameTemplate" .}}

USAGE:
   {{.HelpName}} COMMAND [command options]{{if .Description}}

DESCRIPTION:
   {{template "descriptionTemplate" .}}{{end}}

COMMANDS:{{range .Subcommands}}{{if not .Hidden}}
   {{.Name}}{{"\t"}}{{.Usage}}{{end}}{{end}}
`

var (
	// metalabWord is the program in an example line.
	metalabWord = regexp.MustCompile(`\bmetalab `)
	// tomlWord is an experiment file in an example line.
	tomlWord = regexp.MustCompile(`\S+\.toml\b`)
)

// tidyCommand makes a command's help and usage errors read as the others':
// its own EXIT CODES block, examples that name this program, flags tidied
// (see [tidyFlags]), and a missing required flag answered by one line and
// a hint rather than the whole help.
func (a *App) tidyCommand(c *cli.Command) {
	c.CustomHelpTemplate = cli.CommandHelpTemplate + exitCodesHelp(c.Name) + "\n"
	if len(c.Subcommands) > 0 {
		// A command of commands (store): its help lists them, and each
		// is tidied as a command.
		c.CustomHelpTemplate = commandsHelpTemplate + exitCodesHelp(c.Name) + "\n"
		for _, sub := range c.Subcommands {
			a.tidyCommand(sub)
		}
	}
	// Each command's help is one topic: no "help" subcommand under it.
	c.HideHelpCommand = true
	c.Description = a.localizeHelp(c.Description)
	if a.LoadFile == nil {
		c.ArgsUsage = strings.ReplaceAll(c.ArgsUsage, "EXPERIMENT.toml | ", "")
	}
	if a.Name != "metalab" {
		for _, f := range c.Flags {
			// A flag that names a command ("also submit 'metalab
			// collect'") names this program's.
			if bf, ok := f.(*cli.BoolFlag); ok {
				bf.Usage = metalabWord.ReplaceAllString(bf.Usage, a.Name+" ")
			}
		}
	}
	var required []string
	for _, f := range c.Flags {
		sf, ok := f.(*cli.StringFlag)
		if !ok {
			continue
		}
		if sf.Name == "store" && !contains(sf.EnvVars, StoreEnv) {
			sf.EnvVars = append(sf.EnvVars, StoreEnv)
		}
		if sf.Required {
			// urfave/cli answers a missing required flag with the whole
			// help; the check below says what is missing.
			sf.Required = false
			required = append(required, sf.Name)
		}
	}
	tidyFlags(c.Flags)
	if len(required) == 0 {
		return
	}
	before := c.Before
	c.Before = func(cc *cli.Context) error {
		for _, name := range required {
			if cc.String(name) != "" {
				continue
			}
			if name == "store" {
				return usageErr(fmt.Sprintf("name the store a sweep wrote: '%s %s --store runs/pi', or export %s=runs/pi", a.Name, c.Name, StoreEnv),
					"%s needs a store: no --store given and $%s is not set", c.Name, StoreEnv)
			}
			// A subcommand's HelpName (metalab store export) is set by
			// the time it runs.
			full := strings.TrimPrefix(cmp.Or(cc.Command.HelpName, c.Name), a.Name+" ")
			return usageErr(fmt.Sprintf("see '%s %s --help'", a.Name, full), "%s needs --%s", full, name)
		}
		if before != nil {
			return before(cc)
		}
		return nil
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// defaultInUsage is a default that a flag's usage states itself, such as
// "(default: one per CPU)".
var defaultInUsage = regexp.MustCompile(`\s*\(default:?\s+(.*)\)$`)

// tidyFlags makes flags' help lines read alike. urfave/cli appends
// "(default: VALUE)" to every flag's usage: a usage that states its default
// in words already ("(default: one per CPU)") had two, so its words
// become the default urfave/cli prints; a boolean's "(default: false)"
// says nothing and is left out. And urfave/cli takes the first
// `backquoted` word of a usage for the name of the flag's value, which a
// boolean has none of: there the backquotes become plain quotes.
func tidyFlags(flags []cli.Flag) {
	for _, f := range flags {
		switch f := f.(type) {
		case *cli.BoolFlag:
			f.DisableDefaultText = true
			f.Usage = strings.ReplaceAll(f.Usage, "`", "'")
		case *cli.StringFlag:
			f.Usage, f.DefaultText = moveDefault(f.Usage, f.DefaultText)
		case *cli.IntFlag:
			f.Usage, f.DefaultText = moveDefault(f.Usage, f.DefaultText)
		case *cli.Int64Flag:
			f.Usage, f.DefaultText = moveDefault(f.Usage, f.DefaultText)
		case *cli.UintFlag:
			f.Usage, f.DefaultText = moveDefault(f.Usage, f.DefaultText)
		case *cli.Float64Flag:
			f.Usage, f.DefaultText = moveDefault(f.Usage, f.DefaultText)
		case *cli.DurationFlag:
			f.Usage, f.DefaultText = moveDefault(f.Usage, f.DefaultText)
		case *cli.StringSliceFlag:
			f.Usage, f.DefaultText = moveDefault(f.Usage, f.DefaultText)
		}
	}
}

// moveDefault moves a default stated at the end of a usage into the
// flag's default text, unless it has one.
func moveDefault(usage, defaultText string) (string, string) {
	m := defaultInUsage.FindStringSubmatchIndex(usage)
	if m == nil || defaultText != "" {
		return usage, defaultText
	}
	return usage[:m[0]], usage[m[2]:m[3]]
}

// flagError is bad usage of flags (an unknown flag, a value that does not
// parse): exit 2, with the flag meant if one is close, and where to look.
func (a *App) flagError(err error, flags []cli.Flag, cmd string) error {
	help := fmt.Sprintf("see '%s --help'", a.Name)
	if cmd != "" {
		help = fmt.Sprintf("see '%s %s --help'", a.Name, cmd)
	}
	const unknown = "flag provided but not defined: "
	if s := err.Error(); strings.HasPrefix(s, unknown) {
		got := strings.TrimLeft(strings.TrimPrefix(s, unknown), "-")
		var names []string
		for _, f := range flags {
			for _, n := range f.Names() {
				if len(n) > 1 {
					names = append(names, n)
				}
			}
		}
		if best := closest(got, names); best != "" {
			return usageErr(fmt.Sprintf("did you mean --%s? %s", best, help), "unknown flag --%s", got)
		}
		return usageErr(help, "unknown flag --%s", got)
	}
	return usageErr(help, "%v", err)
}

// unknownCommand is a command that does not exist: exit 2, with the
// command meant.
func (a *App) unknownCommand(app *cli.App, name string) error {
	var names []string
	for _, c := range app.Commands {
		if !c.Hidden {
			names = append(names, c.Name)
		}
	}
	help := fmt.Sprintf("'%s --help' lists the commands", a.Name)
	switch {
	case a.isExperimentFile(name) || a.hasExperiment(name):
		return usageErr(fmt.Sprintf("to run it: '%s run %s'", a.Name, name), "unknown command %q", name)
	case closest(name, names) != "":
		return usageErr(fmt.Sprintf("did you mean '%s %s'? %s", a.Name, closest(name, names), help), "unknown command %q", name)
	}
	return usageErr(fmt.Sprintf("the commands: %s; %s", strings.Join(names, ", "), help), "unknown command %q", name)
}

func (a *App) hasExperiment(name string) bool {
	for _, e := range a.Experiments {
		if e.Name == name {
			return true
		}
	}
	return false
}

// closest is the name nearest to got, if it is near enough to be what was
// meant (a typo, or a word cut short), or "".
func closest(got string, names []string) string {
	best, bestD := "", 1<<30
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	for _, n := range sorted {
		if d := suggest.Distance(strings.ToLower(got), strings.ToLower(n)); d < bestD {
			best, bestD = n, d
		}
	}
	if best != "" && bestD <= max(1, len(got)/3) {
		return best
	}
	for _, n := range sorted {
		if len(got) >= 3 && strings.HasPrefix(n, got) {
			return n
		}
	}
	return ""
}
