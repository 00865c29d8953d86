package launcher

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/store"
)

// GroupStat summarises one metric over the completed runs of one group
// (typically the seed replicates of one param point). A group without a
// completed run that has a metric (all its runs failed, say) has one
// GroupStat of its own, with no Metric and N 0, so that it is not missing
// from the summary: its Runs say what became of them.
type GroupStat struct {
	// Experiment and Version are the group's experiment version when the
	// results hold several: runs of two are never pooled. Empty otherwise.
	Experiment string       `json:"experiment,omitempty"`
	Version    string       `json:"version,omitempty"`
	Group      params.Point `json:"group"`
	Metric     string       `json:"metric"` // "" (null in JSON): the group has no values
	N          int          `json:"n"`
	Mean       float64      `json:"mean"`
	Std        float64      `json:"std"`     // sample standard deviation (n-1)
	CILow      float64      `json:"ci_low"`  // 95% confidence interval of the mean,
	CIHigh     float64      `json:"ci_high"` // Student's t with n-1 degrees of freedom
	// Runs counts the group's runs by status, the failed ones included.
	Runs map[store.Status]int `json:"runs"`
}

// Summary groups the runs by the given params and returns, per group and
// metric, the count, mean, standard deviation and 95% confidence interval
// of the mean over the completed runs. Null metric values are left out. A
// group none of whose runs completed with a metric is listed too, with an
// empty Metric (see [GroupStat]). Runs of several experiment versions are
// grouped by experiment and version first.
func (r *Results) Summary(groupBy ...string) []GroupStat {
	type key struct{ group, metric string }
	type groupOf struct {
		point            params.Point
		experiment, vers string
	}
	several := len(r.Experiments()) > 1
	values := map[key][]float64{}
	groups := map[string]groupOf{}
	counts := map[string]map[store.Status]int{}
	for _, run := range r.list() {
		g := params.Point{}
		for _, name := range groupBy {
			if v, ok := run.Params[name]; ok {
				g[name] = v
			}
		}
		gk, _ := params.Canonical(g)
		of := groupOf{point: g}
		if several {
			of.experiment, of.vers = run.Experiment, run.Version
			ek, _ := params.Canonical([]any{run.Experiment, run.Version})
			gk = append(ek, gk...)
		}
		groups[string(gk)] = of
		if counts[string(gk)] == nil {
			counts[string(gk)] = map[store.Status]int{}
		}
		counts[string(gk)][run.Status]++
		if run.Status != store.StatusCompleted {
			continue
		}
		for m, v := range run.Metrics {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			k := key{string(gk), m}
			values[k] = append(values[k], v)
		}
	}
	var out []GroupStat
	summarised := map[string]bool{}
	for k, vs := range values {
		g := groups[k.group]
		s := GroupStat{Experiment: g.experiment, Version: g.vers, Group: g.point, Metric: k.metric, N: len(vs), Runs: counts[k.group]}
		s.Mean, s.Std = meanStd(vs)
		half := math.NaN()
		if s.N > 1 {
			half = tQuantile975(s.N-1) * s.Std / math.Sqrt(float64(s.N))
		}
		s.CILow, s.CIHigh = s.Mean-half, s.Mean+half
		out = append(out, s)
		summarised[k.group] = true
	}
	for gk, g := range groups {
		if !summarised[gk] {
			nan := math.NaN()
			out = append(out, GroupStat{Experiment: g.experiment, Version: g.vers, Group: g.point, Runs: counts[gk],
				Mean: nan, Std: nan, CILow: nan, CIHigh: nan})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if a, b := out[i], out[j]; a.Experiment != b.Experiment || a.Version != b.Version {
			return a.Experiment < b.Experiment || a.Experiment == b.Experiment && a.Version < b.Version
		}
		if c := comparePoints(out[i].Group, out[j].Group); c != 0 {
			return c < 0
		}
		return out[i].Metric < out[j].Metric
	})
	return out
}

