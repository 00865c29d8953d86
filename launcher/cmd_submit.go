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
	"github.com/urfave/cli/v2"

	"github.com/metalab-hpc/metalab/shard"
	"github.com/metalab-hpc/metalab/slurm"
	"github.com/metalab-hpc/metalab/store"
	"github.com/metalab-hpc/metalab/templates"
)

type submitOptions struct {
	Target  string
	Store   string
	DryRun  bool
	Force   bool
	Collect bool
	// only, if set, restricts the submission to these plan indexes
	// (collect --resubmit).
	only []int
}

func (a *App) cmdSubmit() *cli.Command {
	return &cli.Command{
		Name:      "submit",
		Usage:     "submit a sweep to SLURM as job arrays",
		ArgsUsage: "EXPERIMENT.toml | EXPERIMENT-NAME",
		Description: "Expands the sweep, drops the runs the store already has as completed, groups the\n" +
			"rest into shards of several runs per array task, and submits one sbatch array per\n" +
			"MaxArraySize tasks (read from `scontrol show config`). [slurm] max_concurrent holds\n" +
			"for the whole submission. The program is pinned into the store (bin/) and the\n" +
			"scripts run that copy in worker mode; scripts, the shard layout and the job IDs are\n" +
			"recorded under STORE/submissions/ID/, task logs go to STORE/logs/slurm/.\n\n" +
			"The paths of sbatch, squeue, scontrol, scancel and sacct can be set with\n" +
			"METALAB_SBATCH, METALAB_SQUEUE, ... (default: found in PATH).\n\n" +
			"EXAMPLES:\n" +
			"   metalab submit exp.toml --store /scratch/$USER/sweep --dry-run\n" +
			"   metalab submit exp.toml --store /scratch/$USER/sweep --collect\n" +
			"   metalab status --store /scratch/$USER/sweep --watch",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "store", Aliases: []string{"s"}, Usage: "store `DIR` on a filesystem the compute nodes share", Required: true},
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "print the plan and the scripts; submit nothing"},
			&cli.BoolFlag{Name: "collect", Usage: "also submit `metalab collect` to run after the arrays (afterany); also [slurm] collect = true"},
			&cli.BoolFlag{Name: "force", Usage: "submit even if an earlier submission still has jobs queued or running"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErr(fmt.Sprintf("usage: %s submit EXPERIMENT --store DIR", a.Name), "submit takes one experiment, got %d arguments", c.NArg())
			}
			return a.runSubmit(c.Context, a.logger(c), submitOptions{
				Target: c.Args().First(), Store: c.String("store"),
				DryRun: c.Bool("dry-run"), Force: c.Bool("force"), Collect: c.Bool("collect"),
			}, a.Stdout)
		},
	}
}

// slurmClient returns the scheduler client, with tool paths from the
// environment.
func (a *App) slurmClient() *slurm.Client {
	if a.Slurm != nil {
		return a.Slurm
	}
	return slurm.ClientFromEnv(os.Getenv)
}

// target is how workers find the experiment again: an experiment file by
// its absolute path, a Go experiment by its name.
func (a *App) target(arg string, exp *Experiment) (string, error) {
	if a.LoadFile != nil && (strings.HasSuffix(arg, ".toml") || fileExists(arg)) {
		return filepath.Abs(arg)
	}
	return exp.Name, nil
}

