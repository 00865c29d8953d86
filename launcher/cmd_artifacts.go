package launcher

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/metalab-hpc/metalab/internal/safefs"
	"github.com/metalab-hpc/metalab/internal/tabcell"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/store"
)

type artifactsOptions struct {
	Store string
	// Experiment picks the runs of one experiment, NAME[@VERSION].
	Experiment string
	// RunID picks one run, by its ID or a unique prefix of it.
	RunID string
	// Name picks the artifacts of this name (or file name).
	Name string
	// Copy copies the artifacts to DIR/<run ID>/<file>.
	Copy string
	JSON bool
}

func (a *App) cmdArtifacts() *cli.Command {
	return &cli.Command{
		Name:  "artifacts",
		Usage: "list the artifacts of a store's runs: absolute paths, sizes and SHA-256, or copy them",
		Description: "Lists the files the runs stored as artifacts (capture.artifact in Python, {\"artifact\":\n" +
			"...} lines, files left in $METALAB_ARTIFACT_DIR, c.Artifact in Go): one row per\n" +
			"artifact with its run ID, name, size in bytes, SHA-256 and absolute path, in the\n" +
			"order of 'results'. --run picks one run (a unique prefix of 4+ characters will do),\n" +
			"--name the artifacts of one name (as captured, or the stored file's name), and\n" +
			"--experiment NAME[@VERSION] the runs of one experiment. --json prints a JSON array of\n" +
			"objects with the run's status, replicate and params too (run_id, experiment,\n" +
			"version, status, replicate, params, name, format, size, sha256, path).\n\n" +
			"--copy DIR copies them to DIR/RUN_ID/FILE (DIR is made if need be), checking each\n" +
			"copy against the size and SHA-256 its record gives; an artifact whose file is not\n" +
			"a regular file inside the store (a symlink a run left, say) is not followed and\n" +
			"fails the command, as does one whose content no longer matches.\n\n" +
			damageHelp + "\n\n" +
			"EXAMPLES:\n" +
			"   metalab artifacts --store runs/sweep\n" +
			"   metalab artifacts --store runs/sweep --run 3f2a --name model\n" +
			"   metalab artifacts --store runs/sweep --name coef --copy out/\n" +
			"   metalab artifacts --store runs/sweep --json",
		Flags: []cli.Flag{
			storeFlag(),
			experimentFlag(),
			&cli.StringFlag{Name: "run", Usage: "only the artifacts of run `ID` (or a unique prefix of 4+ characters)"},
			&cli.StringFlag{Name: "name", Aliases: []string{"n"}, Usage: "only the artifacts named `NAME` (as captured, or the file's name)"},
			&cli.StringFlag{Name: "copy", Usage: "copy the artifacts to `DIR`/RUN_ID/FILE"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErr(fmt.Sprintf("name a run with --run: %s artifacts --store DIR --run %s", a.Name, c.Args().First()),
					"artifacts takes no arguments, got %d", c.NArg())
			}
			return a.runArtifacts(c.Context, artifactsOptions{
				Store:      c.String("store"),
				Experiment: c.String("experiment"),
				RunID:      c.String("run"),
				Name:       c.String("name"),
				Copy:       c.String("copy"),
				JSON:       c.Bool("json"),
			}, a.Stdout, a.Stderr)
		},
	}
}

// artifactEntry is one artifact of one run, as artifacts lists it.
type artifactEntry struct {
	RunID      string       `json:"run_id"`
	Experiment string       `json:"experiment"`
	Version    string       `json:"version"`
	Status     store.Status `json:"status"`
	Replicate  int          `json:"replicate"`
	Params     params.Point `json:"params"`
	Name       string       `json:"name"`
	Format     string       `json:"format"`
	Size       int64        `json:"size"`
	SHA256     string       `json:"sha256"`
	Path       string       `json:"path"` // absolute
	rel        string       // relative to the store, with slashes
}

