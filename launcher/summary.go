package launcher

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/metalab-hpc/metalab/params"
)

// GroupStat summarises one metric over the completed runs of one group
// (typically the seed replicates of one param point).
type GroupStat struct {
	Group  params.Point `json:"group"`
	Metric string       `json:"metric"`
	N      int          `json:"n"`
	Mean   float64      `json:"mean"`
	Std    float64      `json:"std"`     // sample standard deviation (n-1)
	CILow  float64      `json:"ci_low"`  // 95% confidence interval of the mean,
	CIHigh float64      `json:"ci_high"` // Student's t with n-1 degrees of freedom
}

// Summary groups the completed runs by the given params and returns, per
// group and metric, the count, mean, standard deviation and 95% confidence
// interval of the mean. Null metric values are left out.
func (r *Results) Summary(groupBy ...string) []GroupStat {
	type key struct{ group, metric string }
	values := map[key][]float64{}
	groups := map[string]params.Point{}
	for _, run := range r.Completed().list() {
		g := params.Point{}
		for _, name := range groupBy {
			if v, ok := run.Params[name]; ok {
				g[name] = v
			}
		}
		gk, _ := params.Canonical(g)
		groups[string(gk)] = g
		for m, v := range run.Metrics {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			k := key{string(gk), m}
			values[k] = append(values[k], v)
		}
	}
	var out []GroupStat
	for k, vs := range values {
		s := GroupStat{Group: groups[k.group], Metric: k.metric, N: len(vs)}
		s.Mean, s.Std = meanStd(vs)
		half := math.NaN()
		if s.N > 1 {
			half = tQuantile975(s.N-1) * s.Std / math.Sqrt(float64(s.N))
		}
		s.CILow, s.CIHigh = s.Mean-half, s.Mean+half
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
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

// WriteSummary writes stats as an aligned table.
func WriteSummary(w io.Writer, stats []GroupStat, groupBy []string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := append(append([]string{}, groupBy...), "metric", "n", "mean", "std", "ci95_low", "ci95_high")
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, s := range stats {
		var row []string
		for _, g := range groupBy {
			row = append(row, formatValue(s.Group[g]))
		}
		row = append(row, s.Metric, fmt.Sprint(s.N), fmtG(s.Mean), fmtG(s.Std), fmtG(s.CILow), fmtG(s.CIHigh))
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

func fmtG(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.6g", v)
}

// MarshalJSON writes undefined statistics (std and interval of a single
// value) as null.
func (s GroupStat) MarshalJSON() ([]byte, error) {
	num := func(v float64) *float64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return &v
	}
	return json.Marshal(struct {
		Group  params.Point `json:"group"`
		Metric string       `json:"metric"`
		N      int          `json:"n"`
		Mean   *float64     `json:"mean"`
		Std    *float64     `json:"std"`
		CILow  *float64     `json:"ci_low"`
		CIHigh *float64     `json:"ci_high"`
	}{s.Group, s.Metric, s.N, num(s.Mean), num(s.Std), num(s.CILow), num(s.CIHigh)})
}
