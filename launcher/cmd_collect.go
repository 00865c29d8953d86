package launcher

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"github.com/metalab-hpc/metalab/pgstore"
	"github.com/metalab-hpc/metalab/store"
)

type collectOptions struct {
	Store    string
	Verify   bool // read every segment in full, for damage no reader met
	Resubmit bool
	JSON     bool
	Target   string
	// MaxFailures leaves out of --resubmit the runs that failed this often
	// (immediate retries included); 0 means 3 x (1 + retries), three
	// submissions' worth of attempts.
	MaxFailures int
}

func (a *App) cmdCollect() *cli.Command {
	return &cli.Command{
		Name:      "collect",
		Usage:     "merge the node indexes of a store; list and resubmit missing or failed runs",
		ArgsUsage: "[EXPERIMENT]",
		Description: "Merges every node's index (index/nodes/*.sqlite) into the store index, idempotently,\n" +
			"keeping one result per run ID (completed beats failed; the later attempt wins among\n" +
			"equals) and counting duplicates. An index that is missing or corrupt is rebuilt from\n" +
			"the segments. With the experiment (by default the one of the latest submission; a\n" +
			"store holds several, and collect checks one) it lists the runs of its plan that are\n" +
			"missing or failed; --resubmit submits exactly those, leaving\n" +
			"out runs that already failed --max-failures times (default 3 x (1 + retries): the\n" +
			"attempts of three submissions, each with its immediate retries).\n\n" +
			"Damaged segments: collect re-reads the segments in which a reader (results,\n" +
			"summary, ...) met records it could not read, and those that changed in a way an\n" +
			"append-only file never does (cut below what is indexed, or rewritten in place).\n" +
			"It drops the index entries of the records that are gone, so that every command\n" +
			"works again, and reports the damaged ranges and the runs whose records were lost:\n" +
			"they are pending again (or back to another surviving record of theirs), and the\n" +
			"next run or --resubmit runs them. --verify re-reads every segment, for damage that\n" +
			"left no trace (it reads the whole store). Collect exits 0 after a repair.\n\n" +
			"Runs the store has as running are checked against the queue (one squeue call): a run\n" +
			"left running by a SLURM task that has ended, or by a local run that no longer holds\n" +
			"the store, is lost, and counted as missing. With the plan known, collect exits 1\n" +
			"while any run is not completed (missing, failed or still running), and 0 once all\n" +
			"are, or once --resubmit has submitted what is missing.\n\n" +
			"EXAMPLES:\n" +
			"   metalab collect --store /scratch/$USER/sweep\n" +
			"   metalab collect --store /scratch/$USER/sweep --resubmit",
		Flags: []cli.Flag{
			storeFlag(),
			&cli.BoolFlag{Name: "resubmit", Usage: "submit the missing and failed runs again"},
			&cli.BoolFlag{Name: "verify", Usage: "re-read every segment in full and repair the indexes where a segment is damaged"},
			&cli.BoolFlag{Name: "json", Usage: "print the report as JSON"},
			&cli.IntFlag{Name: "max-failures", Usage: "leave out runs that failed this often (default 3 x (1 + retries))"},
		},
		Action: func(c *cli.Context) error {
			return a.runCollect(c.Context, a.logger(c), collectOptions{
				Store: c.String("store"), Verify: c.Bool("verify"), Resubmit: c.Bool("resubmit"), JSON: c.Bool("json"), Target: c.Args().First(),
				MaxFailures: c.Int("max-failures"),
			}, a.Stdout)
		},
	}
}

func (a *App) runCollect(ctx context.Context, log zerolog.Logger, opts collectOptions, out io.Writer) error {
	res, re, err := collectRuns(ctx, collectRequest{
		Store: opts.Store, Verify: opts.Verify, Target: opts.Target, Experiment: a.experiment, MaxFailures: opts.MaxFailures,
		Client: a.slurmClient(),
	})
	if err != nil {
		return err
	}
	if opts.JSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		printCollect(out, a.Name, res, re != nil)
	}
	exportOut := out
	if opts.JSON { // stdout holds the JSON report alone
		exportOut = a.Stderr
	}
	if err := a.exportAfterCollect(ctx, opts.Store, exportOut); err != nil {
		return err
	}
	if !opts.Resubmit {
		return incompleteErr(a.Name, opts.Store, res, re != nil)
	}
	if re == nil {
		return usageErr(fmt.Sprintf("usage: %s collect --store DIR --resubmit EXPERIMENT", a.Name),
			"no submission in %s says which experiment to resubmit", opts.Store)
	}
	if len(re.Only) == 0 {
		fmt.Fprintln(out, "nothing to resubmit")
		return incompleteErr(a.Name, opts.Store, res, false)
	}
	return a.runSubmit(ctx, log, submitOptions{Target: re.Target, Store: opts.Store, only: re.Only,
		announce: fmt.Sprintf("resubmitting %d runs", len(re.Only))}, out)
}

