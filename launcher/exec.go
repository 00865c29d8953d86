package launcher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/internal/host"
	"github.com/metalab-hpc/metalab/slurm"
	"github.com/metalab-hpc/metalab/store"
)

// executor runs a list of plan indexes on a pool of workers and appends a
// start and an end record per run to one store writer.
type executor struct {
	exp     *Experiment
	plan    *Plan
	st      *store.Store
	w       *store.Writer
	workers int
	depth   int // runs a worker slot may hold at once (see Pipeliner)
	// noBegin: the sweep starts no more runs; a pipelined run that has not
	// begun may not (Runtime.Begin).
	noBegin atomic.Bool
	log     zerolog.Logger
	now     func() time.Time
	opctx   Context
	h       *Handle
	env     slurm.TaskEnv
	// noStaleArtifacts: the store had no artifacts when the sweep started,
	// so a run's first attempt finds no earlier attempt's temporary files.
	noStaleArtifacts bool

	taskID string // x.env.ArrayTaskID as records keep it; "" outside an array
	// pid and host are metalab's, as each record keeps them: asked once,
	// not a system call a run (os.Getpid was 7% of an in-process run).
	pid  int
	host string
	// recheck: other writers may exist, so a run the store's indexes
	// have as completed when it is about to start is skipped.
	recheck bool
	// doneSince: of a sweep that runs completed runs again (see
	// Options.RerunChanged), only a record that ended since counts as
	// completed by another writer; the zero time counts all.
	doneSince time.Time

	errOnce sync.Once
	err     error // first store error; it stops the sweep
}

// runHost is where a run runs: the SLURM node's name inside a job, else
// the short host name.
func runHost(env slurm.TaskEnv) string {
	if env.Node != "" {
		return env.Node
	}
	return host.Short()
}

// emptyDir reports whether dir holds nothing (or does not exist).
func emptyDir(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return errors.Is(err, fs.ErrNotExist)
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	return err == io.EOF
}

// run executes todo until done, cancelled, or a store error. From stopAt on
// (if set), and once warned is closed (if set), it starts no new run; the
// runs in flight go on.
func (x *executor) run(ctx context.Context, todo *runList, stopAt time.Time, warned <-chan struct{}) error {
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	dispatchCtx := ctx
	if !stopAt.IsZero() {
		var cancel context.CancelFunc
		dispatchCtx, cancel = context.WithDeadline(ctx, stopAt)
		defer cancel()
	}
	if warned != nil {
		var cancel context.CancelFunc
		dispatchCtx, cancel = context.WithCancel(dispatchCtx)
		defer cancel()
		go func() {
			select {
			case <-warned:
				x.log.Warn().Msg("SLURM warns of the time limit: starting no more runs")
				cancel()
			case <-dispatchCtx.Done():
			}
		}()
	}
	defer context.AfterFunc(dispatchCtx, func() { x.noBegin.Store(true) })()
	jobs := make(chan int)
	var wg sync.WaitGroup
	// A Pipeliner's slot holds depth runs at once: depth goroutines that
	// share the slot's number.
	x.depth = pipeline(x.exp.Operation)
	for g := 0; g < x.workers*x.depth; g++ {
		slot := g / x.depth
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := x.runOne(ctx, slot, x.plan.At(i)); err != nil {
					x.errOnce.Do(func() { x.err = err })
					stop(err)
				}
			}
		}()
	}
	stopped := func() bool {
		if ctx.Err() == nil && !stopAt.IsZero() && !time.Now().Before(stopAt) {
			x.log.Warn().Time(fieldStopAt, stopAt).Msg("near the time limit: starting no more runs")
		}
		return false
	}
	todo.each(func(i int) bool {
		// Checked first: when a worker is free too, select would pick
		// either at random, and start a run past the stop time.
		if dispatchCtx.Err() != nil {
			return stopped()
		}
		select {
		case <-dispatchCtx.Done():
			return stopped()
		case jobs <- i:
			return true
		}
	})
	close(jobs)
	wg.Wait()
	// An operation that keeps processes between runs (a persistent
	// command) ends them with the sweep.
	if c, ok := x.exp.Operation.(io.Closer); ok {
		if err := c.Close(); err != nil {
			x.log.Warn().Str(fieldError, err.Error()).Msg("closing the operation")
		}
	}
	return x.err
}

