package launcher

import (
	"context"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"github.com/metalab-hpc/metalab/slurm"
	"github.com/metalab-hpc/metalab/store"
)

type workerOptions struct {
	Store      string
	Submission string
	Array      int
	Task       int // -1: from SLURM_ARRAY_TASK_ID
	Workers    int
}

func (a *App) cmdWorker() *cli.Command {
	return &cli.Command{
		Name:   "worker",
		Usage:  "run one shard of a submission (what SLURM array tasks run)",
		Hidden: true,
		Description: "Runs the shard of (--array, SLURM_ARRAY_TASK_ID) of a submission, skipping runs the\n" +
			"store already has as completed, with up to SLURM_CPUS_PER_TASK runs at once. On\n" +
			"SIGTERM or SIGUSR1 (sbatch --signal) and near the time limit it starts no new run,\n" +
			"records the interrupted ones as cancelled and exits; a requeue or a later submit\n" +
			"resumes. Exit status 1 when a run failed.\n\n" +
			"The workers of a store share its lock; while a local 'metalab run' holds it, a\n" +
			"worker waits up to 3 minutes (not past its own stop time) and then exits with\n" +
			"status 1, its runs left pending for 'metalab collect --resubmit'.",
		Flags: []cli.Flag{
			storeFlag(),
			&cli.StringFlag{Name: "submission", Required: true, Usage: "submission `ID`"},
			&cli.IntFlag{Name: "array", Usage: "array number within the submission"},
			&cli.IntFlag{Name: "task", Value: -1, Usage: "array task (default: $SLURM_ARRAY_TASK_ID)"},
			&cli.IntFlag{Name: "workers", Usage: "runs at once (default: $SLURM_CPUS_PER_TASK, else [slurm] cpus_per_task, else 1)"},
		},
		Action: func(c *cli.Context) error {
			return a.runWorker(c.Context, a.logger(c), workerOptions{
				Store: c.String("store"), Submission: c.String("submission"),
				Array: c.Int("array"), Task: c.Int("task"), Workers: c.Int("workers"),
			})
		},
	}
}

func (a *App) runWorker(ctx context.Context, log zerolog.Logger, opts workerOptions) error {
	started := time.Now()
	sub, err := loadSubmission(opts.Store, opts.Submission)
	if err != nil {
		return err
	}
	env := slurm.CurrentTask()
	task := opts.Task
	if task < 0 {
		if task = env.ArrayTaskID; task < 0 {
			return usageErr("run it from an sbatch array, or pass --task", "SLURM_ARRAY_TASK_ID is not set")
		}
	}
	exp, err := a.experiment(sub.Target)
	if err != nil {
		return err
	}
	plan, err := NewPlan(exp)
	if err != nil {
		return err
	}
	if plan.Manifest().Identity != sub.Identity {
		return inputErr(fmt.Errorf("experiment %s changed since submission %s (identity %.12s, submitted %.12s)",
			sub.Target, sub.ID, plan.Manifest().Identity, sub.Identity),
			"submit the changed experiment into a new store")
	}
	layout, err := loadLayout(opts.Store, opts.Submission)
	if err != nil {
		return err
	}
	indexes, err := layout.Shard(opts.Array, task)
	if err != nil {
		return err
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = env.CPUsPerTask
	}
	if workers <= 0 {
		workers = max(exp.Slurm.CPUsPerTask, 1)
	}
	jobID := env.ArrayJob()
	if jobID == "" {
		jobID = "local"
	}
	node := runHost(env)
	stopAt := stopDispatchAt(started, env.EndTime, exp, log)
	h, err := start(ctx, exp, Options{
		Store:            opts.Store,
		Workers:          workers,
		Logger:           &log,
		Progress:         a.Stderr,
		ProgressMode:     "lines",
		ProgressInterval: time.Minute,
		Writer: store.WriterOptions{
			Name: fmt.Sprintf("%s-j%s_%d-r%d", safeName(node), safeName(jobID), task, env.RestartCount),
			Node: node,
		},
		Select:         func(*Plan) ([]int, error) { return indexes, nil },
		StopDispatchAt: stopAt,
		LockWait:       workerLockWait(started, stopAt),
		worker:         true,
		lockPurpose:    fmt.Sprintf("%s worker of submission %s (job %s, array %d, task %d)", a.Name, sub.ID, jobID, opts.Array, task),
		lockGroup:      sub.ID,
	})
	if err != nil {
		return err
	}
	_, runErr := h.Result()
	s := h.Status()
	log.Info().Str("submission", sub.ID).Int("array", opts.Array).Int("task", task).
		Int("runs", s.Total).Int("completed", s.Completed).Int("failed", s.Failed).
		Int("cancelled", s.Cancelled).Int("skipped", s.Skipped).Int("not_started", s.Pending).Msg("shard done")
	switch {
	case runErr != nil:
		return runErr
	case s.Failed > 0:
		return fmt.Errorf("%d of %d runs of this shard failed: %w", s.Failed, s.Total, ErrRunsFailed)
	case s.Pending > 0:
		return fmt.Errorf("stopped before the time limit with %d runs not started; a later submit runs them", s.Pending)
	}
	return nil
}

// workerLockWait is how long a worker waits for a local sweep that holds the
// store: long enough for a local sweep killed with its node to go stale
// (store.DefaultLockStale) and for a submit to finish, not so long that a
// task spends its allocation waiting, and never past its stop time.
func workerLockWait(now, stopAt time.Time) time.Duration {
	wait := store.DefaultLockStale + time.Minute
	if !stopAt.IsZero() {
		wait = min(wait, stopAt.Sub(now))
	}
	// Options.LockWait: 0 refuses at once, and negative would wait for ever.
	return max(wait, 0)
}

// stopDispatchAt is when a task stops starting runs: a margin before its
// end, jobEnd (zero when SLURM does not say: 22.05 sets no
// SLURM_JOB_END_TIME), else estimated from the task's start and the [slurm]
// time limit.
func stopDispatchAt(started, jobEnd time.Time, exp *Experiment, log zerolog.Logger) time.Time {
	end := jobEnd
	if limit, err := exp.Slurm.TimeLimit(); end.IsZero() && err == nil && limit > 0 {
		end = started.Add(limit)
	}
	if end.IsZero() {
		return time.Time{}
	}
	// Two minutes, or a tenth of a short time limit: room to record the
	// interrupted runs and exit before SLURM kills the task.
	margin := min(2*time.Minute, end.Sub(started)/10)
	log.Debug().Time("end", end).Dur("margin", margin).Msg("time limit known")
	return end.Add(-margin)
}
