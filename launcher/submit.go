package launcher

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/metalab-hpc/metalab/shard"
	"github.com/metalab-hpc/metalab/slurm"
	"github.com/metalab-hpc/metalab/store"
	"github.com/metalab-hpc/metalab/templates"
)

// Submitting a sweep to SLURM happens in two steps, so that a person sees
// the plan before anything is submitted and a dry run stops between them:
// [prepareSubmission] plans the sweep, drops the runs the store has, shards
// the rest and renders the batch scripts; [preparedSubmission.submit]
// records the submission in the store, runs sbatch for each array and
// records each job ID as soon as sbatch gives it.

// submitRequest is a submission to make.
type submitRequest struct {
	Exp *Experiment
	// Target is what the workers load (see [Submission.Target]).
	Target string
	Store  string
	DryRun bool
	// Force submits even while earlier submissions have jobs in the queue.
	Force bool
	// Collect also submits a collect job after the arrays.
	Collect bool
	// Only, if set, restricts the submission to these plan indexes
	// (collect --resubmit).
	Only []int
	// Name is the program's name, for hints.
	Name string
	// RerunChanged submits also the completed runs that came from other
	// code (see [Options.RerunChanged]).
	RerunChanged bool
}

// preparedSubmission is a submission planned, sharded and rendered, and not
// yet submitted. Close it.
type preparedSubmission struct {
	req      submitRequest
	client   *slurm.Client
	st       *store.Store
	scratch  string // a dry run's empty store in place of one that does not exist, removed by Close
	plan     *Plan
	storeDir string // absolute
	// lock is the store's lock in Submit mode, held from the check of the
	// queue to the last sbatch, so that two submits, or a submit and a
	// local run, never both see the same runs pending; nil for a dry run.
	lock *store.Lock

	// state is what the store has of the plan (of Only): its runs, those
	// completed and those to submit; with none to submit, nothing below is
	// set.
	state planState
	todo  int

	layout *shard.Layout
	sub    *Submission
	// scripts are the batch scripts of the arrays, rendered with
	// placeholders for the job IDs of the arrays they wait for.
	scripts [][]byte
}

// submittedJob is a job that sbatch accepted: an array of the submission
// (Array >= 0), or its collect job (Array < 0).
type submittedJob struct {
	Array int
	JobID string
	Spec  string // the array's task range, e.g. 0-99%4
}

// prepareSubmission plans req's submission: it opens the store (of a dry
// run, only if it exists), takes its lock (not for a dry run), refuses
// while earlier submissions are queued, drops the completed runs, asks
// scontrol for the cluster's limits, shards the rest by what the store
// knows of run durations, pins the program (not for a dry run) and renders
// the scripts. It writes nothing to the store but the pinned program and
// its lock entry.
func prepareSubmission(ctx context.Context, log zerolog.Logger, client *slurm.Client, req submitRequest) (*preparedSubmission, error) {
	exp := req.Exp
	if err := exp.Slurm.Validate(); err != nil {
		return nil, inputErr(err, "")
	}
	plan, err := NewPlan(exp)
	if err != nil {
		return nil, err
	}
	storeDir, err := filepath.Abs(req.Store)
	if err != nil {
		return nil, err
	}
	st, scratch, err := openStoreFor(storeDir, req.DryRun)
	if err != nil {
		return nil, err
	}
	p := &preparedSubmission{req: req, client: client, st: st, scratch: scratch, plan: plan, storeDir: storeDir}
	if err := p.prepare(ctx, log); err != nil {
		p.Close()
		return nil, err
	}
	return p, nil
}

