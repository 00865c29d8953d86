package launcher

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"github.com/metalab-hpc/metalab/pgstore"
	"github.com/metalab-hpc/metalab/store"
)

type storeListOptions struct {
	Store string // a directory or a PostgreSQL URL
	JSON  bool
}

func (a *App) cmdStore() *cli.Command {
	return &cli.Command{
		Name:  "store",
		Usage: "export a store to PostgreSQL, import between stores, list what a store holds",
		Description: "A store is a directory, the source of truth that sweeps write, or a PostgreSQL\n" +
			"database (a URL postgres://USER:PASSWORD@HOST:PORT/DB?sslmode=disable) that keeps an\n" +
			"index of any number of store directories for SQL across all of them. Compute nodes\n" +
			"never talk to the database: export from the login node. docs/postgres.md has the\n" +
			"tables and example SQL.\n\n" +
			"EXAMPLES:\n" +
			"   metalab store export --store runs/pi --to postgres://metalab:pw@db:5432/lab\n" +
			"   metalab store list --store postgres://metalab:pw@db:5432/lab\n" +
			"   metalab store import --from cluster-runs/pi --to runs/pi\n" +
			"   metalab store import --from python:~/pystore --to runs/imported",
		Subcommands: []*cli.Command{a.cmdStoreExport(), a.cmdStoreImport(), a.cmdStoreList()},
	}
}

func (a *App) cmdStoreExport() *cli.Command {
	return &cli.Command{
		Name:  "export",
		Usage: "send a store's new records to a PostgreSQL database",
		Description: "Reads the store's segments from where the last export of this store stopped\n" +
			"(the database keeps, per store and segment, how many bytes it has), and sends what\n" +
			"is new by COPY, in transactions that each record how far they got: a second export\n" +
			"sends only what is new, and an export that was killed or lost its server loses\n" +
			"nothing and sends nothing twice when it runs again. Of each run the database keeps\n" +
			"one record, the one the store would keep (completed beats failed, then the later).\n" +
			"The store is only read. Artifacts go in as path, size and hash; --include-artifacts\n" +
			"copies their bytes too. The database gets metalab's tables the first time; a\n" +
			"database whose tables are of another metalab schema version is refused.\n\n" +
			"EXAMPLES:\n" +
			"   metalab store export --store runs/pi --to postgres://metalab:pw@127.0.0.1:5432/lab?sslmode=disable\n" +
			"   metalab store export --store /scratch/$USER/sweep --to $LAB_DB --include-artifacts",
		Flags: []cli.Flag{
			storeFlag(),
			&cli.StringFlag{Name: "to", Usage: "the database, `postgres://USER:PASSWORD@HOST:PORT/DB`", Required: true},
			&cli.BoolFlag{Name: "include-artifacts", Usage: "copy the artifacts' bytes into the database"},
			&cli.BoolFlag{Name: "overwrite", Usage: "replace the database's record of a run by the store's even when the database's is better"},
		},
		Action: func(c *cli.Context) error {
			if !pgstore.IsURL(c.String("to")) {
				return usageErr("give a URL postgres://USER:PASSWORD@HOST:PORT/DB; 'store import' copies between directories", "--to %q is not a PostgreSQL URL", c.String("to"))
			}
			return a.runStoreImport(c.Context, importOptions{From: c.String("store"), To: c.String("to"),
				IncludeArtifacts: c.Bool("include-artifacts"), Overwrite: c.Bool("overwrite")}, a.Stdout)
		},
	}
}

func (a *App) cmdStoreImport() *cli.Command {
	return &cli.Command{
		Name:  "import",
		Usage: "copy the runs of one store into another",
		Description: "SRC and DST are each a store directory or a PostgreSQL URL; SRC may also be\n" +
			"python:DIR, a file store of the Python metalab library (its run IDs are kept, its\n" +
			"status success becomes completed, its stepped metrics series, and each record says\n" +
			"it was imported; its artifacts are copied). A DST directory that does not exist is\n" +
			"made. Each run keeps one record in DST: the better of the two (completed beats\n" +
			"failed, then the later), so importing a laptop's store into a cluster's, or the\n" +
			"same store twice, loses nothing and duplicates nothing. SRC is only read.\n\n" +
			"--include-artifacts copies the artifacts' bytes (from a database, those an export\n" +
			"with --include-artifacts put there). --overwrite replaces what DST has: in a\n" +
			"database a run's record whatever its status; in a directory, which is append-only\n" +
			"and keeps its best record of each run, artifact files with other bytes (without\n" +
			"it, those are an error).\n\n" +
			"EXAMPLES:\n" +
			"   metalab store import --from laptop/pi --to /scratch/$USER/pi\n" +
			"   metalab store import --from runs/pi --to postgres://metalab:pw@db/lab --experiment pi_mc@0.2\n" +
			"   metalab store import --from postgres://metalab:pw@db/lab --to runs/copy --experiment pi_mc\n" +
			"   metalab store import --from python:~/metalab-store --to runs/from-python --include-artifacts",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "from", Usage: "source `SRC`: a store directory, a PostgreSQL URL, or python:DIR", Required: true},
			&cli.StringFlag{Name: "to", Usage: "destination `DST`: a store directory or a PostgreSQL URL", Required: true},
			experimentFlag(),
			&cli.BoolFlag{Name: "include-artifacts", Usage: "copy the artifacts' bytes"},
			&cli.BoolFlag{Name: "overwrite", Usage: "replace what the destination has (see above)"},
		},
		Action: func(c *cli.Context) error {
			if pythonSrc := c.String("to"); len(pythonSrc) > len(pythonPrefix) && pythonSrc[:len(pythonPrefix)] == pythonPrefix {
				return usageErr("metalab imports from the Python library's store, and writes its own", "--to cannot be a python: store")
			}
			return a.runStoreImport(c.Context, importOptions{From: c.String("from"), To: c.String("to"), Experiment: c.String("experiment"),
				IncludeArtifacts: c.Bool("include-artifacts"), Overwrite: c.Bool("overwrite")}, a.Stdout)
		},
	}
}