func (a *App) runSubmit(ctx context.Context, log zerolog.Logger, opts submitOptions, out io.Writer) error {
	exp, err := a.experiment(opts.Target)
	if err != nil {
		return err
	}
	if err := exp.Slurm.Validate(); err != nil {
		return inputErr(err, "")
	}
	target, err := a.target(opts.Target, exp)
	if err != nil {
		return err
	}
	plan, err := NewPlan(exp)
	if err != nil {
		return err
	}
	storeDir, err := filepath.Abs(opts.Store)
	if err != nil {
		return err
	}
	st, err := openStoreFor(storeDir, plan, opts.DryRun)
	if err != nil {
		return err
	}
	defer st.Close()
	client := a.slurmClient()

	if !opts.DryRun && !opts.Force {
		if err := a.refuseActive(ctx, client, storeDir); err != nil {
			return err
		}
	}
	completed, err := completedRuns(ctx, st, plan, nil, false)
	if err != nil {
		return err
	}
	pending, total, skipped, _ := pendingRuns(plan, opts.only, completed)
	todo := pending.slice()
	if len(todo) == 0 {
		fmt.Fprintf(out, "nothing to submit: all %d runs are already completed in %s\n", total, storeDir)
		return nil
	}

	cfg, err := client.Config(ctx)
	if err != nil {
		if !opts.DryRun {
			return err
		}
		log.Warn().Err(err).Msg("cannot read the SLURM configuration; assuming its defaults")
		cfg = slurm.Config{}
	}
	layout, err := shard.Split(todo, shard.Params{
		RunsPerTask:   exp.Slurm.RunsPerTask,
		MaxArraySize:  cfg.MaxArraySize,
		MaxJobCount:   cfg.MaxJobCount,
		MaxConcurrent: exp.Slurm.MaxConcurrent,
	})
	if err != nil {
		return inputErr(err, "set [slurm] runs_per_task higher")
	}

	now := time.Now()
	sub := &Submission{
		ID: newSubmissionID(now), Created: now.UTC(),
		Experiment: exp.Name, Version: exp.Version, Identity: plan.Manifest().Identity,
		Target: target, Runs: layout.Runs(), RunsPerTask: layout.RunsPerTask, Settings: exp.Slurm,
	}
	if opts.DryRun {
		sub.Binary = "<pinned copy of this program in STORE/bin/>"
	} else if sub.Binary, err = pinBinary(storeDir); err != nil {
		return err
	}
	scripts := make([][]byte, len(layout.Arrays))
	for k, arr := range layout.Arrays {
		var deps []string
		for _, d := range arr.After {
			deps = append(deps, fmt.Sprintf("<job ID of array %d>", d))
		}
		b, err := a.renderArray(storeDir, exp, sub, k, arr, deps)
		if err != nil {
			return err
		}
		scripts[k] = b
		sub.Arrays = append(sub.Arrays, ArrayJob{
			Index: k, Script: store.SubmissionScript(sub.ID, fmt.Sprintf("array-%d.sbatch", k)),
			Tasks: arr.Tasks, Throttle: arr.Throttle, After: arr.After,
		})
	}

	summary := layout.Summary()
	fmt.Fprintf(out, "experiment %s (version %s): %d runs, %d already completed, %d to submit\n",
		exp.Name, exp.Version, total, skipped, len(todo))
	fmt.Fprintln(out, summary.String())
	if limit, err := exp.Slurm.TimeLimit(); err == nil && limit > 0 {
		cpus := exp.Slurm.CPUsPerTask
		fmt.Fprintf(out, "at most %.1f core-hours (%d tasks x time %s x %d CPUs)\n",
			layout.CoreHours(limit, cpus), layout.Tasks(), exp.Slurm.Time, max(cpus, 1))
	}
	if opts.DryRun {
		for k, b := range scripts {
			fmt.Fprintf(out, "\n--- array %d: %s\n%s", k, sub.Arrays[k].Script, b)
		}
		fmt.Fprintln(out, "\ndry run: nothing submitted")
		return nil
	}

	if err := st.Bind(plan.Manifest()); err != nil {
		return err
	}
	logDir := store.SlurmLogDir(storeDir)
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(submissionDir(storeDir, sub.ID), 0o755); err != nil {
		return err
	}
	if err := saveLayout(storeDir, sub.ID, layout); err != nil {
		return err
	}
	if err := saveSubmission(storeDir, sub); err != nil {
		return err
	}
	for k, arr := range layout.Arrays {
		var deps []string
		for _, d := range arr.After {
			deps = append(deps, sub.Arrays[d].JobID)
		}
		b, err := a.renderArray(storeDir, exp, sub, k, arr, deps)
		if err != nil {
			return err
		}
		path := filepath.Join(storeDir, sub.Arrays[k].Script)
		if err := writeFileAtomic(path, func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
			return err
		}
		id, err := client.Submit(ctx, path)
		if err != nil {
			err = fmt.Errorf("submitting array %d of %d (%d arrays were submitted and are recorded in %s): %w",
				k, len(layout.Arrays), k, submissionDir(storeDir, sub.ID), err)
			if serr := saveSubmission(storeDir, sub); serr != nil {
				err = fmt.Errorf("%w; and recording the submission failed: %v (the job IDs of the arrays submitted are above)", err, serr)
			}
			return err
		}
		sub.Arrays[k].JobID = id
		if err := saveSubmission(storeDir, sub); err != nil {
			return err
		}
		fmt.Fprintf(out, "submitted array %d: job %s (%s)\n", k, id, arr.Spec())
	}
	if opts.Collect || exp.Slurm.Collect {
		id, err := a.submitCollect(ctx, client, storeDir, exp, sub)
		if err != nil {
			return err
		}
		sub.Collect = id
		if err := saveSubmission(storeDir, sub); err != nil {
			return err
		}
		fmt.Fprintf(out, "submitted collect: job %s (after all arrays)\n", id)
	}
	fmt.Fprintf(out, "submission %s recorded in %s\nfollow it with: %s status --store %s --watch\n",
		sub.ID, submissionDir(storeDir, sub.ID), a.Name, storeDir)
	return nil
}

// openStoreFor opens the store for a plan, refusing one of another
// experiment. A dry run creates nothing.
func openStoreFor(dir string, plan *Plan, dryRun bool) (*store.Store, error) {
	if dryRun && !fileExists(store.ManifestPath(dir)) {
		tmp, err := os.MkdirTemp("", "metalab-dry-run-")
		if err != nil {
			return nil, err
		}
		st, err := store.Open(tmp)
		if err != nil {
			return nil, err
		}
		return st, nil
	}
	st, err := store.Open(dir)
	if err != nil {
		return nil, err
	}
	if m, err := st.Manifest(); err == nil && m != nil && m.Identity != plan.Manifest().Identity {
		// Bind reports the mismatch with both identities.
		if err := st.Bind(plan.Manifest()); err != nil {
			st.Close()
			return nil, err
		}
	}
	return st, nil
}

// refuseActive refuses to submit while earlier submissions still have jobs
// in the queue: their runs are not completed yet and would be submitted
// twice. One squeue call covers all of them.
func (a *App) refuseActive(ctx context.Context, client *slurm.Client, storeDir string) error {
	subs, err := listSubmissions(storeDir)
	if err != nil || len(subs) == 0 {
		return err
	}
	var ids []string
	for _, s := range subs {
		ids = append(ids, s.JobIDs()...)
	}
	jobs, err := client.Queue(ctx, ids)
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
				a.Name, storeDir, a.Name, storeDir)}
	}
	return nil
}

func (a *App) renderArray(storeDir string, exp *Experiment, sub *Submission, k int, arr shard.Array, deps []string) ([]byte, error) {
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
func (a *App) submitCollect(ctx context.Context, client *slurm.Client, storeDir string, exp *Experiment, sub *Submission) (string, error) {
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
