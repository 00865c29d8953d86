package launcher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"github.com/metalab-hpc/metalab/slurm"
	"github.com/metalab-hpc/metalab/store"
)

// Exit codes of the metalab command and of programs built with [Main].
const (
	ExitOK          = 0   // all runs completed
	ExitRunsFailed  = 1   // some runs failed, or an operation error stopped the sweep
	ExitUsage       = 2   // bad usage or bad input (experiment file, params, store)
	ExitDamaged     = 3   // a command printed what it could read of a damaged store
	ExitScheduler   = 4   // the scheduler failed or could not be reached (sbatch, squeue, scontrol, scancel)
	ExitInterrupted = 130 // cancelled by SIGINT or SIGTERM; the store resumes
)

// App is the metalab command line. The metalab binary and a Go user's own
// program (through [Main]) run the same App, so a SLURM worker can re-invoke
// either.
type App struct {
	// Name is the program name in help texts.
	Name string
	// Experiments are the Go experiments compiled into the program.
	Experiments []Experiment
	// LoadFile loads an experiment file (metalab's TOML format); nil means
	// the program takes no experiment files.
	LoadFile func(path string) (*Experiment, error)
	// Stdout and Stderr default to the process's.
	Stdout, Stderr io.Writer
	// Slurm talks to the scheduler; nil means the tools in PATH (or the
	// paths in METALAB_SBATCH, METALAB_SQUEUE, ...).
	Slurm *slurm.Client

	// jsonErrors: --log-format json, so that the interrupt message and
	// the closing error are JSON lines too and stderr holds one kind of
	// line. Atomic: the signal handler reads it.
	jsonErrors atomic.Bool
}

// Main runs the metalab command line over the given Go experiments and exits
// with its exit code: `prog run`, `prog results --store DIR`, and the other
// commands of the metalab binary. Ctrl-C cancels the sweep cleanly; a second
// Ctrl-C exits at once.
func Main(exps ...Experiment) {
	app := &App{Name: progName(), Experiments: exps}
	os.Exit(app.Run(context.Background(), os.Args))
}

func progName() string {
	if len(os.Args) > 0 {
		s := os.Args[0]
		if i := strings.LastIndexByte(s, '/'); i >= 0 {
			s = s[i+1:]
		}
		return s
	}
	return "metalab"
}

// Run runs the command line args (args[0] is the program name) and returns
// the exit code.
func (a *App) Run(ctx context.Context, args []string) int {
	if a.Stdout == nil {
		a.Stdout = os.Stdout
	}
	if a.Stderr == nil {
		a.Stderr = os.Stderr
	}
	if a.Name == "" {
		a.Name = "metalab"
	}
	a.jsonErrors.Store(false)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGUSR1)
	defer signal.Stop(sigs)
	go func() {
		select {
		case sig := <-sigs:
			// A second signal gets the default behaviour: exit at once.
			signal.Stop(sigs)
			if sig != syscall.SIGUSR1 { // SLURM's warning: the worker logs it
				a.say(zerolog.WarnLevel, "interrupted: cancelling the runs in flight and saving their records; interrupt again to exit at once")
			}
			cancel()
		case <-ctx.Done():
		}
	}()
	app := a.cliApp()
	err := app.RunContext(ctx, withCompletion(app, args, interspersed))
	return a.exit(err)
}

// exit maps an error to an exit code and prints it: the one place where
// errors become exit codes.
func (a *App) exit(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	code := ExitRunsFailed
	switch {
	case errors.Is(err, errDone):
		return ExitOK
	case errors.Is(err, errSilent):
		return ExitRunsFailed
	case errors.As(err, &ee):
		code = ee.code
	case errors.Is(err, ErrInvalidExperiment), errors.Is(err, store.ErrNotStore):
		code = ExitUsage
	case errors.Is(err, context.Canceled):
		code = ExitInterrupted
	case errors.As(err, new(*slurm.CommandError)), errors.As(err, new(*slurm.ParseError)):
		code = ExitScheduler
	case errors.Is(err, ErrRunsFailed):
		code = ExitRunsFailed
	case isUsage(err):
		code = ExitUsage
	}
	msg := err.Error()
	if a.jsonErrors.Load() {
		l := zerolog.New(a.Stderr).With().Timestamp().Logger()
		ev := l.Error().Int(fieldExitCode, code)
		if h := hintOf(err); h != "" {
			ev = ev.Str(fieldHint, h)
		}
		ev.Msg(strings.TrimPrefix(msg, a.Name+": "))
		return code
	}
	if !strings.HasPrefix(msg, a.Name+":") {
		msg = a.Name + ": " + msg
	}
	fmt.Fprintln(a.Stderr, msg)
	if h := hintOf(err); h != "" {
		fmt.Fprintln(a.Stderr, "hint: "+h)
	}
	return code
}

// say tells the user msg on stderr, as "NAME: msg" or, with --log-format
// json, as a JSON record of level; through lineWriter, since a progress bar
// may be drawn on the line.
func (a *App) say(level zerolog.Level, msg string) {
	w := lineWriter(a.Stderr)
	if a.jsonErrors.Load() {
		l := zerolog.New(w).With().Timestamp().Logger()
		l.WithLevel(level).Msg(msg)
		return
	}
	fmt.Fprintf(w, "%s: %s\n", a.Name, msg)
}

// errSilent: the command already told the user; exit 1 without a message.
var errSilent = errors.New("silent failure")

