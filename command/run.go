package command

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"unicode/utf8"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/launcher"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/seeds"
	"github.com/metalab-hpc/metalab/store"
)

// stderrTailSize is how much of the end of a run's stderr its record keeps.
const stderrTailSize = 2048

// Execute runs the program once for rt's run and implements
// [launcher.Operation]. The program gets, besides metalab's own environment
// and Spec.Env:
//
//	METALAB_RUN_ID         the run ID
//	METALAB_PARAMS         the params as one JSON object
//	METALAB_PARAM_<NAME>   each param: a string as it is, a number in shortest
//	                       form (a float keeps a ".0"), anything else as JSON;
//	                       NAME is upper-cased, other characters than A-Z and
//	                       0-9 become "_"
//	METALAB_SEED           derive("default"), an unsigned 64-bit integer
//	METALAB_NUMPY_SEED     derive("default") % 2^32
//	METALAB_REPLICATE      the replicate index
//	METALAB_SEED_BASE      the seed plan's base
//	METALAB_CAPTURE        the file to append capture lines to
//	METALAB_ARTIFACT_DIR   a directory whose files become the run's artifacts
//	METALAB_SCRATCH        a private directory, emptied after the run (the
//	                       capture file and artifact directory are in it)
//	METALAB_STORE          the store directory
//	METALAB_CONTEXT        the experiment context as one JSON object (files as
//	                       absolute paths), and METALAB_CONTEXT_<NAME> each entry
//
// Param values reach the program only through the environment, never
// through a shell, so quotes, $(...), backticks and newlines arrive exactly.
func (o *Op) Execute(ctx context.Context, rt *launcher.Runtime) error {
	sl, err := o.acquire(rt)
	if err != nil {
		return fmt.Errorf("scratch directory: %w", err)
	}
	out, err := o.run(ctx, runInput{
		runID:    rt.RunID,
		params:   rt.Params,
		seeds:    rt.Seeds,
		context:  rt.Context,
		rec:      rt.Recorder(),
		scratch:  sl.dir,
		storeDir: rt.StoreDir(),
		stdout:   sl.stdout,
		stderr:   sl.stderr,
	})
	o.release(sl)
	rt.Annotate(out.annotate)
	if rec := rt.Recorder(); rec != nil {
		for _, w := range rec.Result().Warnings {
			rt.Logger.Warn().Str("warning", w).Msg("capture warning")
		}
	}
	return err
}

// runInput is what one execution needs, apart from a launcher.Runtime so
// that tests can drive it directly.
type runInput struct {
	runID    string
	params   params.Point
	seeds    seeds.Bundle
	context  launcher.Context
	rec      *capture.Recorder
	scratch  string
	storeDir string
	logBase  string   // relative to storeDir; ".out" and ".err" are appended
	stdout   *logFile // the slot's open logs; nil: open logBase's
	stderr   *logFile
}

// outcome is what the record keeps about how the process ran.
type outcome struct {
	exitCode       *int
	signal         string
	stderrTail     string
	peakRSSKB      int64
	stdout, stderr *store.LogRef
}

func (o outcome) annotate(r *store.Record) {
	r.ExitCode = o.exitCode
	r.Signal = o.signal
	r.StderrTail = o.stderrTail
	r.PeakRSSKB = o.peakRSSKB
	r.Stdout = o.stdout
	r.Stderr = o.stderr
}

func (o *Op) run(ctx context.Context, in runInput) (outcome, error) {
	var out outcome
	capPath := filepath.Join(in.scratch, "capture.jsonl")
	artDir := filepath.Join(in.scratch, "artifacts")
	// A slot's scratch directory holds both from its last run, emptied.
	capFile, err := os.OpenFile(capPath, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return out, err
	}
	capFile.Close()
	if err := os.Mkdir(artDir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return out, err
	}
	env, err := o.environ(in, capPath, artDir)
	if err != nil {
		return out, err
	}
	stdout, stderr := in.stdout, in.stderr
	if stdout == nil {
		if stdout, err = openLog(in.storeDir, in.logBase+".out"); err != nil {
			return out, err
		}
		defer stdout.close()
		if stderr, err = openLog(in.storeDir, in.logBase+".err"); err != nil {
			return out, err
		}
		defer stderr.close()
	}
	// The slot's next run writes after this one.
	defer stdout.next()
	defer stderr.next()

	cmd := exec.CommandContext(ctx, o.path, o.spec.Argv[1:]...)
	cmd.Args[0] = o.spec.Argv[0]
	cmd.Dir = o.dir
	cmd.Env = env
	cmd.Stdout = stdout.f
	cmd.Stderr = stderr.f
	// A process group of its own lets a timeout reach the program's
	// children too; Pdeathsig stops the program if metalab dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = o.spec.Grace // then Wait kills the leader; the group follows below

	if err := cmd.Start(); err != nil {
		return out, fmt.Errorf("start %s: %w", o.spec.Argv[0], err)
	}
	waitErr := cmd.Wait()
	// Nothing of the run may outlive it: kill what is left of its group,
	// such as a background job of a shell script.
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)

	out.stdout = stdout.ref()
	out.stderr = stderr.ref()
	if out.stderr != nil && out.stderr.Length > 0 {
		out.stderrTail = stderr.tail(stderrTailSize)
	}
	if f, err := os.OpenFile(capPath, os.O_RDWR, 0); err == nil {
		if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
			if err := in.rec.ApplyLines(f, o.dir); err != nil {
				in.rec.Fail(fmt.Errorf("reading $METALAB_CAPTURE: %w", err))
			}
			f.Truncate(0) // empty for the slot's next run
		}
		f.Close()
	}
	collectArtifacts(in.rec, artDir)

	st := cmd.ProcessState
	if st == nil {
		return out, fmt.Errorf("%s: %w", o.spec.Argv[0], waitErr)
	}
	if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
		out.peakRSSKB = ru.Maxrss // kilobytes on Linux
	}
	ws, _ := st.Sys().(syscall.WaitStatus)
	switch {
	case ws.Signaled():
		out.signal = signalName(ws.Signal())
		return out, fmt.Errorf("killed by signal %s", out.signal)
	case st.Exited():
		code := st.ExitCode()
		out.exitCode = &code
		if code != 0 {
			msg := fmt.Sprintf("exit status %d", code)
			if l := lastLine(out.stderrTail); l != "" {
				msg += ": " + l
			}
			return out, errors.New(msg)
		}
	}
	if waitErr != nil && !errors.Is(waitErr, exec.ErrWaitDelay) {
		var ee *exec.ExitError
		if !errors.As(waitErr, &ee) {
			return out, waitErr
		}
	}
	return out, nil
}

