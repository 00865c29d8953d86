package command

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/internal/safefs"
	"github.com/metalab-hpc/metalab/launcher"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/store"
)

// channelFD is the file descriptor on which a persistent process writes its
// capture lines and done lines (METALAB_CHANNEL_FD).
const channelFD = 3

// Persistent runs a program once per worker slot and sends it runs over its
// stdin, one JSON line each, so that an interpreter's start-up is paid once
// per slot rather than once per run. It implements [launcher.Operation].
//
// # Protocol
//
// The process gets the environment of a per-run command without the run's
// own variables: METALAB_STORE, METALAB_CONTEXT and METALAB_CONTEXT_<NAME>,
// METALAB_MODE=persistent and METALAB_CHANNEL_FD=3. For each run it reads
// one line from stdin:
//
//	{"run_id": ID, "params": {...}, "seed": N, "numpy_seed": N,
//	 "replicate": R, "seed_base": B, "artifact_dir": DIR, "scratch": DIR}
//
// and writes to file descriptor 3 (the capture channel) the run's capture
// lines, as a per-run command appends them to $METALAB_CAPTURE, then
//
//	{"done": ID}                 or  {"done": ID, "error": "message"}
//
// Files the run leaves in artifact_dir (which it creates if it wants one;
// each run is given a name of its own) become its artifacts; scratch is
// emptied after each run. Its stdout and stderr go to the slot's logs, and
// each run's record points at its part.
//
// A capture line that arrives after a run's done line (from a thread or
// child that outlived the run) is not credited to any run: it is rejected,
// with a warning in the sweep's log naming the run that had ended and on
// the record of the run during whose request it was found. A line that
// arrives after the next request was sent cannot be told apart and counts
// for that run.
//
// A process that exits or closes the channel while it holds a run fails that
// run, with its stderr tail; a run that times out or is cancelled kills the
// process. Either way the slot's next run starts a new process. A process
// that reads end of file on stdin should exit: the sweep is over.
type Persistent struct {
	op *Op

	mu    sync.Mutex
	procs map[string]*proc // by writer and slot
}

var (
	_ launcher.Operation = (*Persistent)(nil)
	_ io.Closer          = (*Persistent)(nil)
)

// NewPersistent checks spec as [New] does and returns its persistent
// operation.
func NewPersistent(spec Spec) (*Persistent, error) {
	op, err := New(spec)
	if err != nil {
		return nil, err
	}
	return &Persistent{op: op, procs: map[string]*proc{}}, nil
}

// Path is the program every slot executes.
func (p *Persistent) Path() string { return p.op.path }

// proc is one slot's process.
type proc struct {
	cmd     *exec.Cmd
	tag     string // $METALAB_RUN_TAG of the process and its descendants
	stdin   io.WriteCloser
	lines   chan chanLine // from the channel; closed when it ends
	exited  chan struct{}
	sl      *slot    // the scratch directory: scratch/ and each run's artifacts
	scratch *os.Root // scratch/ in it
	cwd     string   // the process's working directory
	stdout  *logFile
	stderr  *logFile
	st      *store.Store // where the logs are
	waitErr error
	line    []byte // the request being sent, reused
	done    []byte // the done line expected, reused
	lastRun string // the run whose done line came last
}

// chanLine is one line of the capture channel, or a line too long to keep.
type chanLine struct {
	line []byte
	size int64 // bytes it took, newline included
	err  error // capture.ErrLineTooLong
}

// request is the line a run is sent as.
type request struct {
	RunID       string          `json:"run_id"`
	Params      json.RawMessage `json:"params"`
	Seed        uint64          `json:"seed"`
	NumpySeed   uint32          `json:"numpy_seed"`
	Replicate   int             `json:"replicate"`
	SeedBase    int64           `json:"seed_base"`
	ArtifactDir string          `json:"artifact_dir"`
	Scratch     string          `json:"scratch"`
}

