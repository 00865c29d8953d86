package launcher

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/metalab-hpc/metalab/store"
)

type statusOptions struct {
	Store string
	JSON  bool
}

// storeStatus is what a store says about its sweep.
type storeStatus struct {
	Experiment string `json:"experiment"`
	Version    string `json:"version"`
	Store      string `json:"store"`
	Total      int    `json:"total"`
	Completed  int    `json:"completed"`
	Failed     int    `json:"failed"`
	Cancelled  int    `json:"cancelled"`
	Running    int    `json:"running"`
	Pending    int    `json:"pending"`
}

func (a *App) cmdStatus() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "count runs by status in a store",
		Description: "Counts from the store: completed, failed, cancelled, running (started, no end\n" +
			"record yet) and pending (never started).\n\n" +
			"EXAMPLES:\n" +
			"   metalab status --store runs/pi\n" +
			"   metalab status --store runs/pi --json",
		Flags: []cli.Flag{
			storeFlag(),
			&cli.BoolFlag{Name: "json", Usage: "print one JSON object"},
		},
		Action: func(c *cli.Context) error {
			return a.runStatus(c.Context, statusOptions{Store: c.String("store"), JSON: c.Bool("json")}, a.Stdout)
		},
	}
}

func readStoreStatus(ctx context.Context, dir string) (storeStatus, error) {
	st, err := store.OpenExisting(dir)
	if err != nil {
		return storeStatus{}, err
	}
	defer st.Close()
	var s storeStatus
	s.Store = st.Dir()
	m, err := st.Manifest()
	if err != nil {
		return s, err
	}
	if m != nil {
		s.Experiment, s.Version = m.Experiment, m.Version
		var spec struct {
			Runs int `json:"runs"`
		}
		_ = json.Unmarshal(m.Spec, &spec)
		s.Total = spec.Runs
	}
	if _, err := st.Collect(ctx); err != nil {
		return s, err
	}
	statuses, err := st.Statuses()
	if err != nil {
		return s, err
	}
	for _, v := range statuses {
		switch v {
		case store.StatusCompleted:
			s.Completed++
		case store.StatusFailed:
			s.Failed++
		case store.StatusCancelled:
			s.Cancelled++
		case store.StatusRunning:
			s.Running++
		}
	}
	known := s.Completed + s.Failed + s.Cancelled + s.Running
	if s.Total < known {
		s.Total = known
	}
	s.Pending = s.Total - known
	return s, nil
}

func (a *App) runStatus(ctx context.Context, opts statusOptions, out io.Writer) error {
	s, err := readStoreStatus(ctx, opts.Store)
	if err != nil {
		return err
	}
	if opts.JSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	fmt.Fprintf(out, "experiment %s (version %s) in %s\n", s.Experiment, s.Version, s.Store)
	fmt.Fprintf(out, "%d runs: %d completed, %d failed, %d cancelled, %d running, %d pending\n",
		s.Total, s.Completed, s.Failed, s.Cancelled, s.Running, s.Pending)
	return nil
}
