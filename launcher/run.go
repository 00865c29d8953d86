package launcher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/slurm"
	"github.com/metalab-hpc/metalab/store"
)

// Options tune [Run]. The zero value runs into a fresh temporary store with
// one worker per CPU and a progress display on stderr.
type Options struct {
	// Store is the store directory; "" makes a fresh temporary one and
	// prints its path.
	Store string
	// Workers is the number of runs executed at once; 0 means one per CPU.
	Workers int
	// Logger receives the sweep's log; nil means a human-readable logger on
	// stderr.
	Logger *zerolog.Logger
	// Progress is where the progress display goes; nil means os.Stderr.
	Progress io.Writer
	// ProgressMode is one of "auto" (a bar on a terminal, otherwise a line
	// every ProgressInterval), "bar", "lines", "log" (the lines as records
	// of Logger, for a log that must be all JSON) or "quiet". "" means
	// auto.
	ProgressMode string
	// ProgressInterval is the period of progress lines; 0 means 10 s.
	ProgressInterval time.Duration
	// Writer names the store segment this sweep writes (SLURM workers name
	// it after the job); the zero value picks a unique local name.
	Writer store.WriterOptions
	// Select, if set, restricts the sweep to the plan indexes it returns
	// (a SLURM shard); nil means the whole plan.
	Select func(p *Plan) ([]int, error)
	// StopDispatchAt, if set, is when the sweep stops starting runs (a
	// SLURM task nearing its time limit); running runs go on.
	StopDispatchAt time.Time
	// LockWait is how long to wait when another process writes the store's
	// runs (a sweep, or SLURM workers; see [store.Store.Lock]): 0 refuses
	// at once with an error that names it, a negative LockWait waits until
	// ctx ends.
	LockWait time.Duration
	// MaxPlanTime refuses, before anything is written, a plan that
	// metalab's own work would take longer than this to get through (see
	// [DefaultMaxPlanTime], the default when 0); negative means no limit.
	MaxPlanTime time.Duration
	// RerunChanged runs again the completed runs of the plan whose records
	// came from other code than the operation's now (see [Coder]); their
	// new records win over the old. Without it they are skipped, as every
	// completed run is, and the sweep logs a warning that counts them.
	RerunChanged bool

	// worker: a SLURM array task. It neither merges the store's indexes
	// before (a thousand tasks would each rewrite the store index) nor
	// loads the results after; it asks the indexes which of its own runs
	// are completed.
	worker bool
	// plan, if set, is exp's plan, made by the caller already (a worker
	// checks it against its submission): planning twice hashed the
	// context's files twice.
	plan *Plan
	// stopDispatch, if set, stops the sweep starting runs once it is
	// closed, and lets the runs in flight end: SLURM's warning signal.
	stopDispatch <-chan struct{}
	// rerunSince, for a worker of a submission made with --rerun-changed,
	// is when it was made: only runs completed since count as done.
	rerunSince time.Time
	// lockPurpose and lockGroup describe a worker in the store's lock.
	lockPurpose, lockGroup string
	lockHeartbeat          time.Duration // 0: the store's default; for tests

	now func() time.Time // clock hook for tests
}

// Option changes [Options].
type Option func(*Options)

// WithStore runs into the store at dir (created if missing). It mirrors
// Python's run(exp, store=...).
func WithStore(dir string) Option { return func(o *Options) { o.Store = dir } }

// WithWorkers sets how many runs execute at once.
func WithWorkers(n int) Option { return func(o *Options) { o.Workers = n } }

// WithLogger sets the sweep's logger.
func WithLogger(l zerolog.Logger) Option { return func(o *Options) { o.Logger = &l } }

// WithProgress sets the progress mode ("auto", "bar", "lines", "quiet") and
// where it is written (nil: stderr).
func WithProgress(mode string, w io.Writer) Option {
	return func(o *Options) { o.ProgressMode, o.Progress = mode, w }
}

// WithRerunChanged runs again the completed runs that came from other
// code (see [Options.RerunChanged]).
func WithRerunChanged() Option { return func(o *Options) { o.RerunChanged = true } }

