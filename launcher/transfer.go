package launcher

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/internal/host"
	"github.com/metalab-hpc/metalab/pgstore"
	"github.com/metalab-hpc/metalab/pystore"
	"github.com/metalab-hpc/metalab/store"
)

// Transfer between stores: a source of records (a store directory, a
// PostgreSQL database, a Python library's store) and a destination (a
// store directory or a database). Each run keeps one record in the
// destination, the one that wins by the store's rule (store.Record.Beats):
// a completed record beats a failed one, whichever side has it. The source
// is only read: a store directory's segments are read directly, without
// a Collect, which would write its index.

// pythonPrefix marks a source that is a Python library's store.
const pythonPrefix = "python:"

// transferSource is where records come from.
type transferSource struct {
	name        string // as the user gave it, a URL's password hidden
	experiments []store.ExperimentInfo
	// each calls fn with every record the source picked, one per run.
	each func(ctx context.Context, fn func(*store.Record) error) error
	// artifact opens the bytes of the i-th artifact of rec; it returns
	// nil, nil when the source has none of them.
	artifact func(ctx context.Context, rec *store.Record, i int) (io.ReadCloser, error)
	// withArtifacts: the source's records are written with their
	// artifacts whatever --include-artifacts says (a Python store's
	// artifacts have no other home).
	withArtifacts bool
	close         func()
}

// openSource opens src, a store directory, a PostgreSQL URL or
// python:DIR, picking the experiments of filter ("" for all).
func openSource(ctx context.Context, src string, filter pgstore.Filter) (*transferSource, error) {
	switch {
	case pgstore.IsURL(src):
		db, err := pgstore.Open(ctx, src)
		if err != nil {
			return nil, err
		}
		infos, err := db.Experiments(ctx, filter)
		if err != nil {
			db.Close()
			return nil, err
		}
		return &transferSource{
			name: db.Name(), experiments: infos,
			each: func(ctx context.Context, fn func(*store.Record) error) error { return db.Records(ctx, filter, fn) },
			artifact: func(ctx context.Context, rec *store.Record, i int) (io.ReadCloser, error) {
				b, ok, err := db.ArtifactContent(ctx, rec.RunID, rec.Artifacts[i].Name)
				if err != nil || !ok {
					return nil, err
				}
				return io.NopCloser(strings.NewReader(string(b))), nil
			},
			close: db.Close,
		}, nil
	case strings.HasPrefix(src, pythonPrefix):
		return pythonSource(strings.TrimPrefix(src, pythonPrefix), filter)
	}
	return dirSource(src, filter)
}

// dirSource reads a store directory's segments and keeps the winning
// record of each run.
func dirSource(dir string, filter pgstore.Filter) (*transferSource, error) {
	st, err := store.OpenExisting(dir)
	if err != nil {
		return nil, err
	}
	infos, err := st.Experiments()
	if err != nil {
		st.Close()
		return nil, err
	}
	infos = slices.DeleteFunc(infos, func(e store.ExperimentInfo) bool { return !picks(filter, e.Name, e.Version) })
	return &transferSource{
		name: dir, experiments: infos,
		each: func(ctx context.Context, fn func(*store.Record) error) error {
			win, err := segmentWinners(ctx, st, filter)
			if err != nil {
				return err
			}
			ids := slices.Sorted(maps.Keys(win))
			for _, id := range ids {
				if err := fn(win[id]); err != nil {
					return err
				}
			}
			return nil
		},
		artifact: func(_ context.Context, rec *store.Record, i int) (io.ReadCloser, error) {
			return st.OpenFile(rec.Artifacts[i].Path)
		},
		close: func() { st.Close() },
	}, nil
}

// segmentWinners reads every segment of st and keeps, of each run that
// filter picks, the record that wins.
func segmentWinners(ctx context.Context, st *store.Store, filter pgstore.Filter) (map[string]*store.Record, error) {
	segs, err := st.Segments()
	if err != nil {
		return nil, err
	}
	win := map[string]*store.Record{}
	for _, seg := range segs {
		f, err := st.OpenSegment(seg)
		if err != nil {
			return nil, err
		}
		_, err = store.ReadSegment(f, func(rec *store.Record, _ int64, _ int) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if !picks(filter, rec.Experiment, rec.Version) {
				return nil
			}
			if old := win[rec.RunID]; old == nil || rec.Beats(old) {
				win[rec.RunID] = rec
			}
			return nil
		})
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("reading segment %s of %s: %w", seg, st.Dir(), err)
		}
	}
	return win, nil
}

