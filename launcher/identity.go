package launcher

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/metalab-hpc/metalab/slurm"
)

// A job ID alone never identifies a job: a controller restarted with a
// clean state hands out 1, 2, ... again, and so do FirstJobId, a
// wrap-around and another cluster that reads a copied store. So every job
// metalab submits carries the store's identity where SLURM keeps it: its
// name (the experiment's, recorded in the submission) and its comment,
// "metalab store=<store ID> submission=<submission ID>" (see
// [store.Manifest.StoreID]). status, cancel, collect and submit's refusal
// check ask squeue for this user's jobs of those names (one call,
// [slurm.Client.Named]) and believe a job is the store's only when its
// comment names this store and one of its submissions, and it was not
// submitted before that submission was made. A recorded job ID that squeue
// does not show that way is somebody else's now, or finished: left alone.

// commentPrefix starts the comment of every job metalab submits.
const commentPrefix = "metalab "

// submitSkew is how far the clocks of the host that submits and of
// slurmctld may disagree before a job looks older than its submission.
const submitSkew = 10 * time.Minute

// jobComment is the sbatch --comment of the jobs of a submission; collect
// marks its collect job.
func jobComment(storeID, subID string, collect bool) string {
	c := commentPrefix + "store=" + storeID + " submission=" + subID
	if collect {
		c += " collect"
	}
	return c
}

// parseJobComment reads a comment that jobComment wrote; ok is false for
// any other.
func parseJobComment(c string) (storeID, subID string, collect, ok bool) {
	rest, found := strings.CutPrefix(c, commentPrefix)
	if !found {
		return "", "", false, false
	}
	for _, f := range strings.Fields(rest) {
		switch k, v, _ := strings.Cut(f, "="); k {
		case "store":
			storeID = v
		case "submission":
			subID = v
		case "collect":
			collect = true
		default:
			return "", "", false, false
		}
	}
	return storeID, subID, collect, storeID != "" && subID != ""
}

// ownedJob is a line of squeue that is provably one of the store's jobs.
type ownedJob struct {
	slurm.JobState
	Sub     *Submission
	Collect bool // the submission's collect job, not an array
}

// jobNames lists the names of the submissions' jobs, each once.
func jobNames(subs []*Submission) []string {
	var names []string
	for _, s := range subs {
		for _, n := range []string{s.JobName, s.CollectName} {
			if n != "" && !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	return names
}

// queuedJobs asks squeue, in one call, for the jobs of the submissions that
// are still pending or running and provably the store's. Submissions made
// before jobs carried the store's identity are not asked about: their
// recorded job IDs prove nothing.
func queuedJobs(ctx context.Context, client *slurm.Client, storeID string, subs []*Submission) ([]ownedJob, error) {
	names := jobNames(subs)
	if storeID == "" || len(names) == 0 {
		return nil, nil
	}
	jobs, err := client.Named(ctx, names)
	if err != nil {
		return nil, err
	}
	byID := map[string]*Submission{}
	for _, s := range subs {
		byID[s.ID] = s
	}
	var owned []ownedJob
	for _, j := range jobs {
		sid, subID, collect, ok := parseJobComment(j.Comment)
		sub := byID[subID]
		switch {
		case !ok || sid != storeID || sub == nil || j.State.Finished():
			continue
		case !j.Submitted.IsZero() && j.Submitted.Before(sub.Created.Add(-submitSkew)):
			continue // older than the submission: not one of its jobs
		}
		owned = append(owned, ownedJob{JobState: j, Sub: sub, Collect: collect})
	}
	return owned, nil
}

// tasks is how many array tasks (or jobs) a line of squeue stands for.
func tasks(j slurm.JobState) int {
	if j.IsArray() {
		return len(j.ArrayTasks)
	}
	return 1
}

// alive reports whether a job in state s may have processes that write:
// it started and has not ended. A requeued task is pending again, and its
// earlier attempt is gone.
func alive(s slurm.State) bool {
	return s != slurm.StatePending && !s.Finished()
}