func (p *preparedSubmission) prepare(ctx context.Context, log zerolog.Logger) error {
	exp := p.req.Exp
	if !p.req.DryRun {
		lock, err := lockForSubmit(ctx, p.st, exp, p.req.Name)
		if err != nil {
			return err
		}
		p.lock = lock
		if !p.req.Force {
			if err := refuseActive(ctx, p.client, p.st, exp, p.req.Name); err != nil {
				return err
			}
		}
	}
	var err error
	if p.state, err = readPlanState(ctx, p.st, p.plan, p.req.Only, p.req.RerunChanged); err != nil {
		return err
	}
	todo := p.state.todo.slice()
	p.todo = len(todo)
	if len(todo) == 0 {
		return nil
	}

	cfg, err := p.client.Config(ctx)
	if err != nil {
		if !p.req.DryRun {
			return err
		}
		log.Warn().Err(err).Msg("cannot read the SLURM configuration; assuming its defaults")
		cfg = slurm.Config{}
	}
	durations, err := runDurations(p.st)
	if err != nil {
		return err
	}
	var usable time.Duration
	if limit, _ := exp.Slurm.TimeLimit(); limit > 0 {
		usable = limit - stopMargin(limit)
	}
	p.layout, err = shard.Split(todo, shard.Params{
		RunsPerTask:   exp.Slurm.RunsPerTask,
		MaxArraySize:  cfg.MaxArraySize,
		MaxJobCount:   cfg.MaxJobCount,
		MaxConcurrent: exp.Slurm.MaxConcurrent,
		Durations:     durations,
		Usable:        usable,
		Workers:       exp.Slurm.CPUsPerTask,
	})
	if err != nil {
		return inputErr(err, "set [slurm] runs_per_task higher")
	}

	op, err := operationJSON(exp.Operation)
	if err != nil {
		return err
	}
	now := time.Now()
	p.sub = &Submission{
		ID: newSubmissionID(now), Created: now.UTC(),
		Experiment: exp.Name, Version: exp.Version, Identity: p.plan.Manifest().Identity,
		Plan: p.plan.Manifest().Spec, Operation: op,
		Target: p.req.Target, Runs: p.layout.Runs(), RunsPerTask: p.layout.RunsPerTask, Settings: exp.Slurm,
		JobName: templates.JobName(exp.Name), KillWait: int(cfg.KillWait / time.Second),
		RerunChanged: p.state.code != nil && p.state.code.rerun,
	}
	if p.req.Collect || exp.Slurm.Collect {
		p.sub.CollectName = templates.JobName(exp.Name + "-collect")
	}
	if p.req.DryRun {
		p.sub.Binary = "<pinned copy of this program in STORE/bin/>"
	} else if p.sub.Binary, err = pinBinary(p.storeDir); err != nil {
		return err
	}
	// Every script is rendered now, before anything is recorded or
	// submitted, so that a template or setting that does not render stops
	// the submission whole. The job IDs that an array's dependency names
	// exist only once the arrays it waits for are submitted: submit renders
	// the scripts of those arrays again, with the IDs.
	p.scripts = make([][]byte, len(p.layout.Arrays))
	for k, arr := range p.layout.Arrays {
		var deps []string
		for _, d := range arr.After {
			deps = append(deps, fmt.Sprintf("<job ID of array %d>", d))
		}
		if p.scripts[k], err = renderArray(p.storeDir, exp, p.sub, k, arr, deps); err != nil {
			return err
		}
		p.sub.Arrays = append(p.sub.Arrays, ArrayJob{
			Index: k, Script: store.SubmissionScript(p.sub.ID, fmt.Sprintf("array-%d.sbatch", k)),
			Tasks: arr.Tasks, Throttle: arr.Throttle, After: arr.After,
		})
	}
	return nil
}

// Close releases the store's lock and closes the store.
func (p *preparedSubmission) Close() error {
	var err error
	if p.lock != nil {
		err = p.lock.Release()
	}
	if cerr := p.st.Close(); err == nil {
		err = cerr
	}
	if p.scratch != "" {
		if rerr := os.RemoveAll(p.scratch); err == nil {
			err = rerr
		}
	}
	return err
}