// runArtifacts lists (or copies) the artifacts to out, with warnings and
// what it copied on errOut.
func (a *App) runArtifacts(ctx context.Context, opts artifactsOptions, out, errOut io.Writer) error {
	st, only, err := a.openCollected(ctx, opts.Store, opts.Experiment, errOut)
	if err != nil {
		return err
	}
	defer st.Close()
	var runs []*Record
	var damage error
	if opts.RunID != "" {
		run, err := findRun(st, opts.RunID, a.Name)
		if run == nil {
			return damageExit(a.Name, opts.Store, err)
		}
		runs, damage = []*Record{run}, err
	} else {
		damage = st.Records(func(r *store.Record) error {
			if only.match(r) && len(r.Artifacts) > 0 {
				runs = append(runs, r)
			}
			return nil
		})
		if damage != nil && !errors.As(damage, new(*store.DamageError)) {
			return damage
		}
		sortRuns(runs)
	}
	abs, err := filepath.Abs(st.Dir())
	if err != nil {
		return err
	}
	var entries []artifactEntry
	names := map[string]bool{}
	for _, r := range runs {
		for _, art := range r.Artifacts {
			names[art.Name] = true
			rel, ok := artifactRel(st, r.RunID, art.Path)
			if !ok {
				fmt.Fprintf(errOut, "%s: warning: the record of run %s gives artifact %q the path %q, outside the run's artifact directory; left out\n",
					a.Name, r.RunID, art.Name, art.Path)
				continue
			}
			if opts.Name != "" && opts.Name != art.Name && opts.Name != path.Base(rel) {
				continue
			}
			entries = append(entries, artifactEntry{RunID: r.RunID, Experiment: r.Experiment, Version: r.Version,
				Status: r.Status, Replicate: r.Replicate, Params: r.Params, Name: art.Name, Format: art.Format,
				Size: art.Size, SHA256: art.SHA256, Path: filepath.Join(abs, filepath.FromSlash(rel)), rel: rel})
		}
	}
	if len(entries) == 0 && opts.Name != "" && len(names) > 0 {
		list := sortedKeys(names)
		hint := "artifacts of these runs: " + strings.Join(list, ", ")
		if best := closest(opts.Name, list); best != "" {
			hint = fmt.Sprintf("did you mean %s? %s", best, hint)
		}
		return usageErr(hint, "no artifact named %q", opts.Name)
	}
	if opts.Copy != "" {
		if err := copyArtifacts(st, entries, opts.Copy); err != nil {
			return err
		}
		if len(entries) > 0 {
			fmt.Fprintf(errOut, "%s: copied %d artifacts to %s\n", a.Name, len(entries), filepath.Join(opts.Copy, "RUN_ID", "FILE"))
		}
	}
	if opts.JSON {
		if entries == nil {
			entries = []artifactEntry{}
		}
		enc := json.NewEncoder(out)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		err = enc.Encode(entries)
	} else {
		err = writeArtifactTable(out, entries)
	}
	if err != nil {
		return err
	}
	return damageExit(a.Name, opts.Store, damage)
}

// artifactRel checks the path a record gives an artifact (a segment anyone
// with write access to the store could have edited): it must name a file
// directly in the run's artifact directory.
func artifactRel(st *store.Store, runID, p string) (string, bool) {
	dir := st.ArtifactRel(runID)
	clean := path.Clean(p)
	if clean != p || path.Dir(clean) != dir || !filepath.IsLocal(clean) {
		return "", false
	}
	return clean, true
}

// writeArtifactTable writes the entries as an aligned table.
func writeArtifactTable(w io.Writer, entries []artifactEntry) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "run_id\tname\tsize\tsha256\tpath")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", e.RunID, tabcell.Shorten(e.Name, 40), e.Size, e.SHA256, e.Path)
	}
	return tw.Flush()
}

// copyArtifacts copies each artifact to dir/<run ID>/<file>. The store's
// files are opened without following a symlink in any component, and only
// a regular file is read, at most the size its record gives; the copy is
// written to a temporary name inside dir's root and renamed into place
// (replacing, not following, whatever is at the name) once its SHA-256 is
// that of the record.
func copyArtifacts(st *store.Store, entries []artifactEntry, dir string) error {
	if len(entries) == 0 {
		return nil
	}
	if err := os.MkdirAll(dir, safefs.DirCreate); err != nil {
		return inputErr(fmt.Errorf("--copy: %w", err), "give a directory metalab may create and write")
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return inputErr(fmt.Errorf("--copy: %w", err), "give a directory metalab may create and write")
	}
	defer root.Close()
	for _, e := range entries {
		if err := copyArtifact(st, root, e); err != nil {
			return fmt.Errorf("artifact %q of run %s: %w", e.Name, e.RunID, err)
		}
	}
	return nil
}

func copyArtifact(st *store.Store, root *os.Root, e artifactEntry) error {
	src, err := st.OpenFile(e.rel)
	if err != nil {
		return err
	}
	defer src.Close()
	sub, err := safefs.OpenDirIn(root, e.RunID, true)
	if err != nil {
		return err
	}
	defer sub.Close()
	file := path.Base(e.rel)
	tmp := ".tmp-" + file
	sub.Remove(tmp) // what an interrupted copy left
	dst, err := sub.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, safefs.FileCreate)
	if err != nil {
		return err
	}
	defer sub.Remove(tmp)
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(dst, h), io.LimitReader(src, e.Size+1))
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		return err
	case n != e.Size || hex.EncodeToString(h.Sum(nil)) != e.SHA256:
		return fmt.Errorf("%s does not hold what its record says (%d bytes and the SHA-256 %s): the file was changed after the run stored it; nothing copied",
			src.Name(), e.Size, e.SHA256)
	}
	return sub.Rename(tmp, file)
}