// picks reports whether filter (NAME or NAME@VERSION, "" for all) picks
// an experiment version.
func picks(filter pgstore.Filter, name, version string) bool {
	if filter == "" {
		return true
	}
	n, v, ok := strings.Cut(string(filter), "@")
	return n == name && (!ok || v == version)
}

// pythonSource reads a Python library's store whole, checking every file
// before anything is written.
func pythonSource(dir string, filter pgstore.Filter) (*transferSource, error) {
	exps, err := pystore.Read(dir)
	if err != nil {
		return nil, inputErr(err, "")
	}
	var infos []store.ExperimentInfo
	var runs []pystore.Run
	for _, e := range exps {
		if picks(filter, e.Info.Name, e.Info.Version) {
			infos = append(infos, e.Info)
			runs = append(runs, e.Runs...)
		}
	}
	files := map[string][]pystore.ArtifactFile{}
	for _, r := range runs {
		files[r.Record.RunID] = r.Artifacts
	}
	return &transferSource{
		name: pythonPrefix + dir, experiments: infos, withArtifacts: true,
		each: func(_ context.Context, fn func(*store.Record) error) error {
			for _, r := range runs {
				rec := *r.Record
				// The artifacts are described as they will be in the
				// store: under artifacts/<run>/, with their hash.
				rec.Artifacts = nil
				for _, a := range r.Artifacts {
					sum, size, err := hashPythonFile(a.Path)
					if err != nil {
						return inputErr(err, "")
					}
					rec.Artifacts = append(rec.Artifacts, capture.Artifact{Name: a.Name, Format: a.Format,
						Path: "artifacts/" + rec.RunID + "/" + path.Base(a.Path), SHA256: sum, Size: size})
				}
				if err := fn(&rec); err != nil {
					return err
				}
			}
			return nil
		},
		artifact: func(_ context.Context, rec *store.Record, i int) (io.ReadCloser, error) {
			fs := files[rec.RunID]
			if i >= len(fs) {
				return nil, nil
			}
			return pystore.OpenFile(fs[i].Path)
		},
		close: func() {},
	}, nil
}

