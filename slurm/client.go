package slurm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strings"
	"sync/atomic"
	"time"
)

// DefaultTimeout bounds each command when [Client.Timeout] is zero. With the
// controller unreachable, squeue gives up after about 18 s and sbatch and
// scontrol after about 9 s on their own.
const DefaultTimeout = 60 * time.Second

// Client runs the SLURM command-line tools. The zero value is ready to use:
// it finds the tools by name in PATH and applies [DefaultTimeout]. A Client
// may be used by several goroutines; it must not be copied after first use.
type Client struct {
	// Paths of the tools; "" means the plain name, looked up in PATH.
	Sbatch, Squeue, Scontrol, Scancel, Sacct string
	// Timeout bounds each command; 0 means DefaultTimeout.
	Timeout time.Duration
	// Env is added to each command's environment, e.g. "SLURM_CONF=/etc/x.conf".
	Env []string
	// Trace, if set, is called after each command with its arguments
	// (argv[0] first), how long it took and its error; callers use it to log.
	Trace func(argv []string, took time.Duration, err error)

	calls atomic.Int64
}

// Calls returns how many commands c has run, failed ones included, so tests
// can check that a refresh asks the scheduler once.
func (c *Client) Calls() int64 { return c.calls.Load() }

// Submit runs sbatch --parsable ARGS SCRIPT and returns the new job's ID.
// script is the path of the batch script; leave it "" when args carry
// --wrap.
func (c *Client) Submit(ctx context.Context, script string, args ...string) (string, error) {
	argv := append([]string{"--parsable"}, args...)
	if script != "" {
		argv = append(argv, script)
	}
	out, err := c.run(ctx, or(c.Sbatch, "sbatch"), argv...)
	if err != nil {
		return "", err
	}
	id, _, err := ParseSbatch(bytes.NewReader(out))
	return id, err
}

// Queue asks squeue, in one call, about the given jobs (plain or array job
// IDs, or single tasks as "123_4") while they are pending or running. The
// pending part of an array comes back as one [JobState] whose ArrayTasks
// lists its tasks. Jobs squeue no longer knows are left out; with no job
// IDs it returns nothing and runs nothing.
func (c *Client) Queue(ctx context.Context, jobIDs []string) ([]JobState, error) {
	return c.queue(ctx, jobIDs, false)
}

// QueueAll is [Client.Queue] with squeue -t all: it also lists jobs that
// finished less than MinJobAge ago, with their final state.
func (c *Client) QueueAll(ctx context.Context, jobIDs []string) ([]JobState, error) {
	return c.queue(ctx, jobIDs, true)
}

func (c *Client) queue(ctx context.Context, jobIDs []string, all bool) ([]JobState, error) {
	if len(jobIDs) == 0 {
		return nil, nil
	}
	argv := []string{"--noheader", "--format=" + SqueueFormat, "--jobs=" + strings.Join(jobIDs, ",")}
	if all {
		argv = append(argv, "--states=all")
	}
	out, err := c.run(ctx, or(c.Squeue, "squeue"), argv...)
	var ce *CommandError
	if errors.As(err, &ce) && ce.ExitCode == 1 && strings.Contains(ce.Stderr, "Invalid job id specified") {
		// Every ID is unknown: all were purged (or never existed).
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return ParseSqueue(bytes.NewReader(out))
}

// Named asks squeue, in one call, for the current user's jobs (squeue
// --me) with any of the given names while they are pending or running,
// with their submit times and comments ([ParseSqueueIdentity]). Job IDs
// are recycled (a controller restarted with a clean state, FirstJobId, a
// wrap-around, another cluster), so callers that must know which jobs are
// theirs ask this way, by name, and check the comment they gave their
// jobs, rather than by a job ID they recorded. With no names it returns
// nothing and runs nothing.
func (c *Client) Named(ctx context.Context, names []string) ([]JobState, error) {
	if len(names) == 0 {
		return nil, nil
	}
	for _, n := range names {
		if n == "" || strings.ContainsAny(n, ",|") {
			// squeue splits --name at commas, and the format at "|".
			return nil, fmt.Errorf("slurm: job name %q cannot be asked for by name", n)
		}
	}
	out, err := c.run(ctx, or(c.Squeue, "squeue"), "--me", "--noheader",
		"--format="+SqueueIdentityFormat, "--name="+strings.Join(names, ","))
	if err != nil {
		return nil, err
	}
	return ParseSqueueIdentity(bytes.NewReader(out))
}

// Config runs scontrol show config.
func (c *Client) Config(ctx context.Context) (Config, error) {
	out, err := c.run(ctx, or(c.Scontrol, "scontrol"), "show", "config")
	if err != nil {
		return Config{}, err
	}
	return ParseConfig(bytes.NewReader(out))
}

// Ping runs scontrol ping and returns an error unless slurmctld answers.
func (c *Client) Ping(ctx context.Context) error {
	out, err := c.run(ctx, or(c.Scontrol, "scontrol"), "ping")
	var ce *CommandError
	if errors.As(err, &ce) && ce.Stderr == "" {
		// scontrol ping reports DOWN on stdout.
		ce.Stderr = strings.TrimSpace(firstLine(string(out)))
		ce.Advice = hint(ce)
	}
	return err
}

// Cancel runs scancel on the given jobs (job IDs, array job IDs, or tasks
// as "123_4"). SLURM treats unknown and finished jobs as done: no error.
func (c *Client) Cancel(ctx context.Context, jobIDs ...string) error {
	if len(jobIDs) == 0 {
		return nil
	}
	_, err := c.run(ctx, or(c.Scancel, "scancel"), jobIDs...)
	return err
}

// Accounting asks sacct, in one call, for the current user's records of
// the given jobs (one per job or array task, steps left out), and only of
// jobs with one of the given names, if any are given: a job ID alone may
// name another job by now (see [Client.Named]). On a cluster without
// accounting storage it returns ok=false and no error.
func (c *Client) Accounting(ctx context.Context, jobIDs []string, names ...string) (recs []AcctRecord, ok bool, err error) {
	if len(jobIDs) == 0 {
		return nil, true, nil
	}
	argv := []string{"--parsable2", "--noheader", "--allocations",
		"--format=" + SacctFields, "--jobs=" + strings.Join(jobIDs, ",")}
	if u, err := user.Current(); err == nil && u.Username != "" {
		// sacct shows every user's jobs to root and, with --jobs, to
		// others too on some versions.
		argv = append(argv, "--user="+u.Username)
	}
	if len(names) > 0 {
		argv = append(argv, "--name="+strings.Join(names, ","))
	}
	out, err := c.run(ctx, or(c.Sacct, "sacct"), argv...)
	var ce *CommandError
	if errors.As(err, &ce) && accountingDisabled(ce.Stderr) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	recs, err = ParseSacct(bytes.NewReader(out))
	if errors.Is(err, ErrAccountingDisabled) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return recs, true, nil
}

// env fixes what the parsers depend on: full array index expressions
// (squeue cuts them at 64 bytes by default) and timestamps in the standard
// form (SLURM_TIME_FORMAT may be set to "relative" by the user).
var env = []string{"SLURM_BITSTR_LEN=0", "SLURM_TIME_FORMAT=standard"}

// run runs one command with the timeout and returns its stdout, or a
// *CommandError.
func (c *Client) run(ctx context.Context, path string, args ...string) ([]byte, error) {
	c.calls.Add(1)
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(append(os.Environ(), env...), c.Env...)
	// Without this a tool's child that keeps the pipes open would make Wait
	// outlive the timeout.
	cmd.WaitDelay = 2 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	if err != nil {
		ce := &CommandError{Argv: cmd.Args, ExitCode: -1, Stderr: clip(strings.TrimSpace(stderr.String()), 4000), Err: err}
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			ce.ExitCode = ee.ExitCode()
		}
		switch cerr := ctx.Err(); {
		case errors.Is(cerr, context.DeadlineExceeded):
			ce.Err = fmt.Errorf("timed out after %v: %w", timeout, cerr)
		case cerr != nil:
			ce.Err = cerr
		}
		ce.Advice = hint(ce)
		err = ce
	}
	if c.Trace != nil {
		c.Trace(cmd.Args, time.Since(start), err)
	}
	return stdout.Bytes(), err
}

