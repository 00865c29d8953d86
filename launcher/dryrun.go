package launcher

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"

	"github.com/metalab-hpc/metalab/internal/tabcell"
	"github.com/metalab-hpc/metalab/params"
)

// dryRunShown is how many of the runs to run a dry run lists.
const dryRunShown = 5

// dryRun prints what `run` would do with exp and opts, and does none of it:
// the plan's size, how many of its runs the store has completed, how many
// would run and on how many workers, and the first few of them. It writes
// nothing to the store: of a store that does not exist yet it plans against
// an empty one in a scratch directory, as `submit --dry-run` does. What run
// would refuse (a plan too large, a directory that is not a store) it
// refuses the same way.
func (a *App) dryRun(ctx context.Context, exp *Experiment, opts runOptions, out io.Writer) error {
	plan, err := NewPlan(exp)
	if err != nil {
		return err
	}
	limit := opts.MaxPlanTime
	if limit == 0 {
		limit = DefaultMaxPlanTime
	}
	if limit > 0 {
		if err := checkPlanTime(plan, limit, planCost(plan)); err != nil {
			return err
		}
	}
	where := "a new temporary directory (no --store given)"
	var ps planState
	if opts.Store != "" {
		dir, err := filepath.Abs(opts.Store)
		if err != nil {
			return err
		}
		where = dir
		st, scratch, err := openStoreFor(dir, true)
		if err != nil {
			return err
		}
		defer func() {
			st.Close()
			if scratch != "" {
				os.RemoveAll(scratch)
			}
		}()
		if scratch != "" {
			where += " (does not exist yet)"
		}
		if ps, err = readPlanState(ctx, st, plan, nil, opts.RerunChanged); err != nil {
			return err
		}
	} else {
		ps.todo, ps.planCounts = pendingRuns(plan, nil, nil, nil, false)
	}
	todo := ps.todo
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.NumCPU()
	}
	printPlanLine(out, a.Name, "run", exp, ps)
	fmt.Fprintf(out, "store: %s\n", where)
	if todo.Len() > 0 {
		fmt.Fprintf(out, "workers: %d\n", min(workers, todo.Len()))
		shown := min(dryRunShown, todo.Len())
		fmt.Fprintf(out, "first %d to run:\n", shown)
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  run_id\treplicate\tparams")
		n := 0
		todo.each(func(i int) bool {
			spec := plan.At(i)
			fmt.Fprintf(tw, "  %s\t%d\t%s\n", spec.ID, spec.Replicate, formatPoint(spec.Params))
			n++
			return n < shown
		})
		tw.Flush()
		if rest := todo.Len() - shown; rest > 0 {
			fmt.Fprintf(out, "  ... and %d more\n", rest)
		}
	}
	fmt.Fprintln(out, "dry run: nothing run")
	return nil
}

// printPlanLine says what a plan holds and what the store has of it: the
// same line for run, run --dry-run and submit (--dry-run), which says
// "to submit" for "to run".
func printPlanLine(out io.Writer, name, verb string, exp *Experiment, ps planState) {
	fmt.Fprintf(out, "experiment %s: %d runs, %d already completed, %d to %s\n", experimentName(exp.Name, exp.Version), ps.total, ps.skipped, ps.todo.Len(), verb)
	if ps.dups > 0 {
		fmt.Fprintf(out, "the param source produced %d identical points; each runs once\n", ps.dups)
	}
	if ps.outside > 0 {
		fmt.Fprintf(out, "the store also keeps %s of this experiment that the plan no longer has; '%s results' reports them\n",
			nRuns(ps.outside), name)
	}
	printChange(out, name, verb, ps)
}

// printChange warns of an operation that is not the one the store recorded
// for the experiment, and of completed runs that came from other code;
// verb is the command that runs them again.
func printChange(out io.Writer, name, verb string, ps planState) {
	if ps.change != nil {
		fmt.Fprintf(out, "warning: %s\nhint: %s\n", ps.change, ps.change.Hint())
	}
	if ps.code != nil {
		fmt.Fprintf(out, "warning: %s\n", ps.code.message(name, verb))
	}
}

// experimentName is how messages name an experiment version: "NAME
// (version V)", or NAME for one without a version.
func experimentName(name, version string) string {
	if version == "" {
		return name
	}
	return name + " (version " + version + ")"
}

// formatPoint writes a param point as name=value pairs, names sorted.
func formatPoint(p params.Point) string {
	parts := make([]string, 0, len(p))
	for _, k := range p.Keys() {
		parts = append(parts, k+"="+tabcell.Shorten(params.Format(p[k]), 40))
	}
	return strings.Join(parts, " ")
}