// appendRequest appends r as a JSON line, as json.Marshal would write it
// (TestAppendRequest compares them), for a fraction of its cost.
func appendRequest(b []byte, r request) ([]byte, error) {
	b = append(b, `{"run_id":`...)
	b, err := params.AppendCanonical(b, r.RunID)
	if err == nil {
		b = append(b, `,"params":`...)
		b = append(b, r.Params...)
		b = append(b, `,"seed":`...)
		b = strconv.AppendUint(b, r.Seed, 10)
		b = append(b, `,"numpy_seed":`...)
		b = strconv.AppendUint(b, uint64(r.NumpySeed), 10)
		b = append(b, `,"replicate":`...)
		b = strconv.AppendInt(b, int64(r.Replicate), 10)
		b = append(b, `,"seed_base":`...)
		b = strconv.AppendInt(b, r.SeedBase, 10)
		b = append(b, `,"artifact_dir":`...)
		b, err = params.AppendCanonical(b, r.ArtifactDir)
	}
	if err == nil {
		b = append(b, `,"scratch":`...)
		b, err = params.AppendCanonical(b, r.Scratch)
	}
	if err != nil {
		// A string that is not UTF-8 (a path): encoding/json repairs it.
		line, err := json.Marshal(r)
		return append(append(b[:0], line...), '\n'), err
	}
	return append(b, '}', '\n'), nil
}

// doneLine is the channel line that ends a run.
type doneLine struct {
	Done  *string `json:"done"`
	Error string  `json:"error"`
}

// Execute sends rt's run to the slot's process, starting one if need be,
// and waits for its done line. It implements [launcher.Operation].
func (p *Persistent) Execute(ctx context.Context, rt *launcher.Runtime) error {
	key := rt.Writer + "\x00" + strconv.Itoa(rt.Slot)
	p.mu.Lock()
	pr := p.procs[key]
	p.mu.Unlock()
	if pr == nil {
		writer := rt.Writer
		if writer == "" {
			writer = "run"
		}
		var err error
		pr, err = p.start(rt, store.SlotLogName(writer, rt.Slot))
		if err != nil {
			return err
		}
		p.mu.Lock()
		p.procs[key] = pr
		p.mu.Unlock()
	}
	out, err := p.send(ctx, pr, rt)
	rt.Annotate(out.annotate)
	if out.ended || pr.sl.broken {
		p.mu.Lock()
		delete(p.procs, key)
		p.mu.Unlock()
		pr.kill(p.op.spec.Grace)
	}
	return err
}

// runOutcome is outcome plus whether the process is gone.
type runOutcome struct {
	outcome
	ended bool
}

func (p *Persistent) start(rt *launcher.Runtime, logName string) (*proc, error) {
	sl, err := newScratch()
	if err != nil {
		return nil, err
	}
	pr := &proc{sl: sl, st: rt.Store(), tag: newRunTag(), lines: make(chan chanLine, 64), exited: make(chan struct{})}
	fail := func(err error) (*proc, error) {
		pr.closeFiles()
		return nil, err
	}
	if err := sl.root.Mkdir("scratch", safefs.DirCreate); err != nil {
		return fail(err)
	}
	if pr.scratch, err = sl.root.OpenRoot("scratch"); err != nil {
		return fail(err)
	}
	env, err := p.environ(rt, pr.tag)
	if err != nil {
		return fail(err)
	}
	if pr.stdout, err = openLog(rt.Store(), logName+".out"); err != nil {
		return fail(err)
	}
	if pr.stderr, err = openLog(rt.Store(), logName+".err"); err != nil {
		return fail(err)
	}
	chR, chW, err := os.Pipe()
	if err != nil {
		return fail(err)
	}
	pr.cwd = p.op.dir
	if p.op.spec.ScratchCwd {
		pr.cwd = sl.path + "/scratch"
	}
	cmd := exec.Command(p.op.path, p.op.spec.Argv[1:]...)
	cmd.Args[0] = p.op.spec.Argv[0]
	cmd.Dir = pr.cwd
	cmd.Env = env
	cmd.Stdout = pr.stdout.f
	cmd.Stderr = pr.stderr.f
	cmd.ExtraFiles = []*os.File{chW} // fd 3
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		chR.Close()
		chW.Close()
		return fail(err)
	}
	if err := startProcess(cmd); err != nil {
		chR.Close()
		chW.Close()
		return fail(fmt.Errorf("start %s: %w", p.op.spec.Argv[0], err))
	}
	chW.Close()
	pr.cmd, pr.stdin = cmd, stdin
	maxLine := rt.Recorder().Limits().MaxLine
	go func() {
		lr := capture.NewLineReader(chR, maxLine)
		for {
			line, n, err := lr.Next()
			if err == nil {
				pr.lines <- chanLine{line: bytes.Clone(line), size: n}
				continue
			}
			if errors.Is(err, capture.ErrLineTooLong) {
				pr.lines <- chanLine{size: n, err: err}
				continue
			}
			break
		}
		chR.Close()
		close(pr.lines)
	}()
	go func() {
		pr.waitErr = cmd.Wait()
		waited(cmd.Process.Pid)
		close(pr.exited)
	}()
	return pr, nil
}

