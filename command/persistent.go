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

// capabilitiesEnv offers a persistent process what metalab can do, as a
// comma-separated list: "pipeline".
const capabilitiesEnv = "METALAB_CAPABILITIES"

// pipelineDepth is how many runs a slot's process may hold at once when it
// pipelines: the one it is running, and those waiting in its stdin. With
// two, the process is woken for every run all the same (metalab's part of
// a run is the slower); with more, the runs that wait while it runs one
// reach it in one write, and it runs them without sleeping in between.
const pipelineDepth = 8

// Persistent runs a program once per worker slot and sends it runs over its
// stdin, one JSON line each, so that an interpreter's start-up is paid once
// per slot rather than once per run. It implements [launcher.Operation].
//
// # Protocol
//
// The process gets the environment of a per-run command without the run's
// own variables: METALAB_STORE, METALAB_CONTEXT and METALAB_CONTEXT_<NAME>,
// METALAB_MODE=persistent, METALAB_CHANNEL_FD=3 and (see Pipelining)
// METALAB_CAPABILITIES=pipeline. For each run it reads
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
// # Pipelining
//
// A run is a round trip between two processes, and on a small machine the
// two wake-ups it costs (the process waking for the request, metalab for
// the done line) cost more than either side's work. A process may
// therefore announce, when $METALAB_CAPABILITIES lists "pipeline", as the
// first line it writes on the channel, that it pipelines:
//
//	{"capabilities": ["pipeline"]}
//
// From then on metalab sends it up to [pipelineDepth] runs at once: the
// runs that wait while it runs one are written together as it starts on
// the last it has, so it finds its next runs waiting when it writes a done
// line (see dueLocked; after a run longer than 50 ms, one at a time). The
// process still runs them one at a time, in order: a run begins when the
// run before it is done (its timeout and start time count from then, see
// [launcher.Pipeliner]), and the channel lines between two done lines are
// the later run's. Consecutive runs then get different scratch directories
// (scratch, scratch-1, ..., one for each run the process may hold, in
// turn), each emptied after its run, since the next run may already be
// writing to its own. (Not a new directory for each run: creating and
// removing one cost more than the rest of a run.) Done lines may say how
// large the process's stdout and stderr were when the run ended,
//
//	{"done": ID, "stdout": BYTES, "stderr": BYTES}
//
// so that each run's part of the logs ends where it did, not where metalab
// happened to look. A process that does not announce it (every program
// written before) gets one request at a time, as before. With cwd =
// "scratch" nothing is pipelined: the process's working directory is the
// slot's scratch directory, emptied after each run, which two runs cannot
// share.
//
// # Late lines, crashes, timeouts
//
// A capture line that arrives after a run's done line (from a thread or
// child that outlived the run) is not credited to any run: if it names
// its run ("run": ID), it is rejected, with a warning in the sweep's log
// naming that run and on the record of the run in progress; an untagged
// line that arrives while no run is in flight is rejected likewise. An
// untagged line that arrives while a later run is in flight cannot be told
// apart and counts for that run.
//
// A process that exits or closes the channel while it holds a run fails
// that run, with its stderr tail; a run that times out or is cancelled
// kills the process. Runs the process held but had not begun are sent
// again to the slot's next process: they have no record yet, and their
// results cannot have been credited to anyone. Either way the slot's next
// run starts a new process. A process that reads end of file on stdin
// should exit: the sweep is over.
type Persistent struct {
	op    *Op
	depth int
	// shortRun is the longest run after which a process that pipelines
	// is sent more than one request ahead (see dueLocked): beyond it, what
	// a round trip costs is lost in the run's own time. Tests raise it.
	shortRun time.Duration

	mu    sync.Mutex
	procs map[string]*proc // by writer and slot
}

var (
	_ launcher.Operation = (*Persistent)(nil)
	_ launcher.Pipeliner = (*Persistent)(nil)
	_ io.Closer          = (*Persistent)(nil)
)

// NewPersistent checks spec as [New] does and returns its persistent
// operation.
func NewPersistent(spec Spec) (*Persistent, error) {
	op, err := New(spec)
	if err != nil {
		return nil, err
	}
	return &Persistent{op: op, depth: pipelineDepth, shortRun: defaultShortRun, procs: map[string]*proc{}}, nil
}