func (a *App) cmdStoreList() *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list the experiments, versions and run counts of a store directory or database",
		Description: "One row per experiment version: its runs, and how many are completed, failed,\n" +
			"cancelled or running. Of a directory, the counts come from a collect of its\n" +
			"indexes, as status does.\n\n" +
			"EXAMPLES:\n" +
			"   metalab store list --store runs/pi\n" +
			"   metalab store list --store postgres://metalab:pw@127.0.0.1:5432/lab --json",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "store", Aliases: []string{"s"}, Usage: "store `DIR` or PostgreSQL URL", Required: true},
			&cli.BoolFlag{Name: "json", Usage: "print a JSON array"},
		},
		Action: func(c *cli.Context) error {
			return a.runStoreList(c.Context, storeListOptions{Store: c.String("store"), JSON: c.Bool("json")}, a.Stdout)
		},
	}
}

// runStoreImport transfers and says what it did.
func (a *App) runStoreImport(ctx context.Context, o importOptions, out io.Writer) error {
	rep, err := transfer(ctx, o)
	if err != nil {
		return err
	}
	from, to := o.From, o.To
	if pgstore.IsURL(from) {
		from = pgstore.Redact(from)
	}
	if pgstore.IsURL(to) {
		to = pgstore.Redact(to)
	}
	fmt.Fprintf(out, "%s -> %s: %d records read, %d runs added, %d updated, %d kept as they were",
		from, to, rep.Read, rep.Added, rep.Updated, rep.Kept)
	if rep.Artifacts > 0 {
		fmt.Fprintf(out, ", %d artifact files copied", rep.Artifacts)
	}
	fmt.Fprintf(out, " (%d experiments)\n", rep.Experiments)
	if n := len(rep.Torn); n > 0 {
		t := rep.Torn[0]
		a.say(zerolog.WarnLevel, fmt.Sprintf("%d lines of %s are not records and were skipped, as its readers skip them; the first: segment %s at offset %d: %s",
			n, from, t.Segment, t.Offset, t.Reason))
	}
	return nil
}

func (a *App) runStoreList(ctx context.Context, o storeListOptions, out io.Writer) error {
	var rows []pgstore.ExperimentCount
	if pgstore.IsURL(o.Store) {
		connURL, exp, err := pgstore.SplitURL(o.Store)
		if err != nil {
			return err
		}
		db, err := pgstore.Open(ctx, connURL)
		if err != nil {
			return err
		}
		defer db.Close()
		if rows, err = db.List(ctx, pgstore.Filter(exp)); err != nil {
			return err
		}
	} else {
		var err error
		if rows, err = listDir(ctx, o.Store); err != nil {
			return err
		}
	}
	if o.JSON {
		if rows == nil {
			rows = []pgstore.ExperimentCount{}
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "experiment\tversion\truns\tcompleted\tfailed\tcancelled\trunning")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\n", r.Experiment, r.Version, r.Runs, r.Completed, r.Failed, r.Cancelled, r.Running)
	}
	return tw.Flush()
}

// listDir counts the runs of each experiment version of a store directory.
func listDir(ctx context.Context, dir string) ([]pgstore.ExperimentCount, error) {
	st, err := store.OpenExisting(dir)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if _, err := st.Collect(ctx); err != nil {
		return nil, err
	}
	exps, err := st.Experiments()
	if err != nil {
		return nil, err
	}
	counts, err := st.CountByExperiment()
	if err != nil {
		return nil, err
	}
	var rows []pgstore.ExperimentCount
	seen := map[string]bool{}
	for _, e := range exps {
		seen[e.Ref()] = true
		c := counts[e.Ref()]
		if c == nil {
			c = &store.Counts{}
		}
		rows = append(rows, pgstore.ExperimentCount{Experiment: e.Name, Version: e.Version, Runs: c.Runs(), Counts: *c})
	}
	// Runs of an experiment the store has no record of (written by hand,
	// or by a metalab that kept none): listed too.
	for ref, c := range counts {
		if !seen[ref] {
			name, version := splitRef(ref)
			rows = append(rows, pgstore.ExperimentCount{Experiment: name, Version: version, Runs: c.Runs(), Counts: *c})
		}
	}
	return rows, nil
}

func splitRef(ref string) (string, string) {
	for i := len(ref) - 1; i >= 0; i-- {
		if ref[i] == '@' {
			return ref[:i], ref[i+1:]
		}
	}
	return ref, ""
}
