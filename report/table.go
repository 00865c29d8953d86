package report

import (
	"cmp"
	"io"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/metalab-hpc/metalab/internal/tabcell"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/store"
)

// table is the runs table: the sampled failed runs first, then the others,
// each in the order of `metalab results`.
func (g *gatherer) table(several bool) Table {
	failed := g.failed.sample(MaxFailedRows)
	others := g.others.sample(MaxTableRows - len(failed))
	runs := append(slices.Clone(failed), others...)
	sort.SliceStable(runs, func(i, j int) bool {
		a, b := runs[i], runs[j]
		return cmp.Or(cmp.Compare(a.Experiment, b.Experiment), cmp.Compare(a.Version, b.Version),
			params.ComparePoints(a.Params, b.Params), cmp.Compare(a.Replicate, b.Replicate), cmp.Compare(a.RunID, b.RunID)) < 0
	})

	t := Table{Total: g.runs, Rows: [][]any{}, Details: map[int]Detail{}, ArtifactLinks: g.in.LinkBase != ""}
	t.Columns = append(t.Columns, Column{Name: "run_id", Kind: "run_id"})
	if several {
		t.Columns = append(t.Columns, Column{Name: "experiment", Kind: "experiment"})
	}
	pnames, mnames := sortedKeys(g.pset), sortedKeys(g.mset)
	for _, p := range pnames {
		t.Columns = append(t.Columns, Column{Name: p, Kind: "param"})
	}
	t.Columns = append(t.Columns, Column{Name: "status", Kind: "status"})
	for _, m := range mnames {
		t.Columns = append(t.Columns, Column{Name: m, Kind: "metric"})
	}
	t.Columns = append(t.Columns, Column{Name: "duration", Kind: "duration"},
		Column{Name: "host", Kind: "host"}, Column{Name: "ended", Kind: "ended"}, Column{Name: "error", Kind: "error"})
	for _, r := range runs {
		row := make([]any, 0, len(t.Columns))
		row = append(row, r.RunID)
		if several {
			row = append(row, ref(r.Experiment, r.Version))
		}
		for _, p := range pnames {
			row = append(row, r.Params[p])
		}
		row = append(row, string(r.Status))
		for _, m := range mnames {
			if v, ok := r.Metrics[m]; ok {
				row = append(row, Num(v))
			} else {
				row = append(row, nil)
			}
		}
		var dur, ended any
		if d := r.Duration(); d > 0 {
			dur = Num(d.Seconds())
		}
		if !r.Ended.IsZero() {
			ended = r.Ended.UTC().Format("2006-01-02 15:04:05")
		}
		errText := r.Error
		if r.Stack != "" {
			errText += "\n\n" + r.Stack
		}
		first, _, _ := strings.Cut(r.Error, "\n")
		row = append(row, dur, nilIfEmpty(r.Host), ended, nilIfEmpty(tabcell.Shorten(first, errorCell)))
		idx := len(t.Rows)
		t.Rows = append(t.Rows, row)

		var det Detail
		if errText != "" {
			det.Error = tabcell.Shorten(errText, errorFull)
		}
		if r.Status == store.StatusFailed {
			det.Tail = failedTail(g.in.Store, r)
		}
		for j, a := range r.Artifacts {
			if j == artifacts {
				break
			}
			art := Artifact{Name: a.Name, Size: a.Size}
			if g.in.LinkBase != "" && filepath.IsLocal(filepath.FromSlash(a.Path)) {
				art.Href = (&url.URL{Path: path.Join(filepath.ToSlash(g.in.LinkBase), a.Path)}).String()
			}
			det.Artifacts = append(det.Artifacts, art)
		}
		if det.Error != "" || det.Tail != "" || len(det.Artifacts) > 0 {
			t.Details[idx] = det
		}
	}
	return t
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// failedTail is the end of a failed run's stderr: the tail its record
// keeps, or the end of its output in the store's log.
func failedTail(st *store.Store, r *store.Record) string {
	if r.StderrTail != "" {
		return lastBytes(r.StderrTail, tailBytes)
	}
	if st == nil || r.Stderr == nil || r.Stderr.Length <= 0 || r.Stderr.Offset < 0 {
		return ""
	}
	f, err := st.OpenFile(r.Stderr.File) // inside the store only: the path comes from a segment
	if err != nil {
		return ""
	}
	defer f.Close()
	n := min(r.Stderr.Length, tailBytes)
	b, err := io.ReadAll(io.NewSectionReader(f, r.Stderr.Offset+r.Stderr.Length-n, n))
	if err != nil {
		return ""
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}
