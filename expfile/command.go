package expfile

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/metalab-hpc/metalab/command"
	"github.com/metalab-hpc/metalab/launcher"
)

// command reads command, mode, workdir, cwd and env into the operation that
// runs once per run. The command is resolved and checked now (it exists and
// is executable), so that a typo fails before a sweep is submitted.
func (l *loader) command(raw map[string]any) (launcher.Operation, error) {
	mode, err := l.str(raw, path{"mode"}, false)
	if err != nil {
		return nil, err
	}
	switch mode {
	case "", "per-run", "persistent":
	default:
		return nil, l.errAt(path{"mode"}, `mode is "per-run" (the default: a process per run) or "persistent" (a process per worker slot)`, "unknown mode %q", mode)
	}

	dir := l.dir
	wd, err := l.str(raw, path{"workdir"}, false)
	if err != nil {
		return nil, err
	}
	if wd != "" {
		dir = l.abs(wd)
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return nil, l.errAt(path{"workdir"}, "workdir is relative to the experiment file's directory, "+l.dir,
				"workdir %s does not exist or is not a directory", dir)
		}
	}

	cwd, err := l.str(raw, path{"cwd"}, false)
	if err != nil {
		return nil, err
	}
	switch cwd {
	case "", "workdir", "scratch":
	default:
		return nil, l.errAt(path{"cwd"}, `cwd is "workdir" (the default: every run starts in workdir) or "scratch" (each run starts in its own $METALAB_SCRATCH)`,
			"unknown cwd %q", cwd)
	}

	env := map[string]string{}
	et, _, err := l.table(raw, path{"env"})
	if err != nil {
		return nil, err
	}
	for _, k := range l.keys(path{"env"}, et) {
		v := et[k]
		p := path{"env", k}
		switch x := v.(type) {
		case string:
			env[k] = x
		case int64, bool:
			env[k] = fmt.Sprint(x)
		case float64:
			env[k] = fmt.Sprint(x)
		default:
			return nil, l.typeErr(p, "a string", v, "")
		}
		switch {
		case strings.HasPrefix(k, "METALAB_"):
			return nil, l.errAt(p, "metalab sets the METALAB_ variables itself; rename it", "env: %s is reserved", k)
		case k == "" || strings.ContainsAny(k, "=\x00"):
			return nil, l.errAt(p, "", "env: %q is not a valid variable name", k)
		}
	}

	argv, err := l.argv(raw)
	if err != nil {
		return nil, err
	}
	spec := command.Spec{Argv: argv, Dir: dir, Env: env, ScratchCwd: cwd == "scratch"}
	var op launcher.Operation
	if mode == "persistent" {
		op, err = command.NewPersistent(spec)
	} else {
		op, err = command.New(spec)
	}
	if err != nil {
		e := l.errAt(path{"command"}, "", "%v", err)
		var ce *command.Error
		if errors.As(err, &ce) {
			e.Advice = ce.Hint()
		}
		e.Err = err
		return nil, e
	}
	return op, nil
}

// argv reads command: an array of strings, or one string split at
// whitespace. The string form has no quoting, so it refuses what a shell
// would have interpreted rather than pass it on literally.
func (l *loader) argv(raw map[string]any) ([]string, error) {
	p := path{"command"}
	v, ok := raw["command"]
	if !ok {
		return nil, l.errAt(p, `add the program to run once per run: command = ["python3", "run.py"]`, "command is missing")
	}
	if s, ok := v.(string); ok {
		if strings.ContainsAny(s, "'\"`$|&;<>()*?~\\{}[]") {
			return nil, l.errAt(p, commandStringAdvice(s), "command %q holds quotes or shell syntax, but it is not run by a shell", s)
		}
		f := strings.Fields(s)
		if len(f) == 0 {
			return nil, l.errAt(p, `command = ["python3", "run.py"]`, "command is empty")
		}
		if strings.Contains(f[0], "=") {
			return nil, l.errAt(p, "set environment variables in the [env] table", "command starts with a variable assignment (%s), but it is not run by a shell", f[0])
		}
		return f, nil
	}
	a, ok := array(v)
	if !ok {
		return nil, l.typeErr(p, "an array of strings or a string", v, `command = ["python3", "run.py"]`)
	}
	if len(a) == 0 {
		return nil, l.errAt(p, `command = ["python3", "run.py"]`, "command is empty")
	}
	argv := make([]string, len(a))
	for i, x := range a {
		s, ok := x.(string)
		if !ok {
			advice := ""
			if _, num := x.(int64); num {
				advice = fmt.Sprintf("quote it: \"%v\"", x)
			}
			return nil, l.typeErr(p.index(i), "a string", x, advice)
		}
		argv[i] = s
	}
	return argv, nil
}