func hashPythonFile(p string) (string, int64, error) {
	f, err := pystore.OpenFile(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// transferReport says what a transfer did.
type transferReport struct {
	Experiments int `json:"experiments"`
	Read        int `json:"read"`    // records of the source
	Added       int `json:"added"`   // runs new to the destination
	Updated     int `json:"updated"` // runs whose record a better one replaced
	Kept        int `json:"kept"`    // runs whose record in the destination was as good
	Artifacts   int `json:"artifacts"`
	// Torn are the lines of the source's segments that are not records
	// (damage, a torn write, a record of a newer metalab), skipped as the
	// store's own readers skip them.
	Torn []store.Torn `json:"torn,omitempty"`
}

// importOptions configure a transfer.
type importOptions struct {
	From, To         string
	Experiment       string
	IncludeArtifacts bool
	Overwrite        bool
	// progress, when set, is told the records read so far.
	progress func(n int)
}

// transfer copies the records of the source into the destination.
func transfer(ctx context.Context, o importOptions) (transferReport, error) {
	var rep transferReport
	filter := pgstore.Filter(o.Experiment)
	if pgstore.IsURL(o.From) && pgstore.IsURL(o.To) && o.From == o.To {
		return rep, usageErr("name two different stores", "--from and --to are the same database")
	}
	// A directory into a database: the incremental export, unless only
	// some experiments go.
	if pgstore.IsURL(o.To) && !pgstore.IsURL(o.From) && !strings.HasPrefix(o.From, pythonPrefix) && filter == "" {
		return exportDir(ctx, o)
	}
	src, err := openSource(ctx, o.From, filter)
	if err != nil {
		return rep, err
	}
	defer src.close()
	if len(src.experiments) == 0 && filter != "" {
		return rep, usageErr("'metalab store list --store "+src.name+"' lists what it holds", "%s holds no experiment %s", src.name, filter)
	}
	rep.Experiments = len(src.experiments)
	if pgstore.IsURL(o.To) {
		return transferToDB(ctx, src, o, rep)
	}
	return transferToDir(ctx, src, o, rep)
}

// exportDir is `store export`: the incremental export of a directory.
func exportDir(ctx context.Context, o importOptions) (transferReport, error) {
	var rep transferReport
	st, err := store.OpenExisting(o.From)
	if err != nil {
		return rep, err
	}
	defer st.Close()
	db, err := pgstore.Open(ctx, o.To)
	if err != nil {
		return rep, err
	}
	defer db.Close()
	er, err := db.Export(ctx, st, pgstore.ExportOptions{IncludeArtifacts: o.IncludeArtifacts, Overwrite: o.Overwrite, Progress: o.progress})
	rep = transferReport{Experiments: er.Experiments, Read: er.Read, Added: er.Added, Updated: er.Updated, Torn: er.Torn}
	return rep, err
}

func transferToDB(ctx context.Context, src *transferSource, o importOptions, rep transferReport) (transferReport, error) {
	db, err := pgstore.Open(ctx, o.To)
	if err != nil {
		return rep, err
	}
	defer db.Close()
	opts := pgstore.PutOptions{Source: src.name, Overwrite: o.Overwrite}
	if o.IncludeArtifacts || src.withArtifacts {
		opts.Content = func(rec *store.Record, i int) ([]byte, error) {
			rc, err := src.artifact(ctx, rec, i)
			if err != nil || rc == nil {
				return nil, err
			}
			defer rc.Close()
			return io.ReadAll(io.LimitReader(rc, 1<<30))
		}
	}
	var batch []*store.Record
	flush := func(infos []store.ExperimentInfo) error {
		opts.First = int64(rep.Read - len(batch))
		added, updated, err := db.Put(ctx, infos, batch, opts)
		rep.Added += added
		rep.Updated += updated
		batch = batch[:0]
		if o.progress != nil {
			o.progress(rep.Read)
		}
		return err
	}
	infos := src.experiments
	err = src.each(ctx, func(rec *store.Record) error {
		rep.Read++
		batch = append(batch, rec)
		if len(batch) >= 20000 {
			err := flush(infos)
			infos = nil
			return err
		}
		return nil
	})
	if err == nil && (len(batch) > 0 || infos != nil) {
		err = flush(infos)
	}
	rep.Kept = rep.Read - rep.Added - rep.Updated
	return rep, err
}

// transferToDir writes the source's records into a store directory (made
// if missing), under a shared lock of it, as the workers of a submission
// take: a local run, which may hold the same runs, waits.
func transferToDir(ctx context.Context, src *transferSource, o importOptions, rep transferReport) (transferReport, error) {
	if err := checkStoreDir(o.To, false); err != nil {
		return rep, err
	}
	st, err := store.Open(o.To)
	if err != nil {
		return rep, err
	}
	defer st.Close()
	lock, err := st.Lock(ctx, store.LockOptions{Mode: store.Shared, Purpose: progName() + " store import"})
	if err != nil {
		var busy *store.BusyError
		if errors.As(err, &busy) {
			return rep, &exitError{code: ExitRunsFailed, err: err, hint: "import once the run has ended; " + busy.Hint()}
		}
		return rep, err
	}
	defer lock.Release()
	have := map[string]*store.Record{}
	if fileExists(store.ManifestPath(o.To)) {
		if have, err = segmentWinners(ctx, st, ""); err != nil {
			return rep, err
		}
	}
	for _, e := range src.experiments {
		if _, err := st.AddExperiment(e); err != nil {
			return rep, err
		}
	}
	w, err := st.NewWriter(store.WriterOptions{Name: "import-" + host.Short() + "-" + randHex(4)})
	if err != nil {
		return rep, err
	}
	copyArtifacts := o.IncludeArtifacts || src.withArtifacts
	known := map[string]bool{}
	for _, e := range src.experiments {
		known[e.Ref()] = true
	}
	unknown := map[string]*store.ExperimentInfo{}
	err = src.each(ctx, func(rec *store.Record) error {
		rep.Read++
		if ref := store.Ref(rec.Experiment, rec.Version); !known[ref] {
			if unknown[ref] == nil {
				unknown[ref] = &store.ExperimentInfo{Name: rec.Experiment, Version: rec.Version}
			}
			unknown[ref].Plan.Runs++
		}
		if o.progress != nil && rep.Read%10000 == 0 {
			o.progress(rep.Read)
		}
		// A record that does not beat the destination's stays out, even
		// with --overwrite: an append-only store cannot forget a better
		// record, which would go on winning.
		old := have[rec.RunID]
		if old != nil && !rec.Beats(old) {
			rep.Kept++
			return nil
		}
		if copyArtifacts {
			for i := range rec.Artifacts {
				n, err := importArtifact(ctx, st, src, rec, i, o.Overwrite)
				if err != nil {
					return err
				}
				rep.Artifacts += n
			}
		}
		if old == nil {
			rep.Added++
		} else {
			rep.Updated++
		}
		return w.Append(rec)
	})
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return rep, err
	}
	// Runs of experiments the source keeps no record of (a database
	// whose experiments table lacks them): the store records them, as a
	// store always has a record of its experiments.
	for _, ref := range slices.Sorted(maps.Keys(unknown)) {
		e := unknown[ref]
		e.Plan.Spec = []byte(fmt.Sprintf(`{"experiment":%q,"version":%q,"imported_from":%q}`, e.Name, e.Version, src.name))
		sum := sha256.Sum256(e.Plan.Spec)
		e.Plan.Identity = hex.EncodeToString(sum[:])
		if _, err := st.AddExperiment(*e); err != nil {
			return rep, err
		}
	}
	if _, err := st.Collect(ctx); err != nil {
		return rep, err
	}
	return rep, nil
}

// importArtifact writes the i-th artifact of rec from the source into the
// store, at the path the record gives (which must be under the run's
// artifact directory), whole or not at all. An artifact the store has
// with the same bytes is left; with other bytes it is an error, unless
// overwrite. It returns 1 when it wrote the file.
func importArtifact(ctx context.Context, st *store.Store, src *transferSource, rec *store.Record, i int, overwrite bool) (int, error) {
	a := rec.Artifacts[i]
	dir := st.ArtifactRel(rec.RunID)
	if path.Dir(path.Clean(a.Path)) != dir {
		return 0, fmt.Errorf("artifact %q of run %s: path %q is not in %s/: not copied", a.Name, rec.RunID, a.Path, dir)
	}
	rel := path.Clean(a.Path)
	if a.SHA256 != "" {
		if sum, _, err := hashIn(st, rel); err == nil {
			if sum == a.SHA256 {
				return 0, nil
			}
			if !overwrite {
				return 0, &exitError{code: ExitUsage, err: fmt.Errorf("artifact %q of run %s: %s holds other bytes than %s's", a.Name, rec.RunID, rel, src.name),
					hint: "--overwrite replaces the destination's artifact files"}
			}
		}
	}
	rc, err := src.artifact(ctx, rec, i)
	if err != nil {
		return 0, fmt.Errorf("artifact %q of run %s: %w", a.Name, rec.RunID, err)
	}
	if rc == nil {
		return 0, nil // the source has only its metadata
	}
	defer rc.Close()
	root := st.Root()
	if err := root.MkdirAll(dir, 0o775); err != nil {
		return 0, err
	}
	tmp := dir + "/.import-" + randHex(6)
	f, err := root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o664)
	if err != nil {
		return 0, err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), rc)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && a.SHA256 != "" && hex.EncodeToString(h.Sum(nil)) != a.SHA256 {
		err = fmt.Errorf("the bytes %s has do not have the SHA-256 its record gives", src.name)
	}
	if err == nil {
		err = root.Rename(tmp, rel)
	}
	if err != nil {
		root.Remove(tmp)
		return 0, fmt.Errorf("artifact %q of run %s: %w", a.Name, rec.RunID, err)
	}
	return 1, nil
}

func hashIn(st *store.Store, rel string) (string, int64, error) {
	f, err := st.OpenFile(rel)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil)), n, err
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