// Path is the program every slot executes.
func (p *Persistent) Path() string { return p.op.path }

// Pipeline implements [launcher.Pipeliner]: how many runs a slot's process
// may hold, once it has announced that it pipelines.
func (p *Persistent) Pipeline() int {
	if p.op.spec.ScratchCwd {
		return 1
	}
	return p.depth
}

// proc is one slot's process.
type proc struct {
	key    string // in Persistent.procs
	cmd    *exec.Cmd
	tag    string // $METALAB_RUN_TAG of the process and its descendants
	stdin  io.WriteCloser
	exited chan struct{}
	read   chan struct{} // the channel has ended and every run in it is settled
	sl     *slot         // the scratch directory: scratch/ and each run's files
	// scratch/ in it, and when it pipelines scratch-1/ ...: runs use them
	// in turn (a nil one is made when first needed).
	scratch    []*os.Root
	scratchDir []*os.File // each open, to list it after each run
	sent       int        // requests sent: the next one's turn
	cwd        string     // the process's working directory
	stdout     *logFile
	stderr     *logFile
	st         *store.Store // where the logs are
	waitErr    error
	tokens     chan struct{} // one for each request it may be sent now
	gone       chan struct{} // closed when it takes no more requests
	retired    sync.Once

	wmu   sync.Mutex // held while requests are written: they go in queue order
	batch []byte     // requests written at once, reused

	mu        sync.Mutex
	queue     []*flight // sent, not settled; queue[0] is the one it runs
	nw        int       // of them written to its stdin (the first nw)
	short     bool      // its last run was short (see dueLocked)
	ended     bool      // gone is closed
	pipelined bool      // it announced that it pipelines
	heard     bool      // it has written a channel line
	begun     int       // runs begun on it
	done      []byte    // the start of queue[0]'s done line, reused
	lastRun   string    // the run whose done line came last
	late      int       // lines that came while it held no run
	// The log sizes last seen by fstat: a size a done line reports up to
	// these needs no fstat to be believed.
	outKnown, errKnown int64
}