// hinter is an error that says what the user can do about it. It is the
// one way a hint reaches the user: [App.exit] prints the hint of the first
// error in the chain that has one, on a line of its own after the message,
// so that Error() says what went wrong and nothing else.
type hinter interface {
	Hint() string
}

// hintOf returns the hint of the first error in err's chain that has one,
// or "".
func hintOf(err error) string {
	var h hinter
	if errors.As(err, &h) {
		return h.Hint()
	}
	return ""
}

// exitError gives an error an exit code and, optionally, a hint.
type exitError struct {
	code int
	err  error
	hint string // "": the hint of err, if any
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Hint is the exitError's own hint, or else that of the error it wraps (an
// experiment file's error names the fix itself).
func (e *exitError) Hint() string {
	if e.hint != "" {
		return e.hint
	}
	return hintOf(e.err)
}

// usageErr is bad usage: exit 2, with a hint.
func usageErr(hint, format string, args ...any) error {
	return &exitError{code: ExitUsage, err: fmt.Errorf(format, args...), hint: hint}
}

// inputErr is bad input (an experiment file, a setting): exit 2, with a
// hint ("" for err's own).
func inputErr(err error, hint string) error {
	return &exitError{code: ExitUsage, err: err, hint: hint}
}

func isUsage(err error) bool {
	s := err.Error()
	return strings.Contains(s, "flag provided but not defined") ||
		strings.Contains(s, "Required flag") || strings.Contains(s, "invalid value")
}

// errDone: the command did all it had to (--version printed); exit 0
// without a message.
var errDone = errors.New("done")

// Global flags. They may stand before or after the command (see
// [interspersed]).
const (
	flagLogLevel  = "log-level"
	flagLogFormat = "log-format"
	flagVersion   = "version"
)

// logLevels are the values of --log-level.
var logLevels = map[string]zerolog.Level{
	"debug": zerolog.DebugLevel, "info": zerolog.InfoLevel, "warn": zerolog.WarnLevel, "error": zerolog.ErrorLevel,
}

func (a *App) cliApp() *cli.App {
	app := &cli.App{
		Name:        a.Name,
		Usage:       "run parameter sweeps locally or as SLURM job arrays",
		Description: a.appDescription(),
		Writer:      a.Stdout,
		ErrWriter:   a.Stderr,
		// The help and version of urfave/cli exit 3 and 0 on an unknown
		// command and print its own wording; metalab's own say "did you
		// mean" and exit 2 (see cmdHelp and the root Action).
		HideHelpCommand:        true,
		HideVersion:            true,
		EnableBashCompletion:   true,
		UseShortOptionHandling: true,
		CustomAppHelpTemplate:  appHelpTemplate + exitCodesHelp("") + "\n",
		ExitErrHandler:         func(*cli.Context, error) {},
		Flags: []cli.Flag{
			&cli.StringFlag{Name: flagLogLevel, Value: "info", Usage: "log level: debug, info, warn, error"},
			&cli.StringFlag{Name: flagLogFormat, Value: "text", Usage: "log, progress and error lines on stderr as text or json (one JSON object a line)"},
			&cli.BoolFlag{Name: flagVersion, Usage: "print the version and build of this program"},
			cli.HelpFlag,
		},
		Commands: []*cli.Command{
			a.cmdRun(),
			a.cmdResults(),
			a.cmdSummary(),
			a.cmdReport(),
			a.cmdServe(),
			a.cmdStatus(),
			a.cmdLogs(),
			a.cmdArtifacts(),
			a.cmdSubmit(),
			a.cmdWorker(),
			a.cmdCollect(),
			a.cmdCancel(),
			a.cmdStore(),
			a.cmdVersion(),
			a.cmdCompletion(),
			a.cmdHelp(),
		},
		Before: func(c *cli.Context) error {
			if _, ok := logLevels[c.String(flagLogLevel)]; !ok {
				return usageErr("use debug, info, warn or error", "unknown --log-level %q", c.String(flagLogLevel))
			}
			switch c.String(flagLogFormat) {
			case "text":
			case "json":
				a.jsonErrors.Store(true)
			default:
				return usageErr("use text or json", "unknown --log-format %q", c.String(flagLogFormat))
			}
			if c.Bool(flagVersion) {
				if err := runVersion(a.Stdout, a.Name); err != nil {
					return err
				}
				return errDone
			}
			return nil
		},
		// The root's action: no command, or one that does not exist.
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return cli.ShowAppHelp(c)
			}
			return a.unknownCommand(c.App, c.Args().First())
		},
	}
	app.OnUsageError = func(c *cli.Context, err error, _ bool) error {
		return a.flagError(err, app.Flags, "")
	}
	for _, c := range app.Commands {
		a.tidyCommand(c)
		c.OnUsageError = func(cc *cli.Context, err error, _ bool) error {
			return a.flagError(err, cc.Command.Flags, cc.Command.Name)
		}
	}
	tidyFlags(app.Flags)
	return app
}

// logger is the logger of a command: the format and level of the global
// flags (checked before any command runs), on stderr.
func (a *App) logger(c *cli.Context) zerolog.Logger {
	lvl, ok := logLevels[c.String(flagLogLevel)]
	if !ok {
		lvl = zerolog.InfoLevel
	}
	if c.String(flagLogFormat) == "json" {
		return NewJSONLogger(a.Stderr, lvl)
	}
	return NewLogger(a.Stderr, lvl)
}
