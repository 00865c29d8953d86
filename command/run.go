package command

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/internal/safefs"
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
//	METALAB_RUN_TAG        marks the run's processes, so that those that
//	                       outlive it can be found and killed
//
// Param values reach the program only through the environment, never
// through a shell, so quotes, $(...), backticks and newlines arrive exactly.
//
// The capture file and the artifact directory have names of their own for
// each run, and metalab holds them open from before the run starts: what
// the run does to the names (remove them, replace them by a symlink or a
// FIFO) cannot redirect metalab, and fails the run with a message that
// says what it did.
func (o *Op) Execute(ctx context.Context, rt *launcher.Runtime) error {
	sl, err := o.acquire(rt)
	if err != nil {
		return fmt.Errorf("scratch directory: %w", err)
	}
	paramsJSON, err := rt.ParamsJSON()
	if err != nil {
		o.release(sl)
		return fmt.Errorf("params: %w", err)
	}
	out, err := o.run(ctx, sl, runInput{
		runID:      rt.RunID,
		params:     rt.Params,
		paramsJSON: paramsJSON,
		seeds:      rt.Seeds,
		context:    rt.Context,
		rec:        rt.Recorder(),
		storeDir:   rt.StoreDir(),
	})
	o.release(sl)
	rt.Annotate(out.annotate)
	if rec := rt.Recorder(); rec != nil {
		for _, w := range rec.Result().Warnings {
			rt.Logger.Warn().Str(fieldWarning, w).Msg("capture warning")
		}
	}
	if out.stdoutCapture != "" {
		if _, warned := stdoutWarned.LoadOrStore(o, true); !warned {
			rt.Logger.Warn().Str(fieldStdoutLine, out.stdoutCapture).
				Msg("a run printed a capture line to stdout, where metalab does not look for one: append capture lines to the file $METALAB_CAPTURE instead, as in echo '{\"metric\": \"loss\", \"value\": 0.25}' >> \"$METALAB_CAPTURE\" (said once per sweep)")
		}
	}
	return err
}

// fieldStdoutLine is a capture line that a run printed to stdout.
const fieldStdoutLine = "stdout_line"

// stdoutWarned holds the operations (*Op) whose sweep was told that a run
// printed its capture lines to stdout: once is enough, and the check
// costs nothing after it.
var stdoutWarned sync.Map

// stdoutScanLimit is how much of the start of a run's stdout is looked at
// for capture lines: enough for a program that prints its results, and a
// bounded read for one that prints gigabytes.
const stdoutScanLimit = 64 << 10

// captureOnStdout returns the first line of the run's stdout (the range
// ref of the slot's log, read through metalab's own descriptor f) that is
// a line of the capture protocol, shortened for a message, or "". It is
// asked only of runs that captured nothing, whose capture lines may have
// gone to stdout by mistake (a print instead of a write to
// $METALAB_CAPTURE).
func captureOnStdout(f *os.File, ref *store.LogRef) string {
	if ref == nil || ref.Length == 0 {
		return ""
	}
	buf := make([]byte, min(ref.Length, stdoutScanLimit))
	n, _ := f.ReadAt(buf, ref.Offset)
	for line := range bytes.Lines(buf[:n]) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		if _, err := capture.ParseLine(line); err == nil {
			if len(line) > 200 {
				return string(line[:200]) + "..."
			}
			return string(line)
		}
	}
	return ""
}

// runInput is what one execution needs, apart from a launcher.Runtime so
// that tests can drive it directly.
type runInput struct {
	runID      string
	params     params.Point
	paramsJSON []byte // canonical JSON of params, if the caller has it
	seeds      seeds.Bundle
	context    launcher.Context
	rec        *capture.Recorder
	storeDir   string
	tag        string // $METALAB_RUN_TAG
	capture    string // paths the run is given
	artDir     string
	scratch    string
}

// outcome is what the record keeps about how the process ran.
type outcome struct {
	exitCode       *int
	signal         string
	stderrTail     string
	peakRSSKB      int64
	stdout, stderr *store.LogRef
	// stdoutCapture is a capture line the run printed to stdout, when it
	// wrote none to $METALAB_CAPTURE.
	stdoutCapture string
}

func (o outcome) annotate(r *store.Record) {
	r.ExitCode = o.exitCode
	r.Signal = o.signal
	r.StderrTail = o.stderrTail
	r.PeakRSSKB = o.peakRSSKB
	r.Stdout = o.stdout
	r.Stderr = o.stderr
}

// runFiles are a run's capture file and artifact directory, made in the
// slot's scratch directory and held open.
type runFiles struct {
	capName, artName string
	capFile          *os.File
	capInfo          fs.FileInfo
	art              *os.Root
	artInfo          fs.FileInfo
}