// submit records the experiment and its plan in the store, the submission (its
// layout, then the submission with each job ID as sbatch gives it), submits
// the arrays in order, and the collect job if asked; onJob hears of each
// job submitted. Of a submission that fails half-way, the record keeps the
// job IDs of the arrays submitted.
func (p *preparedSubmission) submit(ctx context.Context, onJob func(submittedJob)) error {
	exp, sub, dir := p.req.Exp, p.sub, p.storeDir
	info, err := p.plan.experimentInfo(p.state.outside)
	if err != nil {
		return err
	}
	if _, err := p.st.AddExperiment(info); err != nil {
		return err // a change of operation: the plan line said it
	}
	m, err := p.st.Manifest()
	if err != nil {
		return err
	}
	sub.StoreID = m.StoreID()
	if err := os.MkdirAll(store.SlurmLogDir(dir), 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(submissionDir(dir, sub.ID), 0o755); err != nil {
		return err
	}
	if err := saveLayout(dir, sub.ID, p.layout); err != nil {
		return err
	}
	if err := saveSubmission(dir, sub); err != nil {
		return err
	}
	for k, arr := range p.layout.Arrays {
		script := p.scripts[k]
		if len(arr.After) > 0 {
			var deps []string
			for _, d := range arr.After {
				deps = append(deps, sub.Arrays[d].JobID)
			}
			var err error
			if script, err = renderArray(dir, exp, sub, k, arr, deps); err != nil {
				return err
			}
		}
		path := filepath.Join(dir, sub.Arrays[k].Script)
		if err := writeFileAtomic(path, func(w io.Writer) error { _, err := w.Write(script); return err }); err != nil {
			return err
		}
		if p.lock != nil && p.lock.Err() != nil {
			// Paused past the stale time: another submit may hold the
			// store now, and would submit these runs too.
			return fmt.Errorf("%w; %d of %d arrays were submitted and are recorded in %s",
				p.lock.Err(), k, len(p.layout.Arrays), submissionDir(dir, sub.ID))
		}
		// The identity goes on the command line, where a custom template
		// cannot leave it out.
		id, err := p.client.Submit(ctx, path, "--job-name="+sub.JobName, "--comment="+jobComment(sub.StoreID, sub.ID, false))
		if err != nil {
			err = fmt.Errorf("submitting array %d of %d (%d arrays were submitted and are recorded in %s): %w",
				k, len(p.layout.Arrays), k, submissionDir(dir, sub.ID), err)
			if serr := saveSubmission(dir, sub); serr != nil {
				err = fmt.Errorf("%w; and recording the submission failed: %v (the job IDs of the arrays submitted are above)", err, serr)
			}
			return err
		}
		sub.Arrays[k].JobID, sub.Arrays[k].Submitted = id, time.Now().UTC()
		if err := saveSubmission(dir, sub); err != nil {
			return err
		}
		onJob(submittedJob{Array: k, JobID: id, Spec: arr.Spec()})
	}
	if p.req.Collect || exp.Slurm.Collect {
		id, err := submitCollect(ctx, p.client, dir, exp, sub)
		if err != nil {
			return err
		}
		sub.Collect = id
		if err := saveSubmission(dir, sub); err != nil {
			return err
		}
		onJob(submittedJob{Array: -1, JobID: id})
	}
	return nil
}

// openStoreFor opens the store for a plan. A dry run creates nothing: of
// a store that does not exist yet, it opens an empty one in a scratch
// directory, which the caller removes.
func openStoreFor(dir string, dryRun bool) (st *store.Store, scratch string, err error) {
	if dryRun && !fileExists(store.ManifestPath(dir)) {
		scratch, err := os.MkdirTemp("", "metalab-dry-run-")
		if err != nil {
			return nil, "", err
		}
		st, err := store.Open(scratch)
		if err != nil {
			os.RemoveAll(scratch)
			return nil, "", err
		}
		return st, scratch, nil
	}
	st, err = store.Open(dir)
	if err != nil {
		return nil, "", err
	}
	return st, "", nil
}

// lockForSubmit takes the store's lock in Submit mode, or says who holds
// it: a local run (whose runs a submission would execute a second time),
// or another submit (which sees the same runs pending).
func lockForSubmit(ctx context.Context, st *store.Store, exp *Experiment, name string) (*store.Lock, error) {
	lock, err := st.Lock(ctx, store.LockOptions{
		Mode:    store.Submit,
		Purpose: fmt.Sprintf("%s submit of experiment %q", name, exp.Name),
	})
	var busy *store.BusyError
	if errors.As(err, &busy) {
		hint := fmt.Sprintf("submit once it has ended ('%s status --store %s' shows what the store has)", name, st.Dir())
		if busy.Holders[0].Mode == store.Exclusive {
			hint = fmt.Sprintf("a local run executes this store's runs; submit what it leaves once it has ended, or stop it (Ctrl-C) and submit: '%s submit' skips what it completed", name)
		}
		// As a local run refused by a busy store: exit 1, not bad usage.
		return nil, &exitError{code: ExitRunsFailed, err: err, hint: hint + "; " + busy.Hint()}
	}
	return lock, err
}

// refuseActive refuses to submit while earlier submissions of the same
// experiment version still have jobs in the queue: their runs are not
// completed yet and would be submitted twice. Those of other experiments
// and versions have other runs. One squeue call covers all of them, and
// only jobs provably the store's count (see identity.go).
func refuseActive(ctx context.Context, client *slurm.Client, st *store.Store, exp *Experiment, name string) error {
	storeDir := st.Dir()
	all, err := listSubmissions(storeDir)
	if err != nil {
		return err
	}
	var subs []*Submission
	for _, s := range all {
		if s.Experiment == exp.Name && s.Version == exp.Version {
			subs = append(subs, s)
		}
	}
	if len(subs) == 0 {
		return nil
	}
	m, err := st.Manifest()
	if err != nil {
		return err
	}
	jobs, err := queuedJobs(ctx, client, m.StoreID(), subs)
	if err != nil {
		return err
	}
	active := 0
	for _, j := range jobs {
		active += tasks(j.JobState)
	}
	if active > 0 {
		return &exitError{code: ExitUsage,
			err: fmt.Errorf("earlier submissions to %s still have %d tasks queued or running; their runs would be submitted twice", storeDir, active),
			hint: fmt.Sprintf("wait for them ('%s status --store %s --watch'), cancel them ('%s cancel --store %s'), or pass --force",
				name, storeDir, name, storeDir)}
	}
	return nil
}

// warnSignal is the --signal value of a submission: [slurm] signal as
// given, else SIGUSR1 to the worker (the batch shell it replaces) a tenth
// of the time limit before the end, at most 2 minutes and at least 5 s
// before, and 2 minutes before without a time limit (the partition's
// default limit, usually hours). A fixed 2 minutes came at once with a
// limit of 1 minute; SLURM sends it up to half a minute early anyway.
func warnSignal(s slurm.Settings) string {
	sig := s.Signal
	if sig == "" {
		offset := 2 * time.Minute
		if limit, _ := s.TimeLimit(); limit > 0 {
			offset = max(min(offset, limit/10), 5*time.Second)
		}
		sig = fmt.Sprintf("USR1@%d", int(offset/time.Second))
	}
	if !strings.HasPrefix(sig, "B:") {
		sig = "B:" + sig
	}
	return sig
}

// runDurations is what the store knows of how long runs take: the
// durations of its latest completed runs, at most durationSample of them.
func runDurations(st *store.Store) (shard.Durations, error) {
	sn, err := st.SnapshotOf(store.StatusCompleted, durationSample)
	if err != nil {
		return shard.Durations{}, err
	}
	var ds []time.Duration
	err = sn.Records(func(r *store.Record) error {
		if d := r.Duration(); d > 0 {
			ds = append(ds, d)
		}
		return nil
	})
	var damage *store.DamageError
	if err != nil && !errors.As(err, &damage) {
		return shard.Durations{}, err
	}
	// Of a damaged store, what could be read is sample enough.
	return shard.Observe(ds), nil
}

// durationSample bounds the records read to size a submission: enough for
// a median and a 90th percentile, few enough to read in a moment from a
// store of millions.
const durationSample = 1000

// renderArray renders the batch script of array k of a submission; deps are
// the job IDs of the arrays it waits for.
func renderArray(storeDir string, exp *Experiment, sub *Submission, k int, arr shard.Array, deps []string) ([]byte, error) {
	s := exp.Slurm
	outPat := s.Output
	if outPat == "" {
		// One file per task, stderr with stdout: SLURM creates the file
		// of each task whatever it writes, and the worker always logs.
		outPat, _ = templates.LogPatterns(store.SlurmLogDir(storeDir))
	}
	data := templates.Script{
		JobName:      templates.JobName(exp.Name),
		ArraySpec:    arr.Spec(),
		Output:       outPat,
		Error:        s.Error,
		Partition:    s.Partition,
		Time:         s.Time,
		Mem:          s.Mem,
		Account:      s.Account,
		QOS:          s.QOS,
		Constraint:   s.Constraint,
		Gpus:         s.Gpus,
		CPUsPerTask:  s.CPUsPerTask,
		Signal:       warnSignal(s),
		Requeue:      s.Requeue != nil && *s.Requeue,
		NoRequeue:    s.Requeue != nil && !*s.Requeue,
		ExtraOptions: s.ExtraOptions,
		Modules:      s.Modules,
		Setup:        s.Setup,
		Command: []string{sub.Binary, "worker", "--store", storeDir,
			"--submission", sub.ID, "--array", strconv.Itoa(k)},
	}
	if len(deps) > 0 {
		data.Dependency = "afterany:" + strings.Join(deps, ":")
	}
	custom := s.Template
	if custom != "" && !filepath.IsAbs(custom) && strings.HasSuffix(sub.Target, ".toml") {
		custom = filepath.Join(filepath.Dir(sub.Target), custom)
	}
	var buf bytes.Buffer
	if err := templates.Render(&buf, data, custom); err != nil {
		return nil, inputErr(err, "")
	}
	return buf.Bytes(), nil
}

// submitCollect submits `metalab collect` to run once every array of the
// submission has ended, whatever their exit status.
func submitCollect(ctx context.Context, client *slurm.Client, storeDir string, exp *Experiment, sub *Submission) (string, error) {
	ids := []string{}
	for _, arr := range sub.Arrays {
		ids = append(ids, arr.JobID)
	}
	var buf bytes.Buffer
	err := templates.Render(&buf, templates.Script{
		JobName:    sub.CollectName,
		Output:     templates.JobLogPattern(store.SlurmLogDir(storeDir)),
		Partition:  exp.Slurm.Partition,
		Account:    exp.Slurm.Account,
		QOS:        exp.Slurm.QOS,
		Time:       "30",
		Dependency: "afterany:" + strings.Join(ids, ":"),
		Command:    []string{sub.Binary, "collect", "--store", storeDir},
	}, "")
	if err != nil {
		return "", err
	}
	path := filepath.Join(submissionDir(storeDir, sub.ID), "collect.sbatch")
	if err := writeFileAtomic(path, func(w io.Writer) error { _, err := w.Write(buf.Bytes()); return err }); err != nil {
		return "", err
	}
	return client.Submit(ctx, path, "--job-name="+sub.CollectName, "--comment="+jobComment(sub.StoreID, sub.ID, true))
}
