package command

import (
	"fmt"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/metalab-hpc/metalab/launcher"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/seeds"
)

// Linux refuses to execute a program (E2BIG, "argument list too long")
// whose arguments and environment exceed what execve takes: one string of
// more than MAX_ARG_STRLEN bytes (32 pages), or all of them, with a
// pointer each, beyond a quarter of the stack limit (at least 128 KiB, at
// most 6 MiB; fs/exec.c). Every run of a command carries its params in its
// environment, so a param too large for it would fail every run; metalab
// checks the widest point before the sweep instead.
const maxArgStrlen = 32 * 4096

// execLimit is how many bytes of arguments and environment execve takes
// under the current stack limit.
func execLimit() int {
	const stkLim, argMax = 8 << 20, 128 << 10
	limit := stkLim / 4 * 3
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_STACK, &rl) == nil && rl.Cur != unix.RLIM_INFINITY && int(rl.Cur/4) < limit {
		limit = int(rl.Cur / 4)
	}
	return max(limit, argMax)
}

// EnvError says that a run's environment would be too large to execute
// the command with.
type EnvError struct {
	Var   string // the variable over the per-string limit; "" for the total
	Param string // the param that weighs most in it, if any
	Size  int    // bytes of the variable (or of everything)
	Limit int
}

func (e *EnvError) Error() string {
	msg := ""
	if e.Var != "" {
		msg = fmt.Sprintf("%s would be %s in the environment of a run, over the %s that Linux takes for one variable",
			e.Var, kib(e.Size), kib(e.Limit))
	} else {
		msg = fmt.Sprintf("a run's arguments and environment would be %s, over the %s that execve takes here (a quarter of `ulimit -s`)",
			kib(e.Size), kib(e.Limit))
	}
	if e.Param != "" {
		msg += fmt.Sprintf("; the largest param is %q", e.Param)
	}
	return msg
}

// Hint is what to do about it.
func (e *EnvError) Hint() string {
	return "pass large inputs as files: name the file in [context] (its path reaches the run) or make the param a path"
}

func kib(n int) string {
	if n < 10<<10 {
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}

// CheckPoint reports, as an [*EnvError], whether a run of p with context
// ctx would have an environment too large to execute the command with.
// Loaders call it with [params.Widest] of the sweep before it starts.
func (o *Op) CheckPoint(p params.Point, ctx launcher.Context) error {
	// Paths as long as metalab's could be.
	long := strings.Repeat("x", 256)
	env, err := o.environ(runInput{params: p, seeds: seeds.New(-1<<63, 1).Bundle(1<<31 - 1), context: ctx,
		storeDir: long, tag: newRunTag(), capture: long, artDir: long, scratch: long})
	if err != nil {
		return err
	}
	return checkExec(append([]string{o.path}, o.spec.Argv...), env, p)
}

// CheckPoint is [Op.CheckPoint] for a persistent process, whose runs get
// their params on stdin: only the context weighs.
func (p *Persistent) CheckPoint(_ params.Point, ctx launcher.Context) error {
	env, err := p.op.environ(runInput{context: ctx, storeDir: strings.Repeat("x", 256), tag: newRunTag()})
	if err != nil {
		return err
	}
	return checkExec(append([]string{p.op.path}, p.op.spec.Argv...), env, nil)
}

// checkExec checks argv and env against execve's limits.
func checkExec(argv, env []string, p params.Point) error {
	total := 0
	for _, s := range argv {
		total += len(s) + 1 + 8
	}
	for _, kv := range env {
		total += len(kv) + 1 + 8
		if len(kv)+1 > maxArgStrlen {
			k, _, _ := strings.Cut(kv, "=")
			return &EnvError{Var: k, Param: largestParam(p), Size: len(kv) + 1, Limit: maxArgStrlen}
		}
	}
	if limit := execLimit(); total > limit {
		return &EnvError{Param: largestParam(p), Size: total, Limit: limit}
	}
	return nil
}

// largestParam names the param with the longest encoding in p.
func largestParam(p params.Point) string {
	names := p.Keys()
	sort.Strings(names)
	best, size := "", 0
	for _, name := range names {
		b, err := params.Canonical(p[name])
		if err == nil && len(b) > size {
			best, size = name, len(b)
		}
	}
	return best
}