// WithOptions replaces all options at once.
func WithOptions(opts Options) Option { return func(o *Options) { *o = opts } }

// Status is a snapshot of a sweep's progress. Total is the plan's size;
// Skipped runs were already completed in the store and do not run again.
type Status struct {
	Total     int `json:"total"`
	Skipped   int `json:"skipped"`
	Pending   int `json:"pending"`
	Running   int `json:"running"`
	Completed int `json:"completed"`
	Failed    int `json:"failed"`
	Cancelled int `json:"cancelled"`
}

// Done is the number of runs this sweep finished, whatever their status.
func (s Status) Done() int { return s.Completed + s.Failed + s.Cancelled }

func (s Status) String() string {
	return fmt.Sprintf("%d runs: %d completed, %d failed, %d cancelled, %d running, %d pending, %d skipped (already completed)",
		s.Total, s.Completed, s.Failed, s.Cancelled, s.Running, s.Pending, s.Skipped)
}

// Handle follows a sweep started by [Run]. It mirrors Python's RunHandle.
type Handle struct {
	total, skipped int
	queued         int
	// plan is what the store had of the plan when the sweep started, its
	// counts only (for the plan line of 'metalab run').
	plan planState
	// late counts the runs found completed by another writer just before
	// they were to start (see executor.recheck): skipped, not pending.
	late      atomic.Int64
	running   atomic.Int64
	completed atomic.Int64
	failed    atomic.Int64
	cancelled atomic.Int64

	storeDir string
	cancel   context.CancelFunc
	done     chan struct{}
	res      *Results
	err      error
}

// Status returns the sweep's progress without blocking.
func (h *Handle) Status() Status {
	late := int(h.late.Load())
	s := Status{
		Total:     h.total,
		Skipped:   h.skipped + late,
		Running:   int(h.running.Load()),
		Completed: int(h.completed.Load()),
		Failed:    int(h.failed.Load()),
		Cancelled: int(h.cancelled.Load()),
	}
	s.Pending = h.queued - late - s.Running - s.Done()
	if s.Pending < 0 {
		s.Pending = 0
	}
	return s
}

// Result blocks until the sweep ends and returns its results, which are read
// from the store on first use (see [Results.Err]): the runs of the sweep's
// experiment and version, those of its plan and any the store keeps from
// earlier plans of it (values removed since); the store's other
// experiments are not among them ([LoadResults] reads them all). Runs that failed are
// among the results, with their errors, and the error is nil: a sweep
// whose operation failed did what it was asked. On cancellation it returns
// the results so far and an error wrapping context.Canceled; on a store
// error (a full disk, a lost lock), that error.
func (h *Handle) Result() (*Results, error) {
	<-h.done
	return h.res, h.err
}

// Done is closed when the sweep has ended.
func (h *Handle) Done() <-chan struct{} { return h.done }

// Cancel stops starting new runs and interrupts running ones; they are
// recorded as cancelled and run again on resume.
func (h *Handle) Cancel() { h.cancel() }

// StoreDir is the store the sweep writes to.
func (h *Handle) StoreDir() string { return h.storeDir }

// Run starts exp and returns at once. It expands the plan, opens the store
// (refusing one that holds exp's name and version with another operation,
// see [Describer]), skips runs the store already has as
// completed, and executes the rest in parallel. Errors in the experiment or
// the store are returned here; run failures are in the results.
func Run(ctx context.Context, exp Experiment, opts ...Option) (*Handle, error) {
	var o Options
	for _, opt := range opts {
		opt(&o)
	}
	return start(ctx, &exp, o)
}