// makeRunFiles creates the next run's capture file and artifact directory
// in sl.
func makeRunFiles(sl *slot) (*runFiles, error) {
	n := sl.nextRun()
	f := &runFiles{capName: "capture-" + n + ".jsonl", artName: "artifacts-" + n}
	var err error
	if f.capFile, err = sl.root.OpenFile(f.capName, os.O_RDWR|os.O_CREATE|os.O_EXCL, safefs.FileCreate); err != nil {
		return nil, err
	}
	if f.capInfo, err = f.capFile.Stat(); err == nil {
		err = sl.root.Mkdir(f.artName, safefs.DirCreate)
	}
	if err == nil {
		f.art, err = sl.root.OpenRoot(f.artName)
	}
	if err == nil {
		f.artInfo, err = f.art.Stat(".")
	}
	if err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

func (f *runFiles) close() {
	if f.capFile != nil {
		f.capFile.Close()
	}
	if f.art != nil {
		f.art.Close()
	}
}

// check says what the run did to its capture file and artifact directory:
// nothing (""), or a message. A name that no longer names what metalab
// made is removed (a link, not its target).
func (f *runFiles) check(sl *slot) (capMsg, artMsg string) {
	capMsg = checkName(sl, f.capName, f.capInfo, "its capture file $METALAB_CAPTURE")
	artMsg = checkName(sl, f.artName, f.artInfo, "its artifact directory $METALAB_ARTIFACT_DIR")
	return capMsg, artMsg
}

func checkName(sl *slot, name string, want fs.FileInfo, what string) string {
	info, err := sl.root.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "removed " + what
	case err != nil:
		return fmt.Sprintf("made %s unreadable: %v", what, err)
	case os.SameFile(info, want):
		return ""
	}
	msg := fmt.Sprintf("replaced %s by %s; metalab did not follow it", what, describeIn(sl.root, name, info))
	sl.root.RemoveAll(name) // the replacement itself, never a link's target
	return msg
}

func (o *Op) run(ctx context.Context, sl *slot, in runInput) (outcome, error) {
	var out outcome
	files, err := makeRunFiles(sl)
	if err != nil {
		return out, fmt.Errorf("scratch directory: %w", err)
	}
	defer files.close()
	in.tag = newRunTag()
	in.scratch = sl.path
	in.capture = sl.path + "/" + files.capName
	in.artDir = sl.path + "/" + files.artName
	env, err := o.environ(in)
	if err != nil {
		return out, err
	}
	stdout, stderr := sl.stdout, sl.stderr
	// The slot's next run writes after this one.
	defer stdout.next()
	defer stderr.next()

	cwd := o.dir
	if o.spec.ScratchCwd {
		cwd = sl.path
	}
	cmd := exec.CommandContext(ctx, o.path, o.spec.Argv[1:]...)
	cmd.Args[0] = o.spec.Argv[0]
	cmd.Dir = cwd
	cmd.Env = env
	cmd.Stdout = stdout.f
	cmd.Stderr = stderr.f
	// A process group of its own lets a timeout reach the program's
	// children too; Pdeathsig stops the program if metalab dies first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM) }
	cmd.WaitDelay = o.spec.Grace // then Wait kills the leader; the group follows below

	if err := startProcess(cmd); err != nil {
		return out, fmt.Errorf("start %s: %w", o.spec.Argv[0], err)
	}
	// Capture lines are read as the run appends them, so that an
	// artifact it names by path is copied then, while the file is there
	// (it may be a temporary file the run removes before it exits). The
	// capture file is read through metalab's own descriptor, which still
	// holds what the run wrote even if it removed the name.
	exited := make(chan struct{})
	tailed := make(chan struct{})
	go func() {
		defer close(tailed)
		if err := in.rec.ApplyLines(&followReader{f: files.capFile, exited: exited}, cwd); err != nil {
			in.rec.Fail(fmt.Errorf("reading $METALAB_CAPTURE: %w", err))
		}
	}()
	waitErr := cmd.Wait()
	waited(cmd.Process.Pid)
	// Nothing of the run may outlive it: its group, and what left the
	// group (a daemon), before metalab looks at what it left.
	killLeftovers(cmd.Process.Pid, in.tag)
	close(exited)
	<-tailed

	out.stdout = stdout.ref()
	out.stderr = stderr.ref()
	if out.stderr != nil && out.stderr.Length > 0 {
		out.stderrTail = stderr.tail(stderrTailSize)
	}

	// What the run did to metalab's files comes first: it decides what
	// can be believed.
	var tampered []string
	if msg := sl.check(); msg != "" {
		tampered = append(tampered, msg)
	}
	capMsg, artMsg := files.check(sl)
	for _, m := range []string{capMsg, artMsg} {
		if m != "" {
			tampered = append(tampered, m)
		}
	}
	// A run that captured nothing may have printed its capture lines:
	// worth a look, until the sweep has been told.
	if fi, err := files.capFile.Stat(); err == nil && fi.Size() == 0 {
		if _, warned := stdoutWarned.Load(o); !warned {
			out.stdoutCapture = captureOnStdout(stdout.f, out.stdout)
		}
	}
	if artMsg == "" && !sl.broken {
		collectArtifacts(in.rec, files.art, "$METALAB_ARTIFACT_DIR")
	}

	st := cmd.ProcessState
	if st == nil {
		return out, fmt.Errorf("%s: %w", o.spec.Argv[0], waitErr)
	}
	if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
		out.peakRSSKB = ru.Maxrss // kilobytes on Linux
	}
	procErr := processError(o.spec.Argv[0], st, waitErr, &out)
	if len(tampered) > 0 {
		msg := "the run " + strings.Join(tampered, "; it ")
		if procErr != nil {
			msg += " (and then: " + procErr.Error() + ")"
		}
		return out, errors.New(msg)
	}
	return out, procErr
}