// incompleteErr is collect's error when runs of the plan are not
// completed: exit 1, with a hint to resubmit them when that would help.
func incompleteErr(name, dir string, r collectResult, canResubmit bool) error {
	if r.incomplete() == 0 {
		return nil
	}
	var parts []string
	for _, p := range []struct {
		n    int
		what string
	}{{len(r.MissingIDs), "missing"}, {len(r.FailedIDs), "failed"}, {len(r.RunningIDs), "still running"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	hint := ""
	switch {
	case canResubmit && len(r.MissingIDs)+len(r.FailedIDs)-len(r.ExhaustedIDs) > 0:
		hint = fmt.Sprintf("'%s collect --resubmit --store %s' submits the missing and failed runs again", name, dir)
	case len(r.ExhaustedIDs) > 0:
		hint = fmt.Sprintf("%d runs failed too often to resubmit; see their errors with '%s results --store %s', or raise --max-failures",
			len(r.ExhaustedIDs), name, dir)
	case len(r.RunningIDs) > 0:
		hint = fmt.Sprintf("their tasks are still at work: '%s status --store %s --watch'", name, dir)
	}
	return &exitError{code: ExitRunsFailed, hint: hint,
		err: fmt.Errorf("%d of %d runs are not completed: %s", r.incomplete(), r.Planned, strings.Join(parts, ", "))}
}

func printCollect(out io.Writer, name string, r collectResult, withPlan bool) {
	fmt.Fprintf(out, "collected %d segments, %d new records: %d runs (%d completed, %d failed, %d cancelled, %d running)\n",
		r.Segments, r.Records, r.Runs, r.Completed, r.Failed, r.Cancelled, r.Running)
	if r.Duplicates > 0 {
		fmt.Fprintf(out, "%d duplicate completed records (a run executed twice); one result kept per run ID\n", r.Duplicates)
	}
	for _, t := range r.Torn {
		if inDamage(r.Damaged, t) {
			continue // said below
		}
		fmt.Fprintf(out, "ignored a torn or invalid record in %s at byte %d (%d bytes): %s\n",
			filepath.Base(t.Segment), t.Offset, t.Length, t.Reason)
	}
	for _, d := range r.Damaged {
		fmt.Fprintf(out, "damaged segment %s at byte %d (%d bytes): %d indexed records lost, the winning records of %s\n",
			d.Segment, d.Offset, d.Length, d.Records, nRuns(d.Runs))
	}
	if r.Lost > 0 {
		fmt.Fprintf(out, "repaired the indexes: %s lost the winning record to damage, and %s pending again unless another record survived; '%s run' runs the lost runs again\n",
			nRuns(r.Lost), map[bool]string{true: "is", false: "are"}[r.Lost == 1], name)
	}
	for _, name := range r.Rebuilt {
		fmt.Fprintf(out, "rebuilt index %s from the segments\n", name)
	}
	if !withPlan {
		return
	}
	if r.QueueError != "" {
		fmt.Fprintf(out, "scheduler: not reachable (%s); runs of SLURM tasks are taken to be running\n", firstLine(r.QueueError))
	}
	if len(r.LostIDs) > 0 {
		fmt.Fprintf(out, "lost: %s left running by %s, which ended without recording %s; counted as missing\n",
			nRuns(len(r.LostIDs)), r.Writers, map[bool]string{true: "it", false: "them"}[len(r.LostIDs) == 1])
	}
	fmt.Fprintf(out, "plan of %s: %d runs; %d missing, %d failed (%d of them failed too often to resubmit)",
		r.Experiment, r.Planned, len(r.MissingIDs), len(r.FailedIDs), len(r.ExhaustedIDs))
	if len(r.RunningIDs) > 0 {
		fmt.Fprintf(out, "; %d still running", len(r.RunningIDs))
	}
	fmt.Fprintln(out)
	show := func(label string, ids []string) {
		for i, id := range ids {
			if i == 10 {
				fmt.Fprintf(out, "  ... and %d more (--json lists all)\n", len(ids)-10)
				break
			}
			fmt.Fprintf(out, "  %s %s\n", label, id)
		}
	}
	show("missing", r.MissingIDs)
	show("failed ", r.FailedIDs)
}

// inDamage reports whether the torn line t lies in one of the damaged ranges.
func inDamage(ds []store.Damage, t store.Torn) bool {
	for _, d := range ds {
		if d.Segment == t.Segment && d.Offset <= t.Offset && t.Offset+int64(t.Length) <= d.Offset+d.Length {
			return true
		}
	}
	return false
}

// exportAfterCollect sends the merged store to the PostgreSQL databases its
// experiments name ([store] postgres, [Experiment.Postgres]), as `store
// export` does: only what is new since the last export. A database that
// fails leaves the store as merged, and says how to export again. A
// collect that runs in a SLURM job (the collect job of [slurm] collect)
// exports nothing: compute nodes do not talk to the database.
func (a *App) exportAfterCollect(ctx context.Context, dir string, out io.Writer) error {
	st, err := store.OpenExisting(dir)
	if err != nil {
		return err
	}
	exps, err := st.Experiments()
	if err != nil {
		return err
	}
	var urls []string
	for _, e := range exps {
		if e.Postgres != "" && !slices.Contains(urls, e.Postgres) {
			urls = append(urls, e.Postgres)
		}
	}
	if len(urls) > 0 && os.Getenv("SLURM_JOB_ID") != "" {
		fmt.Fprintf(out, "not exported to %s from a compute node: run %s collect --store %s on the login node\n",
			pgstore.Redact(urls[0]), a.Name, dir)
		return nil
	}
	for _, u := range urls {
		if err := a.runStoreImport(ctx, importOptions{From: dir, To: u}, out); err != nil {
			return &exitError{code: ExitRunsFailed, err: fmt.Errorf("collect: the store is merged, but its export to %s failed: %w", pgstore.Redact(u), err),
				hint: fmt.Sprintf("when the database is back: %s store export --store %s --to %s (it sends only what is new)", a.Name, dir, pgstore.Redact(u))}
		}
	}
	return nil
}