func start(ctx context.Context, exp *Experiment, o Options) (*Handle, error) {
	if o.Workers <= 0 {
		o.Workers = runtime.NumCPU()
	}
	if o.now == nil {
		o.now = time.Now
	}
	log := defaultLogger(o.Logger)
	plan := o.plan
	if plan == nil {
		var err error
		if plan, err = NewPlan(exp); err != nil {
			return nil, err
		}
	}
	if !o.worker {
		// A submission's workers run what submit planned; only a whole
		// sweep is checked, and before its store is created.
		limit := o.MaxPlanTime
		if limit == 0 {
			limit = DefaultMaxPlanTime
		}
		if limit > 0 {
			if err := checkPlanTime(plan, limit, planCost(plan)); err != nil {
				return nil, err
			}
		}
	}
	opctx, err := operationContext(exp.Context)
	if err != nil {
		return nil, fmt.Errorf("experiment %q: %w", exp.Name, err)
	}
	dir := o.Store
	if dir == "" {
		dir, err = os.MkdirTemp("", "metalab-"+safeName(exp.Name)+"-")
		if err != nil {
			return nil, err
		}
		log.Info().Str(fieldStore, dir).Msg("no store given; results go to a new temporary directory")
	}
	st, err := store.Open(dir)
	if err != nil {
		return nil, err
	}
	lock, err := lockStore(ctx, st, exp, o, log)
	if err != nil {
		st.Close()
		return nil, err
	}
	fail := func(err error) (*Handle, error) {
		lock.Release()
		st.Close()
		return nil, err
	}
	var candidates []int
	if o.Select != nil {
		if candidates, err = o.Select(plan); err != nil {
			return fail(err)
		}
	}
	planned := o.now()
	var ps planState
	if o.worker {
		// A worker runs its submission's plan, which the store recorded
		// when it was submitted; it asks the indexes about its own runs.
		completed, err := completedRuns(st, plan, candidates, o.rerunSince)
		if err != nil {
			return fail(err)
		}
		ps.todo, ps.planCounts = pendingRuns(plan, candidates, completed, nil, false)
	} else {
		if ps, err = readPlanState(ctx, st, plan, candidates, o.RerunChanged); err != nil {
			return fail(err)
		}
		info, err := plan.experimentInfo(ps.outside)
		if err != nil {
			return fail(err)
		}
		change, err := st.AddExperiment(info)
		if err != nil {
			return fail(err)
		}
		if change != nil {
			log.Warn().Str(fieldHint, change.Hint()).Msg(change.String())
		}
		ps.change = nil // logged here; the plan line does not repeat it
		if c := ps.code; c != nil {
			ev := log.Warn()
			if c.rerun {
				ev = log.Info()
			}
			ev.Int(fieldRuns, c.runs).Str(fieldCode, plan.code.Fingerprint).Msg(c.message(progName(), "run"))
			ps.code = nil
		}
	}
	todo, total, skipped, dups := ps.todo, ps.total, ps.skipped, ps.dups
	// The plan's grid encoding served the dedup pass; the runs need At.
	plan.dropIDs()
	if dups > 0 {
		log.Warn().Int(fieldDuplicates, dups).Msg("the param source produced identical points; each runs once")
	}
	w, err := st.NewWriter(o.Writer)
	if err != nil {
		return fail(err)
	}
	removeStaleScratch()
	ctx, cancel := context.WithCancelCause(ctx)
	h := &Handle{
		total:    total,
		skipped:  skipped,
		queued:   todo.Len(),
		plan:     planState{todo: runList{len: todo.Len()}, planCounts: ps.planCounts, outside: ps.outside},
		storeDir: st.Dir(),
		cancel:   func() { cancel(nil) },
		done:     make(chan struct{}),
	}
	// A holder that finds its lock gone (paused past the stale time, and
	// another process took over) stops: the runs are the other's now.
	go func() {
		select {
		case <-lock.Lost():
			cancel(lock.Err())
		case <-ctx.Done():
		}
	}()
	x := &executor{
		exp: exp, plan: plan, st: st, w: w, workers: o.Workers,
		log: log, now: o.now, opctx: opctx, h: h, env: slurm.CurrentTask(),
		// The parent of every run's artifact directory.
		noStaleArtifacts: emptyDir(filepath.Dir(st.ArtifactDir("0000000000000000"))),
	}
	if x.env.ArrayTaskID >= 0 {
		x.taskID = strconv.Itoa(x.env.ArrayTaskID)
	}
	x.pid, x.host = os.Getpid(), runHost(x.env)
	// A holder judged dead and removed from the lock may only have been
	// paused, and write again: each run is checked against the store's
	// indexes just before it starts.
	switch {
	case o.worker:
		x.doneSince = o.rerunSince
	case o.RerunChanged:
		x.doneSince = planned
	}
	if taken := lock.TookOver(); len(taken) > 0 {
		x.recheck = true
		log.Warn().Msg("the store's lock was taken over from a holder judged dead; checking each run against the store before it starts")
	}
	prog := newProgress(o, h)
	go func() {
		defer close(h.done)
		defer cancel(nil)
		log.Info().Int(fieldRuns, total).Int(fieldSkipped, skipped).Int(fieldToRun, todo.Len()).
			Int(fieldWorkers, o.Workers).Str(fieldStore, st.Dir()).Msg("sweep started")
		prog.start()
		runErr := x.run(ctx, &todo, o.StopDispatchAt, o.stopDispatch)
		prog.stop()
		if err := w.Close(); err != nil && runErr == nil {
			runErr = err
		}
		// Released once the records are written: a sweep that starts now
		// finds them.
		if err := lock.Release(); err != nil {
			log.Warn().Str(fieldError, err.Error()).Msg("the store's lock entry is left; the next sweep on this host removes it")
		}
		var res *Results
		if !o.worker {
			// Read on first use: a caller that only wants the counts
			// (Status) does not pay for reading every record.
			res = lazyResults(st.Dir(), exp.Name, exp.Version)
		}
		if cerr := st.Close(); cerr != nil && runErr == nil {
			runErr = cerr
		}
		// Interrupted: runs left, or runs cut short (all of them may have
		// been in flight, and recorded as cancelled).
		if s := h.Status(); runErr == nil && ctx.Err() != nil && (s.Done() < todo.Len() || s.Cancelled > 0) {
			runErr = fmt.Errorf("sweep cancelled: %w", context.Cause(ctx))
		}
		h.res, h.err = res, runErr
		s := h.Status()
		log.Info().Int(fieldCompleted, s.Completed).Int(fieldFailed, s.Failed).Int(fieldCancelled, s.Cancelled).
			Int(fieldSkipped, s.Skipped).Msg("sweep ended")
	}()
	return h, nil
}