// runOne executes one run with its retries. Only a store error is returned:
// the operation's own failures are recorded.
func (x *executor) runOne(ctx context.Context, slot int, spec RunSpec) error {
	if x.recheck {
		done, err := x.st.CompletedAmongSince([]string{spec.ID}, x.doneSince)
		if err == nil && done[spec.ID] {
			x.h.late.Add(1)
			x.log.Info().Str(fieldRunID, spec.ID).Msg("completed by another writer meanwhile; skipped")
			return nil
		}
	}
	if x.depth <= 1 {
		// A pipelined run counts as running once it begins.
		x.h.running.Add(1)
		defer x.h.running.Add(-1)
	}
	for attempt := 0; ; attempt++ {
		status, err := x.attempt(ctx, slot, spec, attempt)
		if err != nil || status == "" {
			return err // a store error, or a pipelined run that never began
		}
		if status == store.StatusFailed && attempt < x.exp.Retries && ctx.Err() == nil {
			x.log.Warn().Str(fieldRunID, spec.ID).Int(fieldAttempt, attempt+1).Msg("run failed; retrying")
			continue
		}
		switch status {
		case store.StatusCompleted:
			x.h.completed.Add(1)
		case store.StatusFailed:
			x.h.failed.Add(1)
		default:
			x.h.cancelled.Add(1)
		}
		return nil
	}
}

func (x *executor) attempt(ctx context.Context, slot int, spec RunSpec, attempt int) (store.Status, error) {
	rec := x.baseRecord(spec)
	rec.Status = store.StatusRunning
	runCtx, cancel, clock, err := x.startRun(ctx, rec)
	if err != nil {
		return "", err
	}
	// The run's context bounds copying its artifacts too: a run cannot
	// make metalab outlive its timeout by naming a huge file.
	recorder := capture.NewRecorder(capture.Config{
		Root:    x.st.Root(),
		Dir:     x.st.ArtifactRel(spec.ID),
		Context: runCtx,
		Limits:  x.exp.Limits,
		Fresh:   attempt == 0 && x.noStaleArtifacts,
	})
	defer recorder.Close()
	// A child logger per run costs an allocation and a copy of the
	// context; a disabled logger (a quiet sweep) needs none.
	logger := x.log
	if logger.GetLevel() != zerolog.Disabled {
		logger = x.log.With().Str(fieldRunID, spec.ID).Logger()
	}
	rt := &Runtime{
		RunID:      spec.ID,
		Params:     spec.Params,
		Seeds:      spec.Seeds,
		Capture:    recorder,
		Context:    x.opctx,
		Logger:     logger,
		Slot:       slot,
		Writer:     x.w.Name(),
		rec:        recorder,
		store:      x.st,
		paramsJSON: spec.ParamsJSON,
		clock:      clock,
	}
	defer rt.cleanup()

	err = safeExecute(runCtx, x.exp.Operation, rt)
	timedOut := errors.Is(context.Cause(runCtx), errTimeout)
	cancel()
	if clock != nil {
		begun, serr := clock.state()
		if begun {
			defer x.h.running.Add(-1)
		}
		if !begun || serr != nil {
			return "", serr
		}
	}

	// Append has encoded the start record: its struct becomes the end
	// record, one allocation less per run.
	end := rec
	end.Ended = x.now()
	end.Result = recorder.Result()
	switch {
	case err == nil && recorder.Err() == nil:
		end.Status = store.StatusCompleted
	case err == nil:
		end.Status = store.StatusFailed
		end.Error = recorder.Err().Error()
	case timedOut:
		end.Status = store.StatusFailed
		end.Error = fmt.Sprintf("timed out after %v: %v", x.exp.Timeout, err)
	case ctx.Err() != nil:
		end.Status = store.StatusCancelled
		end.Error = fmt.Sprintf("cancelled: %v", err)
	default:
		end.Status = store.StatusFailed
		end.Error = err.Error()
		var p *panicError
		if errors.As(err, &p) {
			end.Stack = p.stack
		}
	}
	for _, fn := range rt.annotate {
		fn(end)
	}
	if end.Status == store.StatusFailed {
		x.log.Warn().Str(fieldRunID, spec.ID).Int(fieldAttempt, attempt+1).Str(fieldError, firstLine(end.Error)).Msg("run failed")
	}
	if err := x.w.Append(end); err != nil {
		return "", err
	}
	return end.Status, nil
}

func (x *executor) baseRecord(spec RunSpec) *store.Record {
	return &store.Record{
		RunID:           spec.ID,
		Experiment:      x.exp.Name,
		Version:         x.exp.Version,
		Params:          spec.Params,
		SeedBase:        spec.Seeds.Base,
		Replicate:       spec.Replicate,
		Seed:            spec.Seeds.Seed(),
		Code:            x.plan.code.Fingerprint,
		Host:            x.host,
		PID:             x.pid,
		SlurmJobID:      x.env.JobID,
		SlurmArrayJobID: x.env.ArrayJobID,
		SlurmTaskID:     x.taskID,
		SlurmRestart:    x.env.RestartCount,
	}
}

var errTimeout = errors.New("run timed out")

// panicError is an operation's panic turned into a run failure.
type panicError struct {
	value any
	stack string
}

func (p *panicError) Error() string { return fmt.Sprintf("panic: %v", p.value) }

func safeExecute(ctx context.Context, op Operation, rt *Runtime) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &panicError{value: v, stack: string(debug.Stack())}
		}
	}()
	return op.Execute(ctx, rt)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