// environ is a per-run command's environment without the run's variables.
func (p *Persistent) environ(rt *launcher.Runtime, tag string) ([]string, error) {
	env, err := p.op.environ(runInput{context: rt.Context, storeDir: rt.StoreDir(), tag: tag})
	if err != nil {
		return nil, err
	}
	perRun := []string{"METALAB_RUN_ID=", "METALAB_PARAMS=", "METALAB_PARAM_", "METALAB_SEED=", "METALAB_NUMPY_SEED=",
		"METALAB_REPLICATE=", "METALAB_SEED_BASE=", "METALAB_CAPTURE=", "METALAB_ARTIFACT_DIR=", "METALAB_SCRATCH="}
	out := env[:0]
next:
	for _, kv := range env {
		for _, pre := range perRun {
			if strings.HasPrefix(kv, pre) {
				continue next
			}
		}
		out = append(out, kv)
	}
	return append(out, "METALAB_MODE=persistent", "METALAB_CHANNEL_FD="+strconv.Itoa(channelFD)), nil
}

// send runs one run on pr.
func (p *Persistent) send(ctx context.Context, pr *proc, rt *launcher.Runtime) (out runOutcome, err error) {
	rec := rt.Recorder()
	p.rejectLate(pr, rt)
	paramsJSON, err := rt.ParamsJSON()
	if err != nil {
		return out, fmt.Errorf("params: %w", err)
	}
	artName := "artifacts-" + pr.sl.nextRun()
	line, err := appendRequest(pr.line[:0], request{
		RunID: rt.RunID, Params: paramsJSON, Seed: rt.Seeds.Seed(), NumpySeed: rt.Seeds.NumpySeed(""),
		Replicate: rt.Seeds.Replicate, SeedBase: rt.Seeds.Base,
		ArtifactDir: pr.sl.path + "/" + artName, Scratch: pr.sl.path + "/scratch",
	})
	if err != nil {
		return out, err
	}
	pr.line = line
	// A run's output starts where the last one's ended (or where the logs
	// ended when the process started): one fstat a log a run, not two.
	// Whatever the process writes between runs goes to the next run.
	outStart, errStart := pr.stdout.start, pr.stderr.start
	defer func() {
		out.stdout = pr.stdout.since(outStart)
		out.stderr = pr.stderr.since(errStart)
		pr.stdout.start = outStart + out.stdout.Length
		pr.stderr.start = errStart + out.stderr.Length
		if out.ended || err != nil {
			out.stderrTail = pr.stderr.tailSince(errStart, stderrTailSize)
		}
	}()
	done := append(append(append(pr.done[:0], `{"done": "`...), rt.RunID...), "\"}"...)
	pr.done = done
	if _, werr := pr.stdin.Write(line); werr != nil {
		out.ended = true
		return out, p.crashed(pr, &out, "could not send the run")
	}
	n, reading := 0, true
	late := map[string]int{} // lines that name another run, by that run
	defer func() { reportLate(rt, late) }()
	for {
		select {
		case <-ctx.Done():
			out.ended = true
			return out, fmt.Errorf("%s: %w", p.op.spec.Argv[0], context.Cause(ctx))
		case l, ok := <-pr.lines:
			if !ok {
				out.ended = true
				return out, p.crashed(pr, &out, "exited while running the run")
			}
			n++
			d, isDone := parseDone(l.line, done, rt.RunID)
			if !isDone {
				// A capture line: counted against the run's limit, and
				// applied while within it.
				if reading && l.err == nil {
					reading = rec.CountCaptured(l.size, n)
				}
				switch {
				case !reading:
				case l.err != nil:
					// Skipped without being held: not counted.
					rec.Fail(fmt.Errorf("capture line %d: %v (max_capture_line); skipped", n, l.err))
				default:
					if other := rec.ApplyLine(n, l.line, pr.cwd, rt.RunID); other != "" {
						late[other]++
					}
				}
				continue
			}
			if *d.Done != rt.RunID {
				out.ended = true
				return out, fmt.Errorf("%s answered run %q while running %q", p.op.spec.Argv[0], *d.Done, rt.RunID)
			}
			pr.lastRun = rt.RunID
			if msg := p.collect(pr, rec, artName); msg != "" {
				out.ended = true // the process cannot be trusted with another run
				return out, errors.New("the run " + msg)
			}
			if d.Error != "" {
				return out, errors.New(d.Error)
			}
			return out, nil
		}
	}
}

