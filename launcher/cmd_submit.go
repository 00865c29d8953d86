package launcher

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"github.com/metalab-hpc/metalab/shard"
	"github.com/metalab-hpc/metalab/slurm"
)

type submitOptions struct {
	Target  string
	Store   string
	DryRun  bool
	Force   bool
	Collect bool
	// RerunChanged submits also the completed runs that came from other
	// code.
	RerunChanged bool
	// only, if set, restricts the submission to these plan indexes
	// (collect --resubmit).
	only []int
	// announce, if set, is printed once the submission is ready to go:
	// after the store's lock and the queue check, which may refuse it.
	announce string
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
			"recorded under STORE/submissions/ID/, task logs go to STORE/logs/slurm/ (one a task).\n\n" +
			"Without [slurm] runs_per_task, tasks are sized from the durations of the runs the store\n" +
			"has completed (5-minute tasks that fit the time limit), or one per max_concurrent slot\n" +
			"(32 without it) when it knows none. The warning signal is USR1 a tenth of [slurm] time\n" +
			"before the limit (5 s to 2 min). Every job carries the store's identity in its name and\n" +
			"--comment, which status, collect and cancel check: job IDs are recycled.\n\n" +
			"Submit holds the store's lock from its check of the queue to its last sbatch: a second\n" +
			"submit, or a local run of the sweep, is refused meanwhile (exit 1), and so is a submit\n" +
			"while a local run works on the store; one while earlier submissions still have tasks\n" +
			"queued or running is refused with exit 2 (--force submits anyway).\n\n" +
			"The paths of sbatch, squeue, scontrol, scancel and sacct can be set with\n" +
			"METALAB_SBATCH, METALAB_SQUEUE, ... (default: found in PATH).\n\n" +
			"Every record carries a fingerprint of the code that produced it (the files the command\n" +
			"names, by content, and the interpreter's path; a Go program's build). Completed runs\n" +
			"from other code than the operation's now are counted in a warning and skipped;\n" +
			"--rerun-changed submits them again (each once), and their new records win.\n\n" +
			"EXAMPLES:\n" +
			"   metalab submit exp.toml --store /scratch/$USER/sweep --dry-run\n" +
			"   metalab submit exp.toml --store /scratch/$USER/sweep --collect\n" +
			"   metalab submit exp.toml --store /scratch/$USER/sweep --rerun-changed   # after editing the script\n" +
			"   metalab status --store /scratch/$USER/sweep --watch",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "store", Aliases: []string{"s"}, Usage: "store `DIR` on a filesystem the compute nodes share", Required: true},
			&cli.BoolFlag{Name: "dry-run", Aliases: []string{"n"}, Usage: "print the plan and the scripts; submit nothing"},
			&cli.BoolFlag{Name: "collect", Usage: "also submit 'metalab collect' to run after the arrays (afterany); also [slurm] collect = true"},
			&cli.BoolFlag{Name: "rerun-changed", Usage: "also submit the completed runs that came from other code than the operation's now"},
			&cli.BoolFlag{Name: "force", Usage: "submit even if an earlier submission still has jobs queued or running, or into a non-empty directory that is not a store"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return usageErr(fmt.Sprintf("usage: %s submit EXPERIMENT --store DIR", a.Name), "submit takes one experiment, got %d arguments", c.NArg())
			}
			return a.runSubmit(c.Context, a.logger(c), submitOptions{
				Target: c.Args().First(), Store: c.String("store"),
				DryRun: c.Bool("dry-run"), Force: c.Bool("force"), Collect: c.Bool("collect"),
				RerunChanged: c.Bool("rerun-changed"),
			}, a.Stdout)
		},
	}
}

// printCost says what the submission may cost: the core-hours the time
// limit bounds, or that without one there is no bound; what its runs take
// at the median duration, when the store knows it; and when the workers
// are warned of the limit.
func printCost(out io.Writer, s slurm.Settings, l *shard.Layout) {
	cpus := max(s.CPUsPerTask, 1)
	limit, _ := s.TimeLimit()
	if limit > 0 {
		fmt.Fprintf(out, "at most %.1f core-hours (%d tasks x time %s x %d CPUs)\n",
			l.CoreHours(limit, cpus), l.Tasks(), s.Time, cpus)
	} else {
		fmt.Fprintf(out, "core-hours: no bound without [slurm] time (%d tasks, each up to the partition's time limit)\n", l.Tasks())
	}
	if d := l.Estimate.Durations; d.Known >= shard.MinKnown {
		fmt.Fprintf(out, "expected: about %.1f core-hours of runs (%d runs x median %s x %d CPUs)\n",
			float64(l.Runs())*d.Median.Hours()*float64(cpus), l.Runs(), d.Median.Round(time.Millisecond), cpus)
	} else {
		fmt.Fprintln(out, "expected: cannot estimate the core-hours of the runs until some have completed")
	}
	why := "[slurm] signal"
	if s.Signal == "" {
		why = "a tenth of the time limit, 5 s to 2 min before it"
	}
	fmt.Fprintf(out, "warning signal: %s (%s)\n", strings.TrimPrefix(warnSignal(s), "B:"), why)
}

func (a *App) runSubmit(ctx context.Context, log zerolog.Logger, opts submitOptions, out io.Writer) error {
	if err := checkStoreDir(opts.Store, opts.Force); err != nil {
		return err
	}
	exp, err := a.experiment(opts.Target)
	if err != nil {
		return err
	}
	target, err := a.target(opts.Target, exp)
	if err != nil {
		return err
	}
	p, err := prepareSubmission(ctx, log, a.slurmClient(), submitRequest{
		Exp: exp, Target: target, Store: opts.Store,
		DryRun: opts.DryRun, Force: opts.Force, Collect: opts.Collect, Only: opts.only, Name: a.Name,
		RerunChanged: opts.RerunChanged,
	})
	if err != nil {
		return err
	}
	defer p.Close()
	if p.todo == 0 {
		fmt.Fprintf(out, "nothing to submit: all %d runs are already completed in %s\n", p.state.total, p.storeDir)
		printChange(out, a.Name, "submit", p.state)
		return nil
	}
	if opts.announce != "" {
		fmt.Fprintln(out, opts.announce)
	}

	printPlanLine(out, a.Name, "submit", exp, p.state)
	fmt.Fprint(out, p.layout.Summary().String())
	printCost(out, exp.Slurm, p.layout)
	fmt.Fprintln(out)
	if opts.DryRun {
		fmt.Fprintf(out, "each job is submitted with --job-name=%s --comment='%s', which tell it from any other\n",
			p.sub.JobName, jobComment("<store ID>", p.sub.ID, false))
		for k, b := range p.scripts {
			fmt.Fprintf(out, "\n--- array %d: %s\n%s", k, p.sub.Arrays[k].Script, b)
		}
		fmt.Fprintln(out, "\ndry run: nothing submitted")
		return nil
	}

	err = p.submit(ctx, func(j submittedJob) {
		if j.Array < 0 {
			fmt.Fprintf(out, "submitted collect: job %s (after all arrays)\n", j.JobID)
		} else {
			fmt.Fprintf(out, "submitted array %d: job %s (%s)\n", j.Array, j.JobID, j.Spec)
		}
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "submission %s recorded in %s\nfollow it with: %s status --store %s --watch\n",
		p.sub.ID, submissionDir(p.storeDir, p.sub.ID), a.Name, p.storeDir)
	return nil
}