// lockStore takes the store's lock: exclusive for a sweep, shared among the
// workers of a submission, which run disjoint shards. A refusal names the
// holder and says what to do.
func lockStore(ctx context.Context, st *store.Store, exp *Experiment, o Options, log zerolog.Logger) (*store.Lock, error) {
	opts := store.LockOptions{
		Mode:      store.Exclusive,
		Purpose:   fmt.Sprintf("%s run of experiment %q", progName(), exp.Name),
		Wait:      o.LockWait,
		Heartbeat: o.lockHeartbeat,
		OnWait: func(b *store.BusyError) {
			log.Info().Str(fieldStore, st.Dir()).Msg("waiting: " + b.Error())
		},
	}
	if o.worker {
		opts.Mode, opts.Purpose, opts.Group = store.Shared, o.lockPurpose, o.lockGroup
	}
	lock, err := st.Lock(ctx, opts)
	var busy *store.BusyError
	switch {
	case errors.As(err, &busy) && !errors.Is(err, context.Canceled):
		hint := "wait for it to end, or start with --wait to run when it has"
		if busy.Holders[0].Mode == store.Shared {
			hint = fmt.Sprintf("SLURM workers of the store are running: see '%s status --store %s', or stop them with '%s cancel'",
				progName(), st.Dir(), progName())
		}
		if o.worker {
			hint = fmt.Sprintf("the runs of this task stay pending; once that has ended, '%s collect --resubmit --store %s' submits them again",
				progName(), st.Dir())
		}
		return nil, &exitError{code: ExitRunsFailed, err: err, hint: hint + "; " + busy.Hint()}
	case err != nil:
		return nil, err
	}
	for _, h := range lock.TookOver() {
		log.Warn().Str(fieldStore, st.Dir()).Str(fieldHost, h.Host).Int(fieldPID, h.PID).Str(fieldEntry, h.Entry).
			Msg("took over the store's lock from a process that died holding it")
	}
	return lock, nil
}