// parseDone tells whether a channel line is the done line of a run.
func parseDone(l, done []byte, runID string) (doneLine, bool) {
	var d doneLine
	switch {
	case bytes.Equal(l, done):
		// The done line as metalab_persistent.py writes it.
		d.Done = &runID
		return d, true
	case !bytes.HasPrefix(bytes.TrimLeft(l, " \t"), []byte(`{"done"`)):
		return d, false
	}
	if err := json.Unmarshal(l, &d); err != nil || d.Done == nil {
		return d, false // a capture line that merely starts alike
	}
	return d, true
}

// rejectLate drops the channel lines that arrived since the last run's
// done line: none of them is this run's.
func (p *Persistent) rejectLate(pr *proc, rt *launcher.Runtime) {
	var late []chanLine
	for {
		select {
		case l, ok := <-pr.lines:
			if ok {
				late = append(late, l)
				continue
			}
		default:
		}
		break
	}
	if len(late) > 0 {
		reportLate(rt, map[string]int{pr.lastRun: len(late)})
	}
}

// reportLate warns, on the record of the run in progress and in the
// sweep's log, of the capture lines that earlier runs (by run ID) wrote
// after they had ended, which were rejected.
func reportLate(rt *launcher.Runtime, late map[string]int) {
	for run, n := range late {
		msg := fmt.Sprintf("rejected %d capture line(s) that run %s wrote after it had ended", n, run)
		rt.Recorder().Warn(msg)
		rt.Logger.Warn().Str(fieldLateRunID, run).Int(fieldLines, n).Msg(msg)
	}
}

// collect stores the run's artifacts and empties its scratch, and says
// what the run did to metalab's directories, if it tampered with them.
func (p *Persistent) collect(pr *proc, rec *capture.Recorder, artName string) string {
	var tampered []string
	if msg := pr.sl.check(); msg != "" {
		tampered = append(tampered, msg)
	} else {
		tampered = append(tampered, checkScratch(pr)...)
		if msg := collectRunArtifacts(pr.sl, rec, artName); msg != "" {
			tampered = append(tampered, msg)
		}
	}
	if len(tampered) > 0 {
		return strings.Join(tampered, "; it ")
	}
	return ""
}

// checkScratch checks that scratch/ is the directory metalab made, and
// empties it. A message fails the run, and the slot's process is replaced.
func checkScratch(pr *proc) []string {
	want, err1 := pr.scratch.Stat(".")
	got, err2 := pr.sl.root.Lstat("scratch")
	if err1 != nil || err2 != nil || !os.SameFile(want, got) {
		what := "removed its scratch directory"
		if err2 == nil {
			what = "replaced its scratch directory by " + describeIn(pr.sl.root, "scratch", got) + "; metalab did not follow it"
			pr.sl.root.RemoveAll("scratch")
		}
		return []string{what}
	}
	names, err := readNames(pr.scratch, ".")
	if err != nil {
		return []string{fmt.Sprintf("made its scratch directory unreadable: %v", err)}
	}
	for _, n := range names {
		if pr.scratch.RemoveAll(n) != nil {
			chmodTree(pr.scratch, n)
			pr.scratch.RemoveAll(n)
		}
	}
	return nil
}

