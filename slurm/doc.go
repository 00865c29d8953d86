// Package slurm owns metalab's conversation with SLURM: it submits batch
// scripts with sbatch, asks squeue (and sacct, where accounting exists) what
// became of them, reads the controller's limits with scontrol and cancels
// with scancel. [Settings], the slurm section of an experiment file, lives
// here too, because each of its values ends up on the sbatch command line or
// in the batch script. What to submit and what the answers mean for an
// experiment is the launcher's business.
//
// Running a command and reading its output are kept apart. The parsers
// [ParseSbatch], [ParseSqueue], [ParseSqueueIdentity], [ParseConfig],
// [ParseSacct] and [ParseJobcomp] take an [io.Reader] and are tested on output recorded from a
// real Slurm 22.05 cluster (testdata/, see testdata/README.md). [Client] runs
// the commands: each call has a timeout, the paths are configurable, failures
// come back as a [*CommandError] carrying the command line, exit status,
// stderr and, where one helps, a hint, and [Client.Calls] counts calls so
// callers can check how often they ask the scheduler.
//
// # Behaviour callers rely on
//
// Observed on Slurm 22.05.8 (Debian 12); each point is covered by a recorded
// fixture or by the integration test.
//
//   - A pending part of an array is one squeue line, "123_[4-10%2]"; squeue
//     cuts that expression at 64 bytes ("...") unless SLURM_BITSTR_LEN=0,
//     which [Client] always sets. Cancelling a task out of a stepped range
//     "0-3000:3" turns it into a long comma list, so the cut is a real risk.
//     [ParseSqueue] expands the expression into [JobState.ArrayTasks].
//   - squeue -j with only unknown (already purged) job IDs exits 1 with
//     "Invalid job id specified"; with at least one known ID it lists those
//     and exits 0. [Client.Queue] returns no jobs and no error in the first
//     case. Finished jobs are listed only with -t all ([Client.QueueAll]) and
//     only for MinJobAge seconds ([Config.MinJobAge]).
//   - An array task gets its own job ID when it starts (%A); the array's last
//     task to start keeps the array job ID itself.
//   - Job IDs are recycled: a controller restarted with a clean state starts
//     again at FirstJobId (1), and another cluster, or a wrap-around, hands
//     out the same numbers. A recorded job ID may name another user's job,
//     or another of one's own. [Client.Named] asks for this user's jobs by
//     name (squeue --me --name) with their submit times and comments
//     (%V, %k), which sbatch --comment sets and squeue shows for every
//     array task; a job without one shows "(null)".
//   - KillWait (scontrol show config, [Config.KillWait]) is how long a job
//     has between SIGTERM and SIGKILL when it is cancelled or reaches its
//     time limit: 30 s by default, 5 s on the test cluster.
//   - A --signal=SIG@T warning comes up to about half a minute early, and
//     the time limit itself is enforced up to half a minute late:
//     slurmctld checks both on a periodic tick, not at the second. With
//     --time=1, B:USR1@6, @18 and @30 alike came 44 s in and SIGTERM 74 s
//     in; B:USR1@120 came 17 s in, and with --time=3, 33 s in (issue 16).
//   - Without slurmdbd, sacct prints "Slurm accounting storage is disabled" on
//     stderr and exits 1; [Client.Accounting] reports ok=false, no error.
//     The jobcomp/filetxt log ([ParseJobcomp]) is then the lasting record.
//   - MaxArraySize N allows task indices 0..N-1; above that sbatch fails with
//     "Invalid job array specification".
//   - scancel of an unknown or finished job prints nothing and exits 0.
//   - In an array task the environment has SLURM_ARRAY_JOB_ID,
//     SLURM_ARRAY_TASK_ID, SLURM_JOB_ID and SLURMD_NODENAME;
//     SLURM_RESTART_COUNT appears only after a requeue, and 22.05 sets no
//     SLURM_JOB_END_TIME (testdata/array_task_env.txt).
//   - A requeued job is not eligible again for about two minutes
//     (Reason=BeginTime), and jobcomp logs a line with JobState=PENDING for
//     the run that was requeued.
package slurm