// followReader reads a capture file as a run appends to it: at its end it
// waits for more, polling (a few milliseconds at first, backing off to
// followMaxPoll while nothing comes), until exited is closed, after which
// the end of the file is the end.
type followReader struct {
	f      *os.File
	exited <-chan struct{}
	timer  *time.Timer
}

// followMinPoll and followMaxPoll bound how long a followReader waits
// before it looks for more lines: short enough that a line naming a
// temporary file is read before most programs get to remove it, and
// idle slots cost a read now and then.
const (
	followMinPoll = time.Millisecond
	followMaxPoll = 50 * time.Millisecond
)

func (r *followReader) Read(p []byte) (int, error) {
	delay := followMinPoll
	for {
		n, err := r.f.Read(p)
		if n > 0 || err != io.EOF {
			return n, err
		}
		if r.timer == nil {
			r.timer = time.NewTimer(delay)
		} else {
			r.timer.Reset(delay)
		}
		select {
		case <-r.exited:
			r.timer.Stop()
			return r.f.Read(p)
		case <-r.timer.C:
		}
		delay = min(2*delay, followMaxPoll)
	}
}

// processError says how the process ended, if not with exit status 0, and
// notes its exit code or signal in out.
func processError(name string, st *os.ProcessState, waitErr error, out *outcome) error {
	ws, _ := st.Sys().(syscall.WaitStatus)
	switch {
	case ws.Signaled():
		out.signal = signalName(ws.Signal())
		return fmt.Errorf("killed by signal %s", out.signal)
	case st.Exited():
		code := st.ExitCode()
		out.exitCode = &code
		if code != 0 {
			msg := fmt.Sprintf("exit status %d", code)
			if l := lastLine(out.stderrTail); l != "" {
				msg += ": " + l
			}
			return errors.New(msg)
		}
	}
	if waitErr != nil && !errors.Is(waitErr, exec.ErrWaitDelay) {
		var ee *exec.ExitError
		if !errors.As(waitErr, &ee) {
			return fmt.Errorf("%s: %w", name, waitErr)
		}
	}
	return nil
}

// collectArtifacts stores the regular files of the artifact directory art
// (what denotes it, for messages), in name order. Anything else (a symlink,
// a FIFO, a directory) is not followed nor stored, with a warning.
func collectArtifacts(rec *capture.Recorder, art *os.Root, what string) {
	names, err := readNames(art, ".")
	if err != nil {
		rec.Fail(fmt.Errorf("reading %s: %w", what, err))
		return
	}
	sort.Strings(names)
	for _, name := range names {
		if err := context.Cause(rec.Context()); err != nil {
			rec.Fail(fmt.Errorf("collecting artifacts stopped: %w", err))
			return
		}
		f, info, err := safefs.OpenRegularIn(art, name, os.O_RDONLY, 0)
		if err != nil {
			var nr *safefs.NotRegularError
			if errors.As(err, &nr) {
				rec.Warn(fmt.Sprintf("%s/%s is %s; not stored", what, name, safefs.Describe(nr.Mode)))
			} else {
				rec.Warn(fmt.Sprintf("%s/%s: %v; not stored", what, name, err))
			}
			continue
		}
		rec.ArtifactFrom(name, f, info, "")
		f.Close()
	}
}

// logFile is one run's view of a per-slot log: where its output starts.
type logFile struct {
	f     *os.File
	rel   string
	start int64
	end   int64 // the size ref saw last; -1: none since next
}

// openLog opens the store's log logs/name for the runs of a slot. A
// symlink or other non-file that a run planted at the name is removed (the
// link, not its target) and a new log begins.
func openLog(st *store.Store, name string) (*logFile, error) {
	f, err := st.OpenLog(name)
	var nr *safefs.NotRegularError
	if errors.As(err, &nr) && !nr.Mode.IsDir() && nr.Want == "" {
		if rerr := st.Root().Remove(store.LogPath(name)); rerr == nil {
			f, err = st.OpenLog(name)
		}
	}
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &logFile{f: f, rel: store.LogPath(name), start: fi.Size(), end: -1}, nil
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
	// Through metalab's own descriptor: the name may be a link the run
	// planted since.
	k, _ := l.f.ReadAt(buf, r.Offset+r.Length-size)
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
