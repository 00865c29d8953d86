package slurm

// State is a job state as squeue (%T), scontrol and sacct name it.
type State string

// The states metalab acts on; squeue and sacct print others too
// (CONFIGURING, REQUEUED, SUSPENDED, ...), which are kept as printed.
const (
	StatePending     State = "PENDING"
	StateRunning     State = "RUNNING"
	StateCompleting  State = "COMPLETING"
	StateCompleted   State = "COMPLETED"
	StateCancelled   State = "CANCELLED"
	StateFailed      State = "FAILED"
	StateTimeout     State = "TIMEOUT"
	StateNodeFail    State = "NODE_FAIL"
	StateOutOfMemory State = "OUT_OF_MEMORY"
	StatePreempted   State = "PREEMPTED"
	StateBootFail    State = "BOOT_FAIL"
	StateDeadline    State = "DEADLINE"
)

// Finished reports whether a job in state s has ended and will not run
// again on its own. COMPLETING is not finished: the job's processes may still
// be writing.
func (s State) Finished() bool {
	switch s {
	case StateCompleted, StateCancelled, StateFailed, StateTimeout, StateNodeFail,
		StateOutOfMemory, StatePreempted, StateBootFail, StateDeadline:
		return true
	}
	return false
}

// validState reports whether s looks like a state name: upper-case letters
// and underscores.
func validState(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < 'A' || r > 'Z') && r != '_' {
			return false
		}
	}
	return true
}
