package launcher

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/metalab-hpc/metalab/store"
)

// A store holds several experiments, each name and version its own (see
// docs/store.md). results, summary and status show them all, with the
// experiment and version of each run when there is more than one; their
// --experiment NAME[@VERSION], and Results.OfExperiment in Go, pick one.

// experimentFilter picks the runs of one experiment (all its versions) or of
// one version of it; the zero value picks every run.
type experimentFilter struct {
	name, version string
	set           bool // name is set
	versioned     bool // version is set, "" included
}

// String is the filter as written: NAME or NAME@VERSION.
func (f experimentFilter) String() string {
	if f.versioned {
		return store.Ref(f.name, f.version)
	}
	return f.name
}

func (f experimentFilter) picks(name, version string) bool {
	return !f.set || name == f.name && (!f.versioned || version == f.version)
}

// match reports whether the filter picks run.
func (f experimentFilter) match(run *Record) bool { return f.picks(run.Experiment, run.Version) }

// matchKeys is match for a record read by its keys.
func (f experimentFilter) matchKeys(k store.RecordKeys) bool { return f.picks(k.Experiment, k.Version) }

// parseExperiment reads NAME or NAME@VERSION. A name may hold '@' itself:
// spec is all name when names has it (the names of the experiments
// there are), else the version follows the last '@'. "NAME@" is the
// version "".
func parseExperiment(spec string, names func(string) bool) experimentFilter {
	if spec == "" {
		return experimentFilter{}
	}
	if i := strings.LastIndexByte(spec, '@'); i >= 0 && !names(spec) {
		return experimentFilter{name: spec[:i], version: spec[i+1:], set: true, versioned: true}
	}
	return experimentFilter{name: spec, set: true}
}

// openCollected opens the store dir for a command that reads it: the
// experiment of --experiment spec, refused when the store does not hold
// it, and the store's indexes collected first, with the runs lost to
// killed writers reported on errOut. The caller closes the store.
func (a *App) openCollected(ctx context.Context, dir, spec string, errOut io.Writer) (*store.Store, experimentFilter, error) {
	st, err := store.OpenExisting(dir)
	if err != nil {
		return nil, experimentFilter{}, err
	}
	only, err := storeExperiment(st, spec, a.Name)
	if err != nil {
		st.Close()
		return nil, experimentFilter{}, err
	}
	rep, err := st.Collect(ctx)
	if err != nil {
		st.Close()
		return nil, experimentFilter{}, err
	}
	warnLost(errOut, a.Name, dir, rep.Lost)
	return st, only, nil
}

// storeExperiment parses --experiment against the experiments the store in
// st holds, and refuses one it does not hold, naming those it does.
func storeExperiment(st *store.Store, spec, prog string) (experimentFilter, error) {
	if spec == "" {
		return experimentFilter{}, nil
	}
	exps, err := st.Experiments()
	if err != nil {
		return experimentFilter{}, err
	}
	f := parseExperiment(spec, func(name string) bool {
		for _, e := range exps {
			if e.Name == name {
				return true
			}
		}
		return false
	})
	var refs, candidates []string
	for _, e := range exps {
		if f.picks(e.Name, e.Version) {
			return f, nil
		}
		ref := shownRef(e.Name, e.Version)
		refs = append(refs, ref)
		candidates = append(candidates, ref, e.Name)
	}
	hint := fmt.Sprintf("it holds %s; name one as NAME or NAME@VERSION", strings.Join(refs, ", "))
	if best := closest(spec, candidates); best != "" {
		hint = fmt.Sprintf("did you mean %s? %s", best, hint)
	}
	if len(refs) == 0 {
		hint = fmt.Sprintf("it holds none yet: run or submit one into it ('%s run EXPERIMENT --store %s')", prog, st.Dir())
	}
	return experimentFilter{}, usageErr(hint, "store %s holds no experiment %q", st.Dir(), spec)
}

// shownRef is how messages name an experiment version: NAME@VERSION, or
// NAME for the version "" (NAME@ reads worse, and --experiment NAME picks
// the same runs when it is the only version).
func shownRef(name, version string) string {
	if version == "" {
		return name
	}
	return store.Ref(name, version)
}

// Experiments lists the experiment versions of the runs, as NAME@VERSION,
// sorted. A store holds several experiments, each name and version of its
// own.
func (r *Results) Experiments() []string {
	t, rows := r.view()
	var seen [1 << 16]bool
	refs := map[string]bool{}
	for _, i := range rows {
		if e := t.exp[i]; !seen[e] {
			seen[e] = true
			refs[store.Ref(t.exps[e].name, t.exps[e].version)] = true
		}
	}
	return sortedKeys(refs)
}

// OfExperiment returns the runs of one experiment: ref is its name (all of
// its versions) or NAME@VERSION (one), as `--experiment` of the commands.
// A name that holds '@' is taken whole when runs of that name are there.
func (r *Results) OfExperiment(ref string) *Results {
	t, rows := r.view()
	f := parseExperiment(ref, func(name string) bool {
		for _, i := range rows {
			if t.exps[t.exp[i]].name == name {
				return true
			}
		}
		return false
	})
	return r.filterRows(func(t *runTable, row int32) bool {
		e := t.exps[t.exp[row]]
		return f.picks(e.name, e.version)
	})
}
