package launcher

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"github.com/metalab-hpc/metalab/slurm"
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
			"SIGUSR1 (sbatch --signal; a worker that knows its time limit from [slurm] time\n" +
			"keeps its own stop time unless [slurm] signal was set) and near the time limit it\n" +
			"starts no new run and lets those in flight end; on SIGTERM it cancels them, killing\n" +
			"a program half of the\n" +
			"cluster's KillWait after its SIGTERM, records them as cancelled and exits; a\n" +
			"requeue or a later submit resumes. Exit status 1 when a run failed.\n\n" +
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

// warnings takes SIGUSR1, SLURM's warning of the time limit (sbatch
// --signal=B:USR1@T), from the handler of every command, which cancels
// the runs in flight on it as on SIGTERM: a worker warned should only
// stop starting runs, and let those in flight end, as SIGTERM at the limit
// cancels them anyway. The returned channel is closed at the first
// SIGUSR1. Later ones are ignored, also once the worker is done.
func warnings() <-chan struct{} {
	// Ignore takes the signal away from every channel notified of it;
	// Notify then gives it to this one alone.
	signal.Ignore(syscall.SIGUSR1)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGUSR1)
	warned := make(chan struct{})
	go func() {
		<-sigs
		close(warned)
	}()
	return warned
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
	s, runErr := runShard(ctx, log, shardRequest{
		Store: opts.Store, Sub: sub, Exp: exp, Array: opts.Array, Task: task, Workers: opts.Workers,
		Env: env, Progress: a.Stderr, JSONLog: a.jsonErrors.Load(), Name: a.Name, Started: started, Warned: warnings(),
	})
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