// collectArtifacts stores the files the program left in
// $METALAB_ARTIFACT_DIR, in name order.
func collectArtifacts(rec *capture.Recorder, dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		if !e.Type().IsRegular() {
			rec.Warn(fmt.Sprintf("$METALAB_ARTIFACT_DIR/%s is not a regular file; not stored", e.Name()))
			continue
		}
		rec.ArtifactFile(e.Name(), filepath.Join(dir, e.Name()), "")
	}
	// Empty for the slot's next run.
	for _, e := range entries {
		os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}

// logFile is one run's view of a per-slot log: where its output starts.
type logFile struct {
	f     *os.File
	rel   string
	start int64
	end   int64 // the size ref saw last; -1: none since next
}

func openLog(storeDir, rel string) (*logFile, error) {
	p := filepath.Join(storeDir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &logFile{f: f, rel: filepath.ToSlash(rel), start: fi.Size(), end: -1}, nil
}

// ref is the byte range the run wrote. One slot runs one run at a time, so
// everything past start is this run's.
func (l *logFile) ref() *store.LogRef {
	fi, err := l.f.Stat()
	if err != nil {
		return nil
	}
	l.end = fi.Size()
	return &store.LogRef{File: l.rel, Offset: l.start, Length: fi.Size() - l.start}
}

// tail returns up to n bytes of the end of the run's output, starting at a
// whole UTF-8 character.
func (l *logFile) tail(n int64) string {
	r := l.ref()
	if r == nil || r.Length == 0 {
		return ""
	}
	size := min(r.Length, n)
	buf := make([]byte, size)
	f, err := os.Open(l.f.Name())
	if err != nil {
		return ""
	}
	defer f.Close()
	k, _ := f.ReadAt(buf, r.Offset+r.Length-size)
	buf = buf[:k]
	for len(buf) > 0 && size < r.Length && !utf8.RuneStart(buf[0]) {
		buf = buf[1:]
	}
	return string(buf)
}

func (l *logFile) close() { l.f.Close() }

// next moves start past what the last run wrote, for the slot's next run.
func (l *logFile) next() {
	if l.end < 0 {
		if fi, err := l.f.Stat(); err == nil {
			l.end = fi.Size()
		}
	}
	if l.end >= 0 {
		l.start = l.end
	}
	l.end = -1
}

// lastLine is the last non-blank line of s: for a Python traceback, the
// exception.
func lastLine(s string) string {
	s = strings.TrimRight(s, " \t\r\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	s = strings.TrimSpace(s)
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

var signalNames = map[syscall.Signal]string{
	syscall.SIGHUP: "SIGHUP", syscall.SIGINT: "SIGINT", syscall.SIGQUIT: "SIGQUIT",
	syscall.SIGILL: "SIGILL", syscall.SIGTRAP: "SIGTRAP", syscall.SIGABRT: "SIGABRT",
	syscall.SIGBUS: "SIGBUS", syscall.SIGFPE: "SIGFPE", syscall.SIGKILL: "SIGKILL",
	syscall.SIGUSR1: "SIGUSR1", syscall.SIGSEGV: "SIGSEGV", syscall.SIGUSR2: "SIGUSR2",
	syscall.SIGPIPE: "SIGPIPE", syscall.SIGALRM: "SIGALRM", syscall.SIGTERM: "SIGTERM",
	syscall.SIGXCPU: "SIGXCPU", syscall.SIGXFSZ: "SIGXFSZ",
}

func signalName(s syscall.Signal) string {
	if n, ok := signalNames[s]; ok {
		return n
	}
	return fmt.Sprintf("signal %d", int(s))
}
