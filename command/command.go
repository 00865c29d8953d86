package command

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/metalab-hpc/metalab/launcher"
)

// Log field names, fixed so that JSON logs can be queried.
const (
	fieldWarning   = "warning"
	fieldLateRunID = "late_run_id" // a run that wrote after it had ended
	fieldLines     = "lines"
)

// DefaultGrace is how long a run's process group has to exit after SIGTERM
// (on a timeout or a cancellation) before it gets SIGKILL.
const DefaultGrace = 10 * time.Second

// Spec says which program a command operation runs, and how.
type Spec struct {
	// Argv is the program and its arguments. A program name without a
	// slash is looked up in $PATH (Env's PATH if it sets one); a path with
	// a slash is relative to Dir.
	Argv []string
	// Dir is the working directory of every run; "" means the current one.
	Dir string
	// Env holds extra environment variables, on top of metalab's process
	// environment. Names starting with METALAB_ are reserved.
	Env map[string]string
	// Grace is how long the process group has between SIGTERM and SIGKILL;
	// 0 means [DefaultGrace].
	Grace time.Duration
	// ScratchCwd runs each run in its own scratch directory
	// ($METALAB_SCRATCH, emptied after the run) instead of Dir, so that
	// runs at once that write files of the same name (out.npy) do not
	// collide. An argument that names a file or directory relative to Dir
	// (the script: ["python3", "train.py"]) is then passed as its absolute
	// path, since the run no longer starts beside it. (A persistent
	// process starts in its slot's scratch directory, emptied after each
	// run.)
	ScratchCwd bool
}

// Op runs a program once per run. It implements [launcher.Operation].
type Op struct {
	spec Spec
	path string // the program, resolved once so every run runs the same file
	dir  string // absolute working directory

	mu    sync.Mutex
	slots map[string]*slot // by store, writer and slot
}

var _ launcher.Operation = (*Op)(nil)

// Error is a problem with a [Spec], found before any run starts. Hint says
// what to do about it.
type Error struct {
	Err    error
	Advice string
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Hint is what the user can do about the error.
func (e *Error) Hint() string { return e.Advice }

func specErr(advice, format string, args ...any) error {
	return &Error{Err: fmt.Errorf(format, args...), Advice: advice}
}

// New checks spec and returns its operation: the program must exist and be
// executable, the working directory must exist, and the environment must be
// representable. The errors are [*Error]s with a hint.
func New(spec Spec) (*Op, error) {
	if len(spec.Argv) == 0 || spec.Argv[0] == "" {
		return nil, specErr(`name the program and its arguments, such as command = ["python3", "run.py"]`, "command is empty")
	}
	for i, a := range spec.Argv {
		if strings.IndexByte(a, 0) >= 0 {
			return nil, specErr("", "command argument %d contains a NUL byte", i)
		}
	}
	dir := spec.Dir
	if dir == "" {
		dir = "."
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, specErr("the working directory is relative to the experiment file", "working directory %s does not exist or is not a directory", dir)
	}
	for k, v := range spec.Env {
		switch {
		case k == "" || strings.ContainsAny(k, "=\x00"):
			return nil, specErr("a variable name has no '=' or NUL", "env: %q is not a valid variable name", k)
		case strings.HasPrefix(k, "METALAB_"):
			return nil, specErr("metalab sets the METALAB_ variables itself; rename it", "env: %s is reserved", k)
		case strings.IndexByte(v, 0) >= 0:
			return nil, specErr("", "env: %s contains a NUL byte", k)
		}
	}
	if spec.Grace <= 0 {
		spec.Grace = DefaultGrace
	}
	pathList, ok := spec.Env["PATH"]
	if !ok {
		pathList = os.Getenv("PATH")
	}
	path, err := lookPath(spec.Argv[0], dir, pathList)
	if err != nil {
		return nil, err
	}
	spec.Argv = append([]string(nil), spec.Argv...)
	if spec.ScratchCwd {
		for i, a := range spec.Argv[1:] {
			if a == "" || filepath.IsAbs(a) || strings.HasPrefix(a, "-") {
				continue
			}
			if _, err := os.Stat(filepath.Join(dir, a)); err == nil {
				spec.Argv[i+1] = filepath.Join(dir, a)
			}
		}
	}
	return &Op{spec: spec, path: path, dir: dir}, nil
}

// Path is the program every run executes, resolved by [New].
func (o *Op) Path() string { return o.path }

// Dir is the runs' working directory, or with Spec.ScratchCwd the
// directory their command's relative paths were resolved in.
func (o *Op) Dir() string { return o.dir }

// Argv is the command as runs get it: with Spec.ScratchCwd, arguments that
// name files beside the experiment are absolute.
func (o *Op) Argv() []string { return append([]string(nil), o.spec.Argv...) }

// lookPath finds the program as exec.LookPath would, but relative to dir for
// a path with a slash, and in pathList rather than $PATH. Relative entries
// of pathList are skipped, as Go's exec.LookPath refuses them too.
func lookPath(name, dir, pathList string) (string, error) {
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if err := checkExecutable(name, p); err != nil {
			return "", err
		}
		return p, nil
	}
	for _, d := range filepath.SplitList(pathList) {
		if !filepath.IsAbs(d) {
			continue
		}
		p := filepath.Join(d, name)
		if checkExecutable(name, p) == nil {
			return p, nil
		}
	}
	hint := "check the spelling, or give the program's path"
	if fi, err := os.Stat(filepath.Join(dir, name)); err == nil && !fi.IsDir() {
		hint = fmt.Sprintf("%s is in %s; write \"./%s\" to run it from there", name, dir, name)
	}
	return "", specErr(hint, "command %q not found in $PATH", name)
}