// planState is what a store has of a plan: the runs to run, and the
// counts of the plan line.
type planState struct {
	todo runList
	planCounts
	// outside counts the runs of the plan's experiment that the store has
	// and the plan does not (values removed since an earlier plan): the
	// store keeps them, and results report them.
	outside int
	// change is set when the store has the experiment with another
	// operation.
	change *store.OperationChange
	// code is set when completed runs of the plan came from other code.
	code *codeChange
}

// planCounts counts a plan's runs: total (each run ID once), skipped
// (completed in the store), dups (points that repeat another's run ID),
// recorded (with any record in the store) and changed (completed from
// other code; skipped unless they run again), by their fingerprint.
type planCounts struct {
	total, skipped, dups, recorded int
	changed                        map[string]int
}

// readPlanState merges the store's indexes and works out what the store has
// of plan, or of its runs at candidates (nil: all); rerun runs again the
// completed runs that came from other code.
func readPlanState(ctx context.Context, st *store.Store, plan *Plan, candidates []int, rerun bool) (planState, error) {
	if _, err := st.Collect(ctx); err != nil {
		return planState{}, err
	}
	have := make(runSet)
	err := st.RunIDs(func(id []byte, s store.Status) {
		if k, ok := keyOf(string(id)); ok {
			have[k] = s == store.StatusCompleted
		}
	})
	if err != nil {
		return planState{}, err
	}
	changed, codes, err := changedRuns(st, plan)
	if err != nil {
		return planState{}, err
	}
	var ps planState
	ps.todo, ps.planCounts = pendingRuns(plan, candidates, have, changed, rerun)
	if n := sumCounts(ps.changed); n > 0 {
		ps.code = &codeChange{runs: n, by: ps.changed, parts: changedParts(ps.changed, codes, plan.code.Parts), rerun: rerun}
	}
	recorded := ps.recorded
	if candidates != nil {
		// A selection (collect --resubmit): the plan is still the
		// whole one.
		_, all := pendingRuns(plan, nil, have, nil, false)
		recorded = all.recorded
	}
	n, err := experimentRuns(st, plan, len(have))
	if err != nil {
		return planState{}, err
	}
	ps.outside = max(n-recorded, 0)
	info, err := plan.experimentInfo(0)
	if err != nil {
		return planState{}, err
	}
	if ps.change, err = st.CheckExperiment(info); err != nil {
		return planState{}, err
	}
	return ps, nil
}

// changedRuns maps the completed runs of plan's experiment whose records
// came from other code than plan's to the fingerprint they carry, and
// returns the parts of each fingerprint the store knows. Only a store that
// has seen other code of the experiment is read (the keys of its
// completed records); records without a fingerprint (of a metalab before
// them) are not counted: nothing is known of their code.
func changedRuns(st *store.Store, plan *Plan) (map[runKey]string, map[string]map[string]string, error) {
	info, err := st.Experiment(plan.exp.Name, plan.exp.Version)
	if err != nil || info == nil {
		return nil, nil, err
	}
	cur := plan.code.Fingerprint
	if !slices.ContainsFunc(slices.Collect(maps.Keys(info.Codes)), func(fp string) bool { return fp != cur }) {
		return nil, info.Codes, nil
	}
	changed := map[runKey]string{}
	err = st.CompletedCodes(plan.exp.Name, plan.exp.Version, func(id, code string) {
		if code == "" || code == cur {
			return
		}
		if k, ok := keyOf(id); ok {
			changed[k] = code
		}
	})
	if err != nil && !errors.As(err, new(*store.DamageError)) {
		return nil, nil, err
	}
	return changed, info.Codes, nil
}

