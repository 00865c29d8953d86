package slurm

import (
	"os"
	"strconv"
	"time"
)

// TaskEnv is what SLURM tells a process about the job it runs in, through
// the environment of every job step (recorded in
// testdata/array_task_env.txt). Outside a job every field is zero, and
// ArrayTaskID is -1.
type TaskEnv struct {
	JobID        string    // SLURM_JOB_ID: this task's own job
	ArrayJobID   string    // SLURM_ARRAY_JOB_ID: the array's, "" outside one
	ArrayTaskID  int       // SLURM_ARRAY_TASK_ID; -1 outside an array
	RestartCount int       // SLURM_RESTART_COUNT: requeues so far
	Node         string    // SLURMD_NODENAME
	CPUsPerTask  int       // SLURM_CPUS_PER_TASK; 0 when not requested
	EndTime      time.Time // SLURM_JOB_END_TIME, set from SLURM 23.02 on; zero if not
}

// ReadTaskEnv reads a TaskEnv through getenv (os.Getenv, or a map in
// tests). Values that do not parse count as unset.
func ReadTaskEnv(getenv func(string) string) TaskEnv {
	atoi := func(k string, def int) int {
		if n, err := strconv.Atoi(getenv(k)); err == nil {
			return n
		}
		return def
	}
	e := TaskEnv{
		JobID:        getenv("SLURM_JOB_ID"),
		ArrayJobID:   getenv("SLURM_ARRAY_JOB_ID"),
		ArrayTaskID:  atoi("SLURM_ARRAY_TASK_ID", -1),
		RestartCount: max(atoi("SLURM_RESTART_COUNT", 0), 0),
		Node:         getenv("SLURMD_NODENAME"),
		CPUsPerTask:  max(atoi("SLURM_CPUS_PER_TASK", 0), 0),
	}
	if s, err := strconv.ParseInt(getenv("SLURM_JOB_END_TIME"), 10, 64); err == nil && s > 0 {
		e.EndTime = time.Unix(s, 0)
	}
	return e
}

// CurrentTask is the TaskEnv of this process.
func CurrentTask() TaskEnv { return ReadTaskEnv(os.Getenv) }

// InJob reports whether the process runs inside a SLURM job.
func (e TaskEnv) InJob() bool { return e.JobID != "" }

// ArrayJob is the ID that names the job's array in squeue and sacct (its
// array job ID), or the job's own ID outside an array.
func (e TaskEnv) ArrayJob() string {
	if e.ArrayJobID != "" {
		return e.ArrayJobID
	}
	return e.JobID
}

// ClientFromEnv returns a Client whose tools are the paths in
// METALAB_SBATCH, METALAB_SQUEUE, METALAB_SCONTROL, METALAB_SCANCEL and
// METALAB_SACCT, read through getenv; an unset one is looked up in PATH.
// Tests point them at stand-in scripts.
func ClientFromEnv(getenv func(string) string) *Client {
	return &Client{
		Sbatch:   getenv("METALAB_SBATCH"),
		Squeue:   getenv("METALAB_SQUEUE"),
		Scontrol: getenv("METALAB_SCONTROL"),
		Scancel:  getenv("METALAB_SCANCEL"),
		Sacct:    getenv("METALAB_SACCT"),
	}
}