func checkExecutable(name, p string) error {
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return specErr("paths with a slash are relative to the working directory", "command %q: %s does not exist", name, p)
	case err != nil:
		return specErr("", "command %q: %v", name, err)
	case fi.IsDir():
		return specErr("name a program, not a directory", "command %q: %s is a directory", name, p)
	case fi.Mode()&0o111 == 0 || syscall.Access(p, 1 /* X_OK */) != nil:
		return specErr(fmt.Sprintf("make it executable (chmod +x %s), or run it through its interpreter: command = [%q, %q]",
			name, interpreter(p), strings.TrimPrefix(name, "./")),
			"command %q: %s is not executable (mode %v)", name, p, fi.Mode().Perm())
	}
	return nil
}

// interpreter guesses which program runs a script, for a hint.
func interpreter(p string) string {
	switch strings.ToLower(filepath.Ext(p)) {
	case ".py":
		return "python3"
	case ".r":
		return "Rscript"
	case ".jl":
		return "julia"
	case ".pl":
		return "perl"
	case ".rb":
		return "ruby"
	case ".js":
		return "node"
	case ".bash":
		return "bash"
	}
	return "sh"
}

// LimitGrace gives runs at most d between SIGTERM and SIGKILL from now on;
// d <= 0 changes nothing. A SLURM worker calls it with half of the
// cluster's KillWait before its first run, so that a run it cancels is
// killed, and recorded as cancelled, before SLURM kills the worker.
func (o *Op) LimitGrace(d time.Duration) {
	if d > 0 && d < o.spec.Grace {
		o.spec.Grace = d
	}
}

// Describe is what the operation runs, for a store to see when an
// experiment's operation changes under the same name and version (see
// [launcher.Describer]): the command line as written, and how it runs.
// Neither the resolved program path nor the working directory is in it:
// a store copied to another machine, or an experiment directory that was
// moved, runs the same thing.
func (o *Op) Describe() map[string]any { return describeCommand(o.spec.Argv, "per-run") }

// Describe is as [Op.Describe], for the persistent mode.
func (p *Persistent) Describe() map[string]any { return describeCommand(p.op.spec.Argv, "persistent") }

func describeCommand(argv []string, mode string) map[string]any {
	args := make([]any, len(argv))
	for i, a := range argv {
		args[i] = a
	}
	return map[string]any{"command": args, "mode": mode}
}