// shellSyntax is what only a shell makes sense of: redirections, pipes,
// variables, globs, subshells. Quotes alone an array expresses.
const shellSyntax = "`$|&;<>()*?~\\{}[]"

// commandStringAdvice says how to write a command string that holds
// quotes or shell syntax. Quotes only group words, which an array does.
// Anything else needs a shell: an array would pass "|" or ">" to the
// program as an argument, so the advice is a shell (or a script), and for
// a redirection, that metalab keeps each run's output already.
func commandStringAdvice(s string) string {
	if !strings.ContainsAny(s, shellSyntax) {
		return fmt.Sprintf("write it as an array, one argument a string: command = %s", arrayForm(s))
	}
	advice := fmt.Sprintf(`let a shell run it: command = ["sh", "-c", %s], or put it in a script and run that`, tomlString(s))
	if strings.Contains(s, ">") {
		advice += "; metalab keeps each run's stdout and stderr already ('metalab logs')"
	}
	return advice
}

// tomlString writes s as a TOML string: a literal one, which escapes
// nothing, when s has no single quote or newline.
func tomlString(s string) string {
	if !strings.ContainsAny(s, "'\n\r") {
		return "'" + s + "'"
	}
	return strconv.Quote(s)
}

// arrayForm writes a command string as the array a shell would have made
// of its words, for a hint: quotes group, nothing else is interpreted.
func arrayForm(s string) string {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, fmt.Sprintf("%q", cur.String()))
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, fmt.Sprintf("%q", cur.String()))
	}
	return "[" + strings.Join(words, ", ") + "]"
}

// timeout reads timeout: a duration string, or a number of seconds; 0 or
// absent means no limit.
func (l *loader) timeout(raw map[string]any) (time.Duration, error) {
	p := path{"timeout"}
	v, ok := raw["timeout"]
	if !ok {
		return 0, nil
	}
	const advice = `a duration such as "90s", "10m" or "1h30m", or a number of seconds`
	var d time.Duration
	switch x := v.(type) {
	case string:
		var err error
		if d, err = time.ParseDuration(strings.ReplaceAll(x, " ", "")); err != nil {
			return 0, l.errAt(p, "use "+advice, "timeout %q is not a duration", x)
		}
	case int64:
		if x > math.MaxInt64/int64(time.Second) {
			return 0, l.errAt(p, "", "timeout %d s is too long", x)
		}
		d = time.Duration(x) * time.Second
	case float64:
		if math.IsNaN(x) || x > float64(math.MaxInt64/int64(time.Second)) {
			return 0, l.errAt(p, "", "timeout %v s is not a usable duration", x)
		}
		d = time.Duration(x * float64(time.Second))
	default:
		return 0, l.typeErr(p, advice, v, "")
	}
	if d < 0 {
		return 0, l.errAt(p, "0 or no timeout means no limit", "timeout is negative")
	}
	return d, nil
}

// retries reads retries: how many more times a failed run is tried at once.
func (l *loader) retries(raw map[string]any) (int, error) {
	return l.intIn(raw, path{"retries"}, 0, 0, 1000)
}
