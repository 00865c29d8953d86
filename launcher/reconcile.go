package launcher

import (
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/metalab-hpc/metalab/store"
)

// A run's start record says "running" until its writer appends the end
// record. A writer that dies first (its node lost, SIGKILL after KillWait,
// an out-of-memory kill) leaves it saying so for ever. status and collect
// therefore ask whether the writer can still be at work: the worker of a
// SLURM task only while the task is among the store's jobs that have
// started and not ended (by the identity of identity.go), and a local
// process only while it holds the store's lock. Runs whose writer is gone
// are lost: not running, pending again, and resubmitted.

// lostRun is a run the store has as running whose writer is gone.
type lostRun struct {
	RunID string
	// Experiment and Version are the run's (a store holds several).
	Experiment, Version string
	// Writer names it for people: "job 12_3" or "host node1 pid 4242".
	Writer string
}

// lostRuns reads the store's running records (as of its last Collect) and
// returns those whose writer is gone. jobs are the store's jobs in the
// queue; with queueKnown false (the scheduler did not answer) the runs of
// SLURM tasks are taken to be running, as nothing says otherwise.
func lostRuns(st *store.Store, jobs []ownedJob, queueKnown bool) ([]lostRun, error) {
	sn, err := st.SnapshotOf(store.StatusRunning, 0)
	if err != nil {
		return nil, err
	}
	if sn.Len() == 0 {
		return nil, nil
	}
	live := map[string]bool{} // "array job_task", or a job ID, of a started task
	for _, j := range jobs {
		if !alive(j.State) {
			continue
		}
		for _, t := range j.ArrayTasks {
			live[j.ArrayJobID+"_"+strconv.Itoa(t)] = true
		}
		live[j.RawJobID] = true
	}
	var holders []store.LockHolder
	holdersRead := false
	var lost []lostRun
	err = sn.Records(func(r *store.Record) error {
		switch {
		case r.SlurmArrayJobID != "" && r.SlurmTaskID != "":
			task := r.SlurmArrayJobID + "_" + r.SlurmTaskID
			if queueKnown && !live[task] {
				lost = append(lost, lostRun{RunID: r.RunID, Experiment: r.Experiment, Version: r.Version, Writer: "job " + task})
			}
		case r.SlurmJobID != "":
			if queueKnown && !live[r.SlurmJobID] {
				lost = append(lost, lostRun{RunID: r.RunID, Experiment: r.Experiment, Version: r.Version, Writer: "job " + r.SlurmJobID})
			}
		default:
			if !holdersRead {
				var err error
				if holders, err = st.Holders(); err != nil {
					return err
				}
				holdersRead = true
			}
			if !slices.ContainsFunc(holders, func(h store.LockHolder) bool { return h.Runs(r.Host, r.PID) }) {
				lost = append(lost, lostRun{RunID: r.RunID, Experiment: r.Experiment, Version: r.Version, Writer: fmt.Sprintf("host %s pid %d", r.Host, r.PID)})
			}
		}
		return nil
	})
	var damage *store.DamageError
	if err != nil && !errors.As(err, &damage) {
		return nil, err
	}
	// A running record lost to damage is reported by Collect already.
	return lost, nil
}

// writers lists the writers of lost runs for a message: at most max of
// them, each once, and how many more.
func writers(lost []lostRun, most int) string {
	var ws []string
	for _, l := range lost {
		if !slices.Contains(ws, l.Writer) {
			ws = append(ws, l.Writer)
		}
	}
	s := ""
	for i, w := range ws {
		if i == most {
			s += fmt.Sprintf(" and %d more", len(ws)-most)
			break
		}
		if i > 0 {
			s += ", "
		}
		s += w
	}
	return s
}
