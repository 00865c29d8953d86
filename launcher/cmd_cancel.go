package launcher

import (
	"context"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/metalab-hpc/metalab/store"
)

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
			return a.runCancel(c.Context, c.String("store"), c.String("submission"), a.Stdout)
		},
	}
}

func (a *App) runCancel(ctx context.Context, dir, only string, out io.Writer) error {
	st, err := store.OpenExisting(dir)
	if err != nil {
		return err
	}
	st.Close()
	subs, err := listSubmissions(dir)
	if err != nil {
		return err
	}
	var ids []string
	for _, s := range subs {
		if only == "" || s.ID == only {
			ids = append(ids, s.JobIDs()...)
		}
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
