package launcher

import (
	"context"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"
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
		Description: "Runs one scancel for the jobs of every submission recorded in the store (or of\n" +
			"--submission ID). Results already written stay; submit again to resume.\n\n" +
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
	ids, err := submittedJobs(opts.Store, opts.Submission)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		fmt.Fprintln(out, "no submitted jobs to cancel")
		return nil
	}
	if err := a.slurmClient().Cancel(ctx, ids...); err != nil {
		return err
	}
	fmt.Fprintf(out, "cancelled jobs %v\n", ids)
	return nil
}