func sumCounts(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// experimentRuns is how many runs of plan's experiment the store has, of
// all runs of any experiment. A store that holds no other experiment
// needs no reading of records.
func experimentRuns(st *store.Store, plan *Plan, all int) (int, error) {
	exps, err := st.Experiments()
	if err != nil {
		return 0, err
	}
	if !slices.ContainsFunc(exps, func(e store.ExperimentInfo) bool { return e.Ref() != plan.ref() }) {
		return all, nil
	}
	counts, err := st.CountByExperiment()
	if err != nil && !errors.As(err, new(*store.DamageError)) {
		return 0, err
	}
	if c := counts[plan.ref()]; c != nil {
		return c.Runs(), nil
	}
	return 0, nil
}

// completedRuns tells a SLURM worker which of its runs (the plan's at
// candidates) the store's indexes have as completed, without merging them:
// a thousand tasks would each rewrite the store index.
func completedRuns(st *store.Store, plan *Plan, candidates []int, since time.Time) (runSet, error) {
	ids := make([]string, len(candidates))
	for k, i := range candidates {
		ids[k] = plan.At(i).ID
	}
	among, err := st.CompletedAmongSince(ids, since)
	if err != nil {
		return nil, err
	}
	done := make(runSet, len(among))
	for id := range among {
		if k, ok := keyOf(id); ok {
			done[k] = true
		}
	}
	return done, nil
}

// runSet holds run IDs the store has: true for those completed.
type runSet map[runKey]bool

// pendingRuns lists the plan indexes to execute: those of candidates (all of
// the plan when nil) that are not completed in the store, each run ID once,
// and with rerun those completed from other code (changed, by their
// fingerprint).
func pendingRuns(plan *Plan, candidates []int, have runSet, changed map[runKey]string, rerun bool) (todo runList, c planCounts) {
	n := plan.Len()
	if candidates != nil {
		n = len(candidates)
	}
	// A validated grid has no two equal points, so its run IDs need no
	// dedup; a million-entry set of them cost a third of planning. Into a
	// store that has no run, it runs whole, and no ID is needed.
	_, grid := plan.src.(params.Grid)
	if grid && candidates == nil && len(have) == 0 {
		return runList{n: n, len: n}, planCounts{total: n}
	}
	var seen map[runKey]struct{}
	if !grid || candidates != nil {
		seen = make(map[runKey]struct{}, n)
	}
	if candidates == nil {
		todo = runList{n: n, skip: make([]uint64, (n+63)/64)}
	}
	var buf []byte
	for k := 0; k < n; k++ {
		i := k
		if candidates != nil {
			i = candidates[k]
		}
		var id runKey
		id, buf = plan.key(i, buf)
		if seen != nil {
			if _, dup := seen[id]; dup {
				c.dups++
				todo.skipIndex(i)
				continue
			}
			seen[id] = struct{}{}
		}
		c.total++
		done, known := have[id]
		if known {
			c.recorded++
		}
		if code, ok := changed[id]; ok && done {
			if c.changed == nil {
				c.changed = map[string]int{}
			}
			c.changed[code]++
			done = !rerun
		}
		if done {
			c.skipped++
			todo.skipIndex(i)
			continue
		}
		if candidates != nil {
			todo.idx = append(todo.idx, i)
		}
		todo.len++
	}
	return todo, c
}

// runList is the plan indexes a sweep executes, in order: those of a
// selection, or all of the plan but those marked in a bitset. The bitset
// costs a bit a run where a list of a whole plan's indexes cost 8 bytes.
type runList struct {
	idx  []int    // the indexes, for a selection
	n    int      // else the plan's length,
	skip []uint64 // and the indexes not to run (nil: none)
	len  int
}

// Len is the number of runs in the list.
func (l *runList) Len() int { return l.len }

func (l *runList) skipIndex(i int) {
	if l.skip != nil {
		l.skip[i/64] |= 1 << (i % 64)
	}
}

// each calls fn with each index in order, until fn returns false.
func (l *runList) each(fn func(i int) bool) {
	if l.idx != nil || l.n == 0 {
		for _, i := range l.idx {
			if !fn(i) {
				return
			}
		}
		return
	}
	for i := 0; i < l.n; i++ {
		if l.skip != nil && l.skip[i/64]&(1<<(i%64)) != 0 {
			continue
		}
		if !fn(i) {
			return
		}
	}
}

// slice returns the indexes as a slice.
func (l *runList) slice() []int {
	if l.idx != nil {
		return l.idx
	}
	out := make([]int, 0, l.len)
	l.each(func(i int) bool { out = append(out, i); return true })
	return out
}

// ErrRunsFailed is returned by [Handle.Result] callers' helpers such as
// [Main] when a sweep ended with failed runs.
var ErrRunsFailed = errors.New("some runs failed")