// CommandError is a SLURM command that failed to run or exited non-zero.
type CommandError struct {
	Argv     []string // the command line, argv[0] as configured
	ExitCode int      // -1 if it did not exit normally (not found, timed out, killed)
	Stderr   string   // trimmed
	Err      error    // from os/exec, or wrapping context.DeadlineExceeded
	Advice   string   // what to check, or "": see [CommandError.Hint]
}

func (e *CommandError) Error() string {
	var b strings.Builder
	b.WriteString(shellQuote(e.Argv))
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	if e.Stderr != "" {
		b.WriteString(": ")
		b.WriteString(e.Stderr)
	}
	return b.String()
}

// Hint is what the user can check ("" if nothing useful): printed on a line
// of its own after the message, as every metalab hint is.
func (e *CommandError) Hint() string { return e.Advice }

func (e *CommandError) Unwrap() error { return e.Err }

// hints map what the tools print to what the user can check; the texts on
// the left are SLURM 22.05's (testdata/stderr/).
var hints = []struct{ match, hint string }{
	{"Unable to contact slurm controller", "is slurmctld running? try `scontrol ping`"},
	{"Invalid job array specification", "array task IDs must be below MaxArraySize: `scontrol show config | grep MaxArraySize`"},
	{"Slurmctld(primary) at", "is slurmctld running? see its log (SlurmctldLogFile in slurm.conf)"},
	{"Munge encode failed", "is munged running? try `munge -n | unmunge`"},
	{"authentication error", "is munged running, with the cluster's key? try `munge -n | unmunge`"},
	{"Job violates accounting/QOS policy", "a submission limit (MaxSubmitJobs, QOS) was reached: `sacctmgr show assoc user=$USER`"},
	// sbatch keeps retrying this until it is killed.
	{"temporarily unable to accept job", "slurmctld holds MaxJobCount jobs (finished ones count for MinJobAge): `scontrol show config | grep -E 'MaxJobCount|MinJobAge'`"},
}

func hint(e *CommandError) string {
	switch {
	case errors.Is(e.Err, exec.ErrNotFound):
		return fmt.Sprintf("is SLURM installed here? put %s on PATH or configure its path", e.Argv[0])
	case errors.Is(e.Err, os.ErrNotExist):
		return fmt.Sprintf("is SLURM installed here? check the configured path %s", e.Argv[0])
	}
	for _, h := range hints {
		if strings.Contains(e.Stderr, h.match) {
			return h.hint
		}
	}
	if errors.Is(e.Err, context.DeadlineExceeded) {
		return "the scheduler did not answer in time; is slurmctld up? try `scontrol ping`"
	}
	return ""
}

// shellQuote renders argv as a command line a user can paste into a shell.
func shellQuote(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./,:=%@+-") == "" {
			q[i] = a
		} else {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}