func meanStd(vs []float64) (mean, std float64) {
	for _, v := range vs {
		mean += v
	}
	mean /= float64(len(vs))
	if len(vs) < 2 {
		return mean, math.NaN()
	}
	var ss float64
	for _, v := range vs {
		ss += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(ss / float64(len(vs)-1))
}

// tQuantile975 is the 0.975 quantile of Student's t distribution with df
// degrees of freedom: exact table values up to 30, then the Cornish-Fisher
// expansion around the normal quantile (error below 1e-4).
func tQuantile975(df int) float64 {
	table := [...]float64{0, 12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622,
		2.2281, 2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930,
		2.0860, 2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423}
	if df < 1 {
		return math.NaN()
	}
	if df < len(table) {
		return table[df]
	}
	z := 1.959963984540054
	n := float64(df)
	g1 := (z*z*z + z) / 4
	g2 := (5*math.Pow(z, 5) + 16*z*z*z + 3*z) / 96
	g3 := (3*math.Pow(z, 7) + 19*math.Pow(z, 5) + 17*z*z*z - 15*z) / 384
	return z + g1/n + g2/(n*n) + g3/(n*n*n)
}

// WriteSummary writes stats as an aligned table, its columns named as the
// JSON keys are, led by the experiment and version of stats of several. The
// groups without values follow it, each with what became of its runs.
func WriteSummary(w io.Writer, stats []GroupStat, groupBy []string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	several := slices.ContainsFunc(stats, func(s GroupStat) bool { return s.Experiment != "" })
	var head []string
	if several {
		head = append(head, experimentColumns...)
	}
	head = append(append(head, groupBy...), "metric", "n", "mean", "std", "ci_low", "ci_high")
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	var empty []GroupStat
	for _, s := range stats {
		if s.Metric == "" {
			empty = append(empty, s)
			continue
		}
		var row []string
		if several {
			row = append(row, s.Experiment, s.Version)
		}
		for _, g := range groupBy {
			row = append(row, formatValue(s.Group[g]))
		}
		row = append(row, s.Metric, fmt.Sprint(s.N), fmtG(s.Mean), fmtG(s.Std), fmtG(s.CILow), fmtG(s.CIHigh))
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(empty) == 0 {
		return nil
	}
	groups := "1 group"
	if len(empty) > 1 {
		groups = fmt.Sprintf("%d groups", len(empty))
	}
	fmt.Fprintf(w, "\nno completed run with a metric in %s:\n", groups)
	for _, s := range empty {
		var name []string
		if several {
			name = append(name, store.Ref(s.Experiment, s.Version))
		}
		for _, g := range groupBy {
			name = append(name, g+"="+formatValue(s.Group[g]))
		}
		if len(name) == 0 {
			name = []string{"all runs"}
		}
		if _, err := fmt.Fprintf(w, "  %s: %s\n", strings.Join(name, " "), formatCounts(s.Runs)); err != nil {
			return err
		}
	}
	return nil
}

// formatCounts writes counts of runs by status: "3 failed, 1 cancelled".
// Completed runs, if any, have no metric.
func formatCounts(c map[store.Status]int) string {
	var parts []string
	for _, st := range []store.Status{store.StatusFailed, store.StatusCancelled, store.StatusRunning} {
		if c[st] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c[st], st))
		}
	}
	if n := c[store.StatusCompleted]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d completed without a metric", n))
	}
	return strings.Join(parts, ", ")
}

func fmtG(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.6g", v)
}

// MarshalJSON writes undefined statistics (std and interval of a single
// value, all of them for a group without values) and an empty Metric as
// null.
func (s GroupStat) MarshalJSON() ([]byte, error) {
	num := func(v float64) *float64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return &v
	}
	var metric, version *string
	if s.Metric != "" {
		metric = &s.Metric
	}
	if s.Experiment != "" {
		version = &s.Version // "" too: the experiment's version
	}
	return json.Marshal(struct {
		Experiment string               `json:"experiment,omitempty"`
		Version    *string              `json:"version,omitempty"`
		Group      params.Point         `json:"group"`
		Metric     *string              `json:"metric"`
		N          int                  `json:"n"`
		Mean       *float64             `json:"mean"`
		Std        *float64             `json:"std"`
		CILow      *float64             `json:"ci_low"`
		CIHigh     *float64             `json:"ci_high"`
		Runs       map[store.Status]int `json:"runs"`
	}{s.Experiment, version, s.Group, metric, s.N, num(s.Mean), num(s.Std), num(s.CILow), num(s.CIHigh), s.Runs})
}