// collectRunArtifacts stores what the run left in its artifact directory
// artName of sl, if it made one, and removes it.
func collectRunArtifacts(sl *slot, rec *capture.Recorder, artName string) string {
	info, err := sl.root.Lstat(artName)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return ""
	case err != nil:
		return fmt.Sprintf("made its artifact directory unreadable: %v", err)
	case !info.IsDir():
		msg := fmt.Sprintf("made its artifact directory %s; metalab did not follow it", describeIn(sl.root, artName, info))
		sl.root.RemoveAll(artName)
		return msg
	}
	art, err := sl.root.OpenRoot(artName)
	if err == nil {
		if got, err := art.Stat("."); err == nil && os.SameFile(got, info) {
			collectArtifacts(rec, art, "artifact_dir")
		}
		art.Close()
	}
	if sl.root.RemoveAll(artName) != nil {
		chmodTree(sl.root, artName)
		sl.root.RemoveAll(artName)
	}
	return ""
}

// crashed waits for an ended process and describes how it ended.
func (p *Persistent) crashed(pr *proc, out *runOutcome, what string) error {
	select {
	case <-pr.exited:
	case <-time.After(p.op.spec.Grace):
		syscall.Kill(-pr.cmd.Process.Pid, syscall.SIGKILL)
		<-pr.exited
	}
	msg := fmt.Sprintf("%s %s", p.op.spec.Argv[0], what)
	if st := pr.cmd.ProcessState; st != nil {
		ws, _ := st.Sys().(syscall.WaitStatus)
		switch {
		case ws.Signaled():
			out.signal = signalName(ws.Signal())
			msg += ": killed by signal " + out.signal
		case st.Exited():
			code := st.ExitCode()
			out.exitCode = &code
			msg += fmt.Sprintf(": exit status %d", code)
		}
	}
	if l := lastLine(pr.stderr.tailSince(0, stderrTailSize)); l != "" {
		msg += ": " + l
	}
	return errors.New(msg)
}

// stop ends an idle process: end of file on stdin, then SIGTERM to its
// group after wait, then SIGKILL after grace.
func (pr *proc) stop(wait, grace time.Duration) {
	pr.stdin.Close()
	select {
	case <-pr.exited:
	case <-time.After(wait):
		pr.kill(grace)
		return
	}
	pr.cleanup()
}

// kill ends a process that is not idle (it holds a timed-out or cancelled
// run, or broke the protocol): SIGTERM to its group, SIGKILL after grace.
func (pr *proc) kill(grace time.Duration) {
	pr.stdin.Close()
	syscall.Kill(-pr.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-pr.exited:
	case <-time.After(grace):
	}
	pr.cleanup()
}

func (pr *proc) cleanup() {
	// Nothing of the process may outlive it, such as a child of its own.
	<-pr.exited
	killLeftovers(pr.cmd.Process.Pid, pr.tag)
	for range pr.lines {
	}
	pr.closeFiles()
}

// closeFiles closes the logs, removing those left empty, and removes the
// scratch directory.
func (pr *proc) closeFiles() {
	for _, l := range []*logFile{pr.stdout, pr.stderr} {
		if l != nil {
			closeLog(pr.st, l)
		}
	}
	if pr.scratch != nil {
		pr.scratch.Close()
	}
	pr.sl.close()
}

// Close ends the slots' processes; the launcher calls it when the sweep has
// ended. A later Execute starts new ones.
func (p *Persistent) Close() error {
	p.mu.Lock()
	procs := p.procs
	p.procs = map[string]*proc{}
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, pr := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A process that idles at its stdin exits at once on EOF.
			pr.stop(time.Second, p.op.spec.Grace)
		}()
	}
	wg.Wait()
	return nil
}

// size is the log's current size.
func (l *logFile) size() int64 {
	fi, err := l.f.Stat()
	if err != nil {
		return 0
	}
	return fi.Size()
}

// since is the byte range written from start on: one run's part of a
// persistent process's log.
func (l *logFile) since(start int64) *store.LogRef {
	return &store.LogRef{File: l.rel, Offset: start, Length: l.size() - start}
}

// tailSince is tail over what was written from start on.
func (l *logFile) tailSince(start, n int64) string {
	c := *l
	c.start = start
	return c.tail(n)
}

// LimitGrace is [Op.LimitGrace] for the program's process.
func (p *Persistent) LimitGrace(d time.Duration) { p.op.LimitGrace(d) }