// flight is a run sent to a process, until it is settled.
type flight struct {
	rt      *launcher.Runtime
	req     []byte // its request line
	began   time.Time
	artName string // its artifact directory in the slot's directory
	scr     int    // its scratch directory: index in proc.scratch
	// begun: the process is on it (it is queue[0]), and Runtime.Begin was
	// called. abandoned: its Execute has returned, and nothing touches
	// its recorder any more.
	begun, abandoned   bool
	n                  int  // channel lines so far
	reading            bool // within its capture limit
	late               map[string]int
	outStart, errStart int64

	out     runOutcome
	err     error
	retry   bool          // it never began: send it again elsewhere
	settled chan struct{} // closed when out, err and retry are set
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

// runOutcome is outcome plus whether the process is gone.
type runOutcome struct {
	outcome
	ended bool
}

// Execute sends rt's run to the slot's process, starting one if need be,
// and waits until its done line has been read. It implements
// [launcher.Operation].
func (p *Persistent) Execute(ctx context.Context, rt *launcher.Runtime) error {
	writer := rt.Writer
	if writer == "" {
		writer = "run"
	}
	key := rt.Writer + "\x00" + strconv.Itoa(rt.Slot)
	for {
		pr, err := p.slotProc(key, rt, store.SlotLogName(writer, rt.Slot))
		if err != nil {
			return failRun(rt, err)
		}
		select {
		case <-pr.tokens:
		case <-pr.gone:
			continue // the run ahead ended the process
		case <-ctx.Done():
			return fmt.Errorf("%s: %w", p.op.spec.Argv[0], context.Cause(ctx)) // never begun
		}
		f := &flight{rt: rt, reading: true, settled: make(chan struct{})}
		if err := p.send(pr, f); err != nil {
			return err
		}
		if err := p.wait(ctx, pr, f); !f.retry {
			rt.Annotate(f.out.annotate)
			if f.out.ended {
				// The process cannot be trusted with another run.
				p.retire(pr, p.op.spec.Grace)
			}
			return err
		}
	}
}

// failRun fails a run that could not be sent: it begins, so that it is
// recorded, and fails.
func failRun(rt *launcher.Runtime, err error) error {
	if berr := rt.Begin(); berr != nil {
		return berr
	}
	return err
}

// slotProc returns the slot's process, starting one if there is none.
func (p *Persistent) slotProc(key string, rt *launcher.Runtime, logName string) (*proc, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pr := p.procs[key]; pr != nil {
		return pr, nil
	}
	pr, err := p.start(rt, logName)
	if err != nil {
		return nil, err
	}
	pr.key = key
	p.procs[key] = pr
	return pr, nil
}

// forget removes pr from the slots' processes, so that the slot's next run
// starts a new one.
func (p *Persistent) forget(pr *proc) {
	p.mu.Lock()
	if p.procs[pr.key] == pr {
		delete(p.procs, pr.key)
	}
	p.mu.Unlock()
}

func (p *Persistent) start(rt *launcher.Runtime, logName string) (*proc, error) {
	sl, err := newScratch()
	if err != nil {
		return nil, err
	}
	pr := &proc{sl: sl, st: rt.Store(), tag: newRunTag(), exited: make(chan struct{}), read: make(chan struct{}),
		tokens: make(chan struct{}, p.depth), gone: make(chan struct{}),
		scratch: make([]*os.Root, p.depth), scratchDir: make([]*os.File, p.depth)}
	pr.tokens <- struct{}{}
	fail := func(err error) (*proc, error) {
		pr.closeFiles()
		return nil, err
	}
	if pr.scratch[0], pr.scratchDir[0], err = makeScratch(sl, 0); err != nil {
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
	pr.outKnown, pr.errKnown = pr.stdout.start, pr.stderr.start
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
	go p.readChannel(pr, chR, rt.Recorder().Limits().MaxLine)
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
	out = append(out, "METALAB_MODE=persistent", "METALAB_CHANNEL_FD="+strconv.Itoa(channelFD))
	if p.Pipeline() > 1 {
		// What metalab can do, so that a program announces pipelining only
		// to a metalab that understands it (an older one would take the
		// announcement for a capture line, and fail the first run).
		out = append(out, capabilitiesEnv+"=pipeline")
	}
	return out, nil
}

// send queues f on pr and writes its request, holding one of pr's tokens.
// An error is the store's; every other failure settles f.
func (p *Persistent) send(pr *proc, f *flight) error {
	rt := f.rt
	giveBack := func() { pr.tokens <- struct{}{} }
	paramsJSON, err := rt.ParamsJSON()
	if err != nil {
		giveBack()
		return p.settleAlone(f, fmt.Errorf("params: %w", err))
	}
	pr.wmu.Lock()
	defer pr.wmu.Unlock()
	pr.mu.Lock()
	if pr.ended {
		first := pr.begun == 0
		pr.mu.Unlock()
		if !first {
			f.retry = true // it ended because of a run ahead of this one
			close(f.settled)
			return nil
		}
		// A process that ended before its first run: the run fails, or a
		// program that dies at start would be started forever.
		if err := rt.Begin(); err != nil {
			return err
		}
		f.out.ended = true
		f.err = p.crashed(pr, &f.out, "exited before its first run")
		close(f.settled)
		return nil
	}
	f.artName = "artifacts-" + pr.sl.nextRun()
	if pr.pipelined {
		// The run before may still be writing to its own: runs take the
		// directories in turn. Run k+depth is sent only once run k is
		// settled, and its directory emptied.
		f.scr = pr.sent % len(pr.scratch)
		if pr.scratch[f.scr] == nil {
			var err error
			if pr.scratch[f.scr], pr.scratchDir[f.scr], err = makeScratch(pr.sl, f.scr); err != nil {
				pr.mu.Unlock()
				giveBack()
				return p.settleAlone(f, fmt.Errorf("scratch directory: %w", err))
			}
		}
	}
	pr.sent++
	scratch := pr.sl.path + "/" + scratchName(f.scr)
	f.req, err = appendRequest(nil, request{
		RunID: rt.RunID, Params: paramsJSON, Seed: rt.Seeds.Seed(), NumpySeed: rt.Seeds.NumpySeed(""),
		Replicate: rt.Seeds.Replicate, SeedBase: rt.Seeds.Base,
		ArtifactDir: pr.sl.path + "/" + f.artName, Scratch: scratch,
	})
	if err != nil {
		pr.mu.Unlock()
		giveBack()
		return p.settleAlone(f, err)
	}
	pr.queue = append(pr.queue, f)
	if len(pr.queue) == 1 {
		p.beginHead(pr)
	}
	batch := p.dueLocked(pr)
	pr.mu.Unlock()
	p.write(pr, batch)
	return nil
}

// dueLocked takes the requests that are to be written now off the queue's
// unwritten end, and returns them as one write; pr.mu is held.
//
// The process is given a request when it has nothing else to do. A process
// that pipelines, and whose last run was short, is also given, as soon as
// it starts on the last request it has, every request that has waited
// meanwhile: it finds them all in one read, and does not sleep between
// them. A long run does not wait to be sent: it begins when the one before
// it ends, and its timeout only then, so a timeout cannot end runs that
// have not begun; but a process that runs long runs gets one at a time,
// so that a sweep that stops starting runs (near its SLURM time limit)
// does not leave it runs to start.
func (p *Persistent) dueLocked(pr *proc) []byte {
	n := 0
	switch {
	case pr.nw == len(pr.queue):
	case pr.nw == 0:
		n = 1
		if pr.pipelined && pr.short {
			n = len(pr.queue)
		}
	case pr.nw == 1 && pr.pipelined && pr.short:
		n = len(pr.queue) - 1
	}
	if n == 0 {
		return nil
	}
	if n == 1 {
		pr.nw++
		return pr.queue[pr.nw-1].req
	}
	b := pr.batch[:0]
	for _, f := range pr.queue[pr.nw : pr.nw+n] {
		b = append(b, f.req...)
	}
	pr.nw += n
	pr.batch = b
	return b
}

// write writes requests to the process's stdin; pr.wmu is held, so that
// requests are written in the order dueLocked took them.
func (p *Persistent) write(pr *proc, b []byte) {
	if len(b) == 0 {
		return
	}
	if _, err := pr.stdin.Write(b); err != nil {
		// It closed its stdin or died: when its channel ends, a run that
		// had begun fails and the others are sent again. One that lives on
		// without its stdin is of no use.
		syscall.Kill(-pr.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// flushLocked writes what is due after the queue moved on; pr.mu is held,
// by the channel reader. A write that cannot block (it fits in a pipe's
// smallest capacity with what the process may not have read yet) is made
// at once; any other goes to a goroutine of its own, since the process
// may be blocked writing to the channel, which this goroutine reads.
func (p *Persistent) flushLocked(pr *proc) {
	if pr.nw == len(pr.queue) {
		return
	}
	unread := 0
	if pr.nw == 1 {
		unread = len(pr.queue[0].req)
	}
	pending := 0
	for _, f := range pr.queue[pr.nw:] {
		pending += len(f.req)
	}
	if unread+pending <= pipeMinCapacity && pr.wmu.TryLock() {
		p.write(pr, p.dueLocked(pr))
		pr.wmu.Unlock()
		return
	}
	go func() {
		pr.wmu.Lock()
		defer pr.wmu.Unlock()
		for {
			pr.mu.Lock()
			b := p.dueLocked(pr)
			pr.mu.Unlock()
			if len(b) == 0 {
				return
			}
			p.write(pr, b)
		}
	}()
}

// pipeMinCapacity is the least a pipe holds (one page).
const pipeMinCapacity = 4096

// settleAlone fails f, which was not queued.
func (p *Persistent) settleAlone(f *flight, err error) error {
	if berr := f.rt.Begin(); berr != nil {
		return berr
	}
	f.err = err
	close(f.settled)
	return nil
}

// wait waits until f is settled, or its context ends.
func (p *Persistent) wait(ctx context.Context, pr *proc, f *flight) error {
	select {
	case <-f.settled:
		return f.err
	case <-ctx.Done():
	}
	pr.mu.Lock()
	select {
	case <-f.settled:
		pr.mu.Unlock()
		return f.err
	default:
	}
	f.abandoned = true
	if !f.begun {
		// Cancelled while another run held the process: this one never
		// began. Unless it was written, it leaves the queue; if it was,
		// the process runs it, and what it sends is dropped.
		for i := pr.nw; i < len(pr.queue); i++ {
			if pr.queue[i] == f {
				pr.queue = append(pr.queue[:i], pr.queue[i+1:]...)
				pr.tokens <- struct{}{}
				break
			}
		}
		pr.mu.Unlock()
		return fmt.Errorf("%s: %w", p.op.spec.Argv[0], context.Cause(ctx))
	}
	// It timed out or was cancelled while the process ran it: the process
	// goes, and the runs behind it are sent again.
	p.endLocked(pr)
	f.out.ended = true
	f.out.stdout = pr.stdout.since(f.outStart)
	f.out.stderr = pr.stderr.since(f.errStart)
	f.out.stderrTail = pr.stderr.tailSince(f.errStart, stderrTailSize)
	reportLate(f.rt, f.late)
	pr.mu.Unlock()
	return fmt.Errorf("%s: %w", p.op.spec.Argv[0], context.Cause(ctx))
}

// endLocked stops pr taking requests, and retires it; pr.mu is held.
func (p *Persistent) endLocked(pr *proc) {
	if !pr.ended {
		pr.ended = true
		p.forget(pr)
		close(pr.gone)
		// Whoever ended it may wait for this too (see retire); a process
		// that ended with no run to fail has nobody else to retire it.
		go p.retire(pr, p.op.spec.Grace)
	}
}

// beginHead begins queue[0], if it is still wanted; pr.mu is held. A run
// that may not begin (the sweep starts no more runs, or cannot record
// them) is settled with that error: taken off the queue if it was not
// written, and the next one tried; if it was, the process runs it all the
// same, and what it sends is dropped.
func (p *Persistent) beginHead(pr *proc) {
	for len(pr.queue) > 0 {
		f := pr.queue[0]
		pr.done = append(append(append(pr.done[:0], `{"done": "`...), f.rt.RunID...), '"')
		if f.abandoned || pr.ended {
			return
		}
		if err := f.rt.Begin(); err != nil {
			f.abandoned = true
			f.err = err
			close(f.settled)
			if pr.nw > 0 {
				return
			}
			pr.popHead()
			pr.tokens <- struct{}{}
			continue
		}
		f.begun = true
		f.began = time.Now()
		pr.begun++
		f.outStart, f.errStart = pr.stdout.start, pr.stderr.start
		if pr.late > 0 {
			reportLate(f.rt, map[string]int{pr.lastRun: pr.late})
			pr.late = 0
		}
		return
	}
}

// readChannel reads pr's channel until it ends, and settles each run as
// its done line comes; then it settles the runs still in flight.
func (p *Persistent) readChannel(pr *proc, chR *os.File, maxLine int) {
	lr := capture.NewLineReader(chR, maxLine)
	for {
		line, n, err := lr.Next()
		if err != nil && !errors.Is(err, capture.ErrLineTooLong) {
			break
		}
		pr.mu.Lock()
		p.takeLine(pr, chanLine{line: line, size: n, err: err})
		pr.mu.Unlock()
	}
	chR.Close()
	pr.mu.Lock()
	p.endLocked(pr)
	var head *flight
	if len(pr.queue) > 0 && pr.queue[0].begun && !pr.queue[0].abandoned {
		head = pr.queue[0]
	}
	pr.mu.Unlock()
	var out runOutcome
	var err error
	if head != nil {
		// Outside the lock: it waits for the process to exit.
		out.ended = true
		err = p.crashed(pr, &out, "exited while running the run")
	}
	pr.mu.Lock()
	for _, f := range pr.queue {
		switch {
		case f.abandoned:
			continue
		case f == head:
			f.out = out
			f.out.stdout = pr.stdout.since(f.outStart)
			f.out.stderr = pr.stderr.since(f.errStart)
			f.out.stderrTail = pr.stderr.tailSince(f.errStart, stderrTailSize)
			f.err = err
			reportLate(f.rt, f.late)
		default:
			f.retry = true
		}
		close(f.settled)
	}
	pr.queue = nil
	pr.mu.Unlock()
	close(pr.read)
}

// isCapabilities tells whether l is the line that announces what the
// process can do.
func isCapabilities(l []byte) (pipeline, ok bool) {
	if !bytes.HasPrefix(bytes.TrimLeft(l, " \t"), []byte(`{"capabilities"`)) {
		return false, false
	}
	var c struct {
		Capabilities []string `json:"capabilities"`
	}
	if json.Unmarshal(l, &c) != nil {
		return false, false
	}
	for _, s := range c.Capabilities {
		if s == "pipeline" {
			pipeline = true
		}
	}
	return pipeline, true
}

// takeLine applies one channel line; pr.mu is held.
func (p *Persistent) takeLine(pr *proc, l chanLine) {
	first := !pr.heard
	pr.heard = true
	if first && l.err == nil {
		if pipeline, ok := isCapabilities(l.line); ok {
			if pipeline && p.Pipeline() > 1 && !pr.ended {
				pr.pipelined = true
				for range p.depth - 1 {
					pr.tokens <- struct{}{}
				}
			}
			return
		}
	}
	if pr.ended {
		return // the process is going: nothing it says counts
	}
	if len(pr.queue) == 0 {
		pr.late++ // rejected, and reported on the next run
		return
	}
	f := pr.queue[0]
	f.n++
	d, isDone := parseDone(l.line, pr.done, f.rt.RunID)
	if !isDone {
		if f.abandoned {
			return
		}
		// A capture line: counted against the run's limit, and applied
		// while within it.
		rec := f.rt.Recorder()
		if f.reading && l.err == nil {
			f.reading = rec.CountCaptured(l.size, f.n)
		}
		switch {
		case !f.reading:
		case l.err != nil:
			// Skipped without being held: not counted.
			rec.Fail(fmt.Errorf("capture line %d: %v (max_capture_line); skipped", f.n, l.err))
		default:
			if other := rec.ApplyLine(f.n, l.line, pr.cwd, f.rt.RunID); other != "" {
				if f.late == nil {
					f.late = map[string]int{}
				}
				f.late[other]++
			}
		}
		return
	}
	if *d.Done != f.rt.RunID {
		if !f.abandoned {
			p.settleHead(pr, f, d, fmt.Errorf("%s answered run %q while running %q", p.op.spec.Argv[0], *d.Done, f.rt.RunID), true)
		}
		p.endLocked(pr)
		return
	}
	pr.lastRun = f.rt.RunID
	if f.abandoned {
		removeRunFiles(pr, f)
		pr.popHead()
	} else {
		var err error
		ended := false
		if msg := p.collect(pr, f); msg != "" {
			err, ended = errors.New("the run "+msg), true
		} else if d.Error != "" {
			err = errors.New(d.Error)
		}
		pr.short = time.Since(f.began) < p.shortRun
		p.settleHead(pr, f, d, err, ended)
		if ended {
			p.endLocked(pr)
			return
		}
	}
	pr.tokens <- struct{}{}
	if len(pr.queue) > 0 {
		p.beginHead(pr)
		p.flushLocked(pr)
	}
}

// defaultShortRun is Persistent.shortRun.
const defaultShortRun = 50 * time.Millisecond

// popHead takes queue[0] off the queue; pr.mu is held.
func (pr *proc) popHead() {
	pr.queue = pr.queue[1:]
	if pr.nw > 0 {
		pr.nw--
	}
}

// settleHead settles queue[0], f, which the done line d ended, and takes
// it off the queue; pr.mu is held.
func (p *Persistent) settleHead(pr *proc, f *flight, d doneLine, err error, ended bool) {
	pr.popHead()
	outEnd := logEnd(pr.stdout, d.Stdout, &pr.outKnown)
	errEnd := logEnd(pr.stderr, d.Stderr, &pr.errKnown)
	f.out.stdout = &store.LogRef{File: pr.stdout.rel, Offset: pr.stdout.start, Length: outEnd - pr.stdout.start}
	f.out.stderr = &store.LogRef{File: pr.stderr.rel, Offset: pr.stderr.start, Length: errEnd - pr.stderr.start}
	if ended || err != nil {
		f.out.stderrTail = pr.stderr.tailSince(pr.stderr.start, stderrTailSize)
	}
	// The next run's output starts where this one's ended: whatever the
	// process writes between runs goes to the next run.
	pr.stdout.start, pr.stderr.start = outEnd, errEnd
	f.out.ended = ended
	f.err = err
	reportLate(f.rt, f.late)
	close(f.settled)
}

// logEnd is where a run's part of l ends: the size the process reported
// in its done line when it is believable, else the log's size now.
func logEnd(l *logFile, reported *int64, known *int64) int64 {
	if reported != nil && *reported >= l.start && *reported <= *known {
		return *reported
	}
	size := l.size()
	if size < *known {
		size = *known // the log cannot shrink: fstat failed
	}
	*known = size
	if reported != nil && *reported >= l.start && *reported <= size {
		return *reported
	}
	return size
}

// doneLine is the channel line that ends a run.
type doneLine struct {
	Done   *string `json:"done"`
	Error  string  `json:"error"`
	Stdout *int64  `json:"stdout"`
	Stderr *int64  `json:"stderr"`
}

// parseDone tells whether a channel line is the done line of a run; start
// is the start of runID's, `{"done": "ID"`.
func parseDone(l, start []byte, runID string) (doneLine, bool) {
	var d doneLine
	if rest, ok := cutPrefix(l, start); ok {
		// The done lines as metalab_persistent.py writes them.
		if string(rest) == "}" {
			d.Done = &runID
			return d, true
		}
		if out, errSize, ok := parseSizes(rest); ok {
			d.Done, d.Stdout, d.Stderr = &runID, &out, &errSize
			return d, true
		}
	}
	if !bytes.HasPrefix(bytes.TrimLeft(l, " \t"), []byte(`{"done"`)) {
		return d, false
	}
	if err := json.Unmarshal(l, &d); err != nil || d.Done == nil {
		return doneLine{}, false // a capture line that merely starts alike
	}
	return d, true
}

func cutPrefix(b, prefix []byte) ([]byte, bool) { return bytes.CutPrefix(b, prefix) }

// parseSizes parses `, "stdout": N, "stderr": N}`.
func parseSizes(b []byte) (out, errSize int64, ok bool) {
	if b, ok = cutPrefix(b, []byte(`, "stdout": `)); !ok {
		return 0, 0, false
	}
	if out, b, ok = cutSize(b); !ok {
		return 0, 0, false
	}
	if b, ok = cutPrefix(b, []byte(`, "stderr": `)); !ok {
		return 0, 0, false
	}
	if errSize, b, ok = cutSize(b); !ok || string(b) != "}" {
		return 0, 0, false
	}
	return out, errSize, true
}

// cutSize cuts a decimal size of at most 18 digits off b.
func cutSize(b []byte) (int64, []byte, bool) {
	var n int64
	i := 0
	for ; i < len(b) && i < 19 && b[i] >= '0' && b[i] <= '9'; i++ {
		n = n*10 + int64(b[i]-'0')
	}
	if i == 0 || i == 19 || (i > 1 && b[0] == '0') {
		return 0, b, false
	}
	return n, b[i:], true
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

// collect stores the run's artifacts and empties or removes its scratch,
// and says what the run did to metalab's directories, if it tampered with
// them.
func (p *Persistent) collect(pr *proc, f *flight) string {
	var tampered []string
	if msg := pr.sl.check(); msg != "" {
		tampered = append(tampered, msg)
	} else {
		tampered = append(tampered, checkScratch(pr, f.scr)...)
		if msg := collectRunArtifacts(pr.sl, f.rt.Recorder(), f.artName); msg != "" {
			tampered = append(tampered, msg)
		}
	}
	if len(tampered) > 0 {
		return strings.Join(tampered, "; it ")
	}
	return ""
}

// removeRunFiles removes what a run that nobody waits for any more left
// in the slot's directory; pr.mu is held.
func removeRunFiles(pr *proc, f *flight) {
	if pr.sl.root.RemoveAll(f.artName) != nil {
		chmodTree(pr.sl.root, f.artName)
		pr.sl.root.RemoveAll(f.artName)
	}
	checkScratch(pr, f.scr)
}

// scratchName is the name of the slot's scratch directory i.
func scratchName(i int) string {
	if i == 0 {
		return "scratch"
	}
	return "scratch-" + strconv.Itoa(i)
}

// makeScratch makes the slot's scratch directory i and opens it, as a
// root and as a directory to list.
func makeScratch(sl *slot, i int) (*os.Root, *os.File, error) {
	if err := sl.root.Mkdir(scratchName(i), safefs.DirCreate); err != nil {
		return nil, nil, err
	}
	root, err := sl.root.OpenRoot(scratchName(i))
	if err != nil {
		return nil, nil, err
	}
	dir, err := root.Open(".")
	if err != nil {
		root.Close()
		return nil, nil, err
	}
	return root, dir, nil
}

// checkScratch checks that the slot's scratch directory i is the directory
// metalab made, and empties it. A message fails the run, and the slot's
// process is replaced.
func checkScratch(pr *proc, i int) []string {
	name, scratch, dir := scratchName(i), pr.scratch[i], pr.scratchDir[i]
	want, err1 := dir.Stat()
	got, err2 := pr.sl.root.Lstat(name)
	if err1 != nil || err2 != nil || !os.SameFile(want, got) {
		what := "removed its scratch directory"
		if err2 == nil {
			what = "replaced its scratch directory by " + describeIn(pr.sl.root, name, got) + "; metalab did not follow it"
			pr.sl.root.RemoveAll(name)
		}
		return []string{what}
	}
	// Listed through the directory metalab keeps open: an open, a stat
	// and a close less a run than opening it anew.
	_, err := dir.Seek(0, io.SeekStart)
	var names []string
	if err == nil {
		names, err = dir.Readdirnames(-1)
	}
	if err != nil {
		return []string{fmt.Sprintf("made its scratch directory unreadable: %v", err)}
	}
	for _, n := range names {
		if scratch.RemoveAll(n) != nil {
			scratch.Chmod(".", 0o700)
			chmodTree(scratch, n)
			scratch.RemoveAll(n)
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

// retire ends pr and waits until it is gone: end of file on stdin, then,
// if it is still there after wait, SIGTERM to its group, and SIGKILL after
// grace. Its leftovers are killed, every run it held is settled, and its
// files are closed. A second call waits for the first.
func (p *Persistent) retire(pr *proc, grace time.Duration) { p.retireAfter(pr, 0, grace) }

func (p *Persistent) retireAfter(pr *proc, wait, grace time.Duration) {
	pr.retired.Do(func() {
		pr.mu.Lock()
		p.endLocked(pr)
		pr.mu.Unlock()
		pr.stdin.Close()
		pid := pr.cmd.Process.Pid
		if !waitFor(pr.exited, wait) {
			syscall.Kill(-pid, syscall.SIGTERM)
			if !waitFor(pr.exited, grace) {
				syscall.Kill(-pid, syscall.SIGKILL)
			}
		}
		// Nothing of the process may outlive it, such as a child of its own.
		<-pr.exited
		killLeftovers(pid, pr.tag)
		<-pr.read
		pr.closeFiles()
	})
}

// waitFor reports whether ch is closed within d.
func waitFor(ch <-chan struct{}, d time.Duration) bool {
	select {
	case <-ch:
		return true
	default:
	}
	if d <= 0 {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
		return false
	}
}

// closeFiles closes the logs, removing those left empty, and removes the
// scratch directory.
func (pr *proc) closeFiles() {
	for _, l := range []*logFile{pr.stdout, pr.stderr} {
		if l != nil {
			closeLog(pr.st, l)
		}
	}
	for i, r := range pr.scratch {
		if r != nil {
			pr.scratchDir[i].Close()
			r.Close()
		}
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
			p.retireAfter(pr, time.Second, p.op.spec.Grace)
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
