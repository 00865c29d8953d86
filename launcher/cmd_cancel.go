package launcher

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/metalab-hpc/metalab/store"
)

type cancelOptions struct {
	Store string
	// Submission, if set, cancels only the jobs of this submission.
	Submission string
}

func (a *App) cmdCancel() *cli.Command {
	return &cli.Command{
		Name:  "cancel",
		Usage: "cancel the SLURM jobs of a store's submissions",
		Description: "Asks squeue, once, for this user's jobs of the store's submissions (or of\n" +
			"--submission ID) that are still queued or running, and cancels exactly those with\n" +
			"one scancel. A job is the store's only if its name and comment say so: job IDs are\n" +
			"recycled, so a recorded ID that now names another job is left alone. Results\n" +
			"already written stay; submit again to resume.\n\n" +
			"EXAMPLES:\n" +
			"   metalab cancel --store /scratch/$USER/sweep",
		Flags: []cli.Flag{
			storeFlag(),
			&cli.StringFlag{Name: "submission", Usage: "only this submission `ID`"},
		},
		Action: func(c *cli.Context) error {
			return a.runCancel(c.Context, cancelOptions{Store: c.String("store"), Submission: c.String("submission")}, a.Stdout)
		},
	}
}

func (a *App) runCancel(ctx context.Context, opts cancelOptions, out io.Writer) error {
	st, err := store.OpenExisting(opts.Store)
	if err != nil {
		return err
	}
	defer st.Close()
	subs, err := listSubmissions(st.Dir())
	if err != nil {
		return err
	}
	if opts.Submission != "" {
		subs = slices.DeleteFunc(subs, func(s *Submission) bool { return s.ID != opts.Submission })
	}
	if len(subs) == 0 {
		fmt.Fprintln(out, "no submitted jobs to cancel")
		return nil
	}
	m, err := st.Manifest()
	if err != nil {
		return err
	}
	jobs, err := queuedJobs(ctx, a.slurmClient(), m.StoreID(), subs)
	if err != nil {
		return err
	}
	// One scancel per array job cancels all its tasks.
	var ids []string
	states := map[string]map[string]int{}
	for _, j := range jobs {
		id := j.ArrayJobID
		if states[id] == nil {
			ids = append(ids, id)
			states[id] = map[string]int{}
		}
		states[id][strings.ToLower(string(j.State))] += tasks(j.JobState)
	}
	found := map[string]bool{}
	for _, id := range ids {
		found[id] = true
	}
	var aside []string
	for _, id := range jobIDs(subs, "") {
		if !found[id] {
			aside = append(aside, id)
		}
	}
	if len(ids) > 0 {
		if err := a.slurmClient().Cancel(ctx, ids...); err != nil {
			return err
		}
	}
	said := map[string]bool{}
	for _, j := range jobs {
		id := j.ArrayJobID
		if said[id] {
			continue
		}
		said[id] = true
		var what []string
		for _, st := range sortedKeys(boolKeys(states[id])) {
			what = append(what, fmt.Sprintf("%d %s", states[id][st], st))
		}
		kind := "tasks"
		if j.Collect {
			kind = "collect job"
		}
		fmt.Fprintf(out, "cancelled job %s of submission %s (%s: %s)\n", id, j.Sub.ID, kind, strings.Join(what, ", "))
	}
	if len(ids) == 0 {
		fmt.Fprintln(out, "no job of the store is queued or running: nothing cancelled")
	}
	if len(aside) > 0 {
		fmt.Fprintf(out, "left alone: %s recorded in the store, no longer queued as its %s (ended, or the ID is another job's now)\n",
			listIDs(aside, 10), map[bool]string{true: "job", false: "jobs"}[len(aside) == 1])
	}
	return nil
}

// listIDs names job IDs for a message: "job 4", "jobs 4, 5 and 6", at most
// most of them and how many more.
func listIDs(ids []string, most int) string {
	if len(ids) == 1 {
		return "job " + ids[0]
	}
	if len(ids) > most {
		return fmt.Sprintf("jobs %s and %d more", strings.Join(ids[:most], ", "), len(ids)-most)
	}
	return fmt.Sprintf("jobs %s and %s", strings.Join(ids[:len(ids)-1], ", "), ids[len(ids)-1])
}
