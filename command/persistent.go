package command

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

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
// Files the run leaves in artifact_dir (which it creates if it wants one)
// become its artifacts; scratch is emptied after each run. Its stdout and
// stderr go to the slot's logs, and each run's record points at its part.
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
	stdin   io.WriteCloser
	lines   chan []byte // from the channel; closed when it ends
	exited  chan struct{}
	dir     string // the slot's directory: scratch/ and artifacts/
	stdout  *logFile
	stderr  *logFile
	waitErr error
	line    []byte // the request being sent, reused
	done    []byte // the done line expected, reused
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
		pr, err = p.start(rt, filepath.Join("logs", fmt.Sprintf("%s-s%d", writer, rt.Slot)))
		if err != nil {
			return err
		}
		p.mu.Lock()
		p.procs[key] = pr
		p.mu.Unlock()
	}
	out, err := p.send(ctx, pr, rt)
	rt.Annotate(out.annotate)
	if err != nil && out.ended {
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

func (p *Persistent) start(rt *launcher.Runtime, logBase string) (*proc, error) {
	dir, err := os.MkdirTemp("", "metalab-persistent-")
	if err != nil {
		return nil, err
	}
	if err := os.Mkdir(filepath.Join(dir, "scratch"), 0o755); err != nil {
		return nil, err
	}
	env, err := p.environ(rt)
	if err != nil {
		return nil, err
	}
	pr := &proc{dir: dir, lines: make(chan []byte, 64), exited: make(chan struct{})}
	if pr.stdout, err = openLog(rt.StoreDir(), logBase+".out"); err != nil {
		return nil, err
	}
	if pr.stderr, err = openLog(rt.StoreDir(), logBase+".err"); err != nil {
		pr.stdout.close()
		return nil, err
	}
	chR, chW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(p.op.path, p.op.spec.Argv[1:]...)
	cmd.Args[0] = p.op.spec.Argv[0]
	cmd.Dir = p.op.dir
	cmd.Env = env
	cmd.Stdout = pr.stdout.f
	cmd.Stderr = pr.stderr.f
	cmd.ExtraFiles = []*os.File{chW} // fd 3
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		chR.Close()
		chW.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		chR.Close()
		chW.Close()
		return nil, fmt.Errorf("start %s: %w", p.op.spec.Argv[0], err)
	}
	chW.Close()
	pr.cmd, pr.stdin = cmd, stdin
	go func() {
		br := bufio.NewReaderSize(chR, 64<<10)
		for {
			line, err := br.ReadBytes('\n')
			if len(line) > 0 && line[len(line)-1] == '\n' {
				pr.lines <- line
			}
			if err != nil {
				break
			}
		}
		chR.Close()
		close(pr.lines)
	}()
	go func() {
		pr.waitErr = cmd.Wait()
		close(pr.exited)
	}()
	return pr, nil
}

// environ is a per-run command's environment without the run's variables.
func (p *Persistent) environ(rt *launcher.Runtime) ([]string, error) {
	env, err := p.op.environ(runInput{context: rt.Context, storeDir: rt.StoreDir()}, "", "")
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
	paramsJSON, err := params.Canonical(rt.Params)
	if err != nil {
		return out, fmt.Errorf("params: %w", err)
	}
	artDir := filepath.Join(pr.dir, "artifacts")
	scratch := filepath.Join(pr.dir, "scratch")
	line, err := appendRequest(pr.line[:0], request{
		RunID: rt.RunID, Params: paramsJSON, Seed: rt.Seeds.Seed(), NumpySeed: rt.Seeds.NumpySeed(""),
		Replicate: rt.Seeds.Replicate, SeedBase: rt.Seeds.Base, ArtifactDir: artDir, Scratch: scratch,
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
	done := append(append(append(pr.done[:0], `{"done": "`...), rt.RunID...), "\"}\n"...)
	pr.done = done
	if _, werr := pr.stdin.Write(line); werr != nil {
		out.ended = true
		return out, p.crashed(pr, &out, "could not send the run")
	}
	var captured bytes.Buffer
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
			var d doneLine
			switch {
			case bytes.Equal(l, done):
				// The done line as metalab_persistent.py writes it.
				d.Done = &rt.RunID
			case !bytes.HasPrefix(bytes.TrimLeft(l, " \t"), []byte(`{"done"`)):
				captured.Write(l)
				continue
			default:
				if err := json.Unmarshal(l, &d); err != nil || d.Done == nil {
					captured.Write(l) // a capture line that merely starts alike
					continue
				}
			}
			if *d.Done != rt.RunID {
				out.ended = true
				return out, fmt.Errorf("%s answered run %q while running %q", p.op.spec.Argv[0], *d.Done, rt.RunID)
			}
			rec := rt.Recorder()
			if captured.Len() > 0 {
				if err := rec.ApplyLines(&captured, p.op.dir); err != nil {
					rec.Fail(fmt.Errorf("reading the capture channel: %w", err))
				}
			}
			if _, err := os.Stat(artDir); err == nil {
				collectArtifacts(rec, artDir)
				os.RemoveAll(artDir)
			}
			emptyDir(scratch)
			if d.Error != "" {
				return out, errors.New(d.Error)
			}
			return out, nil
		}
	}
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
	syscall.Kill(-pr.cmd.Process.Pid, syscall.SIGKILL)
	<-pr.exited
	for range pr.lines {
	}
	pr.stdout.close()
	pr.stderr.close()
	os.RemoveAll(pr.dir)
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

// emptyDir removes what dir holds, keeping dir.
func emptyDir(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		os.RemoveAll(filepath.Join(dir, e.Name()))
	}
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
