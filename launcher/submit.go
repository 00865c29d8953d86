package launcher

import (
	"bytes"
	"context"
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

	total   int // runs in the plan (or in Only)
	skipped int // of them, completed in the store
	todo    int // to submit; 0: nothing to submit, and nothing below is set

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
// run, only if it exists), refuses while earlier submissions are queued,
// drops the completed runs, asks scontrol for the cluster's array limits,
// shards the rest, pins the program (not for a dry run) and renders the
// scripts. It writes nothing to the store but the pinned program.
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
	st, scratch, err := openStoreFor(storeDir, plan, req.DryRun)
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
	if !p.req.DryRun && !p.req.Force {
		if err := refuseActive(ctx, p.client, p.storeDir, p.req.Name); err != nil {
			return err
		}
	}
	completed, err := completedRuns(ctx, p.st, p.plan, nil, false)
	if err != nil {
		return err
	}
	pending, total, skipped, _ := pendingRuns(p.plan, p.req.Only, completed)
	todo := pending.slice()
	p.total, p.skipped, p.todo = total, skipped, len(todo)
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
	p.layout, err = shard.Split(todo, shard.Params{
		RunsPerTask:   exp.Slurm.RunsPerTask,
		MaxArraySize:  cfg.MaxArraySize,
		MaxJobCount:   cfg.MaxJobCount,
		MaxConcurrent: exp.Slurm.MaxConcurrent,
	})
	if err != nil {
		return inputErr(err, "set [slurm] runs_per_task higher")
	}

	now := time.Now()
	p.sub = &Submission{
		ID: newSubmissionID(now), Created: now.UTC(),
		Experiment: exp.Name, Version: exp.Version, Identity: p.plan.Manifest().Identity,
		Target: p.req.Target, Runs: p.layout.Runs(), RunsPerTask: p.layout.RunsPerTask, Settings: exp.Slurm,
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

// Close closes the store.
func (p *preparedSubmission) Close() error {
	err := p.st.Close()
	if p.scratch != "" {
		if rerr := os.RemoveAll(p.scratch); err == nil {
			err = rerr
		}
	}
	return err
}

// submit binds the store to the experiment, records the submission (its
// layout, then the submission with each job ID as sbatch gives it), submits
// the arrays in order, and the collect job if asked; onJob hears of each
// job submitted. Of a submission that fails half-way, the record keeps the
// job IDs of the arrays submitted.
func (p *preparedSubmission) submit(ctx context.Context, onJob func(submittedJob)) error {
	exp, sub, dir := p.req.Exp, p.sub, p.storeDir
	if err := p.st.Bind(p.plan.Manifest()); err != nil {
		return err
	}
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
		id, err := p.client.Submit(ctx, path)
		if err != nil {
			err = fmt.Errorf("submitting array %d of %d (%d arrays were submitted and are recorded in %s): %w",
				k, len(p.layout.Arrays), k, submissionDir(dir, sub.ID), err)
			if serr := saveSubmission(dir, sub); serr != nil {
				err = fmt.Errorf("%w; and recording the submission failed: %v (the job IDs of the arrays submitted are above)", err, serr)
			}
			return err
		}
		sub.Arrays[k].JobID = id
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

// openStoreFor opens the store for a plan, refusing one of another
// experiment. A dry run creates nothing: of a store that does not exist
// yet, it opens an empty one in a scratch directory, which the caller
// removes.
func openStoreFor(dir string, plan *Plan, dryRun bool) (st *store.Store, scratch string, err error) {
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
	if m, err := st.Manifest(); err == nil && m != nil && m.Identity != plan.Manifest().Identity {
		// Bind reports the mismatch with both identities.
		if err := st.Bind(plan.Manifest()); err != nil {
			st.Close()
			return nil, "", err
		}
	}
	return st, "", nil
}

// refuseActive refuses to submit while earlier submissions still have jobs
// in the queue: their runs are not completed yet and would be submitted
// twice. One squeue call covers all of them.
func refuseActive(ctx context.Context, client *slurm.Client, storeDir, name string) error {
	subs, err := listSubmissions(storeDir)
	if err != nil || len(subs) == 0 {
		return err
	}
	jobs, err := client.Queue(ctx, jobIDs(subs, ""))
	if err != nil {
		return err
	}
	active := 0
	for _, j := range jobs {
		if !j.State.Finished() {
			if j.IsArray() {
				active += len(j.ArrayTasks)
			} else {
				active++
			}
		}
	}
	if active > 0 {
		return &exitError{code: ExitUsage,
			err: fmt.Errorf("earlier submissions to %s still have %d tasks queued or running; their runs would be submitted twice", storeDir, active),
			hint: fmt.Sprintf("wait for them ('%s status --store %s --watch'), cancel them ('%s cancel --store %s'), or pass --force",
				name, storeDir, name, storeDir)}
	}
	return nil
}

// renderArray renders the batch script of array k of a submission; deps are
// the job IDs of the arrays it waits for.
func renderArray(storeDir string, exp *Experiment, sub *Submission, k int, arr shard.Array, deps []string) ([]byte, error) {
	s := exp.Slurm
	outPat, errPat := templates.LogPatterns(store.SlurmLogDir(storeDir))
	if s.Output != "" {
		outPat = s.Output
	}
	if s.Error != "" {
		errPat = s.Error
	}
	signal := s.Signal
	if signal == "" {
		signal = "USR1@120"
	}
	if !strings.HasPrefix(signal, "B:") {
		signal = "B:" + signal
	}
	data := templates.Script{
		JobName:      templates.JobName(exp.Name),
		ArraySpec:    arr.Spec(),
		Output:       outPat,
		Error:        errPat,
		Partition:    s.Partition,
		Time:         s.Time,
		Mem:          s.Mem,
		Account:      s.Account,
		QOS:          s.QOS,
		Constraint:   s.Constraint,
		Gpus:         s.Gpus,
		CPUsPerTask:  s.CPUsPerTask,
		Signal:       signal,
		Requeue:      s.Requeue,
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
		JobName:    templates.JobName(exp.Name + "-collect"),
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
	return client.Submit(ctx, path)
}
