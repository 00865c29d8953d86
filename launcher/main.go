package launcher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
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
	ExitInterrupted = 130 // cancelled by SIGINT or SIGTERM; the store resumes
)

const exitCodesHelp = `EXIT CODES:
   0    all runs completed
   1    some runs failed (their errors are in the results)
   2    bad usage or bad input: experiment file, params, or a store of another experiment
   3    a damaged store: the command printed what it could read; 'collect' repairs the indexes
   130  interrupted (Ctrl-C or SIGTERM); run the same command again to resume`

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
				fmt.Fprintf(a.Stderr, "%s: interrupted: cancelling the runs in flight and saving their records; interrupt again to exit at once\n", a.Name)
			}
			cancel()
		case <-ctx.Done():
		}
	}()
	app := a.cliApp()
	err := app.RunContext(ctx, interspersed(app, args))
	return a.exit(err)
}

// exit maps an error to an exit code and prints it: the one place where
// errors become exit codes.
func (a *App) exit(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	var ie *store.IdentityError
	code := ExitRunsFailed
	switch {
	case errors.Is(err, errSilent):
		return ExitRunsFailed
	case errors.As(err, &ee):
		code = ee.code
	case errors.As(err, &ie), errors.Is(err, ErrInvalidExperiment), errors.Is(err, store.ErrNotStore):
		code = ExitUsage
	case errors.Is(err, context.Canceled):
		code = ExitInterrupted
	case errors.Is(err, ErrRunsFailed):
		code = ExitRunsFailed
	case isUsage(err):
		code = ExitUsage
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, a.Name+":") {
		msg = a.Name + ": " + msg
	}
	fmt.Fprintln(a.Stderr, msg)
	if h := hintOf(err); h != "" {
		fmt.Fprintln(a.Stderr, "hint: "+h)
	}
	return code
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

func (a *App) cliApp() *cli.App {
	app := &cli.App{
		Name:  a.Name,
		Usage: "run parameter sweeps locally or as SLURM job arrays",
		Description: "A sweep is an experiment (an operation, a parameter grid and a seed plan) run for\n" +
			"every param point times every seed replicate. Results go to a store directory:\n" +
			"runs already completed there are never run again.",
		Writer:                 a.Stdout,
		ErrWriter:              a.Stderr,
		HideHelpCommand:        true,
		UseShortOptionHandling: true,
		CustomAppHelpTemplate:  cli.AppHelpTemplate + "\n" + exitCodesHelp + "\n",
		ExitErrHandler:         func(*cli.Context, error) {},
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "log level: debug, info, warn, error"},
		},
		Commands: []*cli.Command{
			a.cmdRun(),
			a.cmdResults(),
			a.cmdSummary(),
			a.cmdStatus(),
			a.cmdLogs(),
			a.cmdSubmit(),
			a.cmdWorker(),
			a.cmdCollect(),
			a.cmdCancel(),
		},
	}
	app.OnUsageError = func(c *cli.Context, err error, _ bool) error {
		return usageErr(fmt.Sprintf("see '%s --help'", a.Name), "%v", err)
	}
	for _, c := range app.Commands {
		c.CustomHelpTemplate = cli.CommandHelpTemplate + "\n" + exitCodesHelp + "\n"
		c.OnUsageError = func(cc *cli.Context, err error, _ bool) error {
			return usageErr(fmt.Sprintf("see '%s %s --help'", a.Name, cc.Command.Name), "%v", err)
		}
	}
	return app
}

func (a *App) logger(c *cli.Context) zerolog.Logger {
	lvl, err := zerolog.ParseLevel(c.String("log-level"))
	if err != nil || lvl == zerolog.NoLevel {
		lvl = zerolog.InfoLevel
	}
	return NewLogger(a.Stderr, lvl)
}
