package report

import (
	"encoding/json"
	"math"
	"time"
)

// Limits on what a page holds, whatever the number of runs.
const (
	MaxTableRows    = 10_000 // rows of the runs table
	MaxFailedRows   = 2_000  // failed runs among them, each with its error and log tail
	MaxParallelRuns = 1_000  // runs drawn in parallel coordinates
	MaxSteps        = 200    // steps of a series curve
	MaxXValues      = 24     // distinct values of a param plotted as they are; more are binned
	MaxGroupValues  = 8      // distinct values of a param that may group lines
	MaxHosts        = 16     // hosts drawn one by one in the timings; the rest are summed
	TimeBins        = 120    // bins of the timings' histograms, at most
)

// Num is a number that is null in JSON when it is not finite (the
// confidence interval of a single value, say).
type Num float64

// MarshalJSON writes NaN and infinities as null.
func (n Num) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(f)
}

// Data is everything the page shows. The statistics in it are computed by
// its maker; the page only draws them.
type Data struct {
	Title     string    `json:"title"`
	Store     string    `json:"store"`
	Generated time.Time `json:"generated"`
	Overview  Overview  `json:"overview"`
	// Experiments are the experiment versions of the report, each with
	// its charts.
	Experiments []Experiment `json:"experiments"`
	Table       Table        `json:"table"`
	Timing      Timing       `json:"timing"`
	// Notes say what the page aggregated or sampled, shown as they are.
	Notes  []string `json:"notes"`
	Limits Limits   `json:"limits"`
}

// Limits are the limits the data was made under, for the page to cite.
type Limits struct {
	TableRows    int `json:"table"`
	FailedRows   int `json:"failed"`
	ParallelRuns int `json:"parallel"`
	Steps        int `json:"steps"`
}

// DefaultLimits are the package's limits.
var DefaultLimits = Limits{MaxTableRows, MaxFailedRows, MaxParallelRuns, MaxSteps}

// Overview is the sweep at a glance.
type Overview struct {
	Runs   int            `json:"runs"`
	Counts map[string]int `json:"counts"` // by status
	// Durations of the runs that ended, in seconds.
	TotalSeconds  float64   `json:"total_s"`
	MedianSeconds Num       `json:"median_s"`
	P95Seconds    Num       `json:"p95_s"`
	First         time.Time `json:"first,omitzero"` // earliest start
	Last          time.Time `json:"last,omitzero"`  // latest end
	Hosts         []string  `json:"hosts"`          // at most MaxHosts, busiest first
	NHosts        int       `json:"n_hosts"`
	SlurmJobs     []string  `json:"slurm_jobs"` // at most 20
	NSlurmJobs    int       `json:"n_slurm_jobs"`
}

// Experiment is one experiment version and its charts.
type Experiment struct {
	Name       string         `json:"name"`
	Version    string         `json:"version"`
	Runs       int            `json:"runs"`
	Counts     map[string]int `json:"counts"`
	Params     []Param        `json:"params"`
	Metrics    []string       `json:"metrics"`
	Curves     []Curve        `json:"curves"`
	Series     []Series       `json:"series"`
	Importance []Importance   `json:"importance"`
	Parallel   Parallel       `json:"parallel"`
}

// Param describes one param of an experiment's runs.
type Param struct {
	Name    string `json:"name"`
	NValues int    `json:"n_values"` // distinct values
	Numeric bool   `json:"numeric"`
	// Binned: more than MaxXValues numeric values, plotted by bins.
	Binned bool `json:"binned"`
	Log    bool `json:"log"`   // positive values that span two decades or more
	Group  bool `json:"group"` // few enough values to group lines by
}

// Curve is one metric against one param, one line per value of a second
// param (Group; one line when it is empty): a point per value of X with
// the mean over its runs and the 95% confidence interval of the mean.
type Curve struct {
	Metric string `json:"metric"`
	X      string `json:"x"`
	Group  string `json:"group,omitempty"`
	Lines  []Line `json:"lines"`
}

// Line is one group's points, in the order of X.
type Line struct {
	G    any   `json:"g"` // the group's value; null without a group
	X    []any `json:"x"`
	N    []int `json:"n"`
	Mean []Num `json:"mean"`
	Lo   []Num `json:"lo"`
	Hi   []Num `json:"hi"`
}

// Series is one stepped metric, mean and band per step over runs, one line
// per value of Group (one line when it is empty).
type Series struct {
	Metric string `json:"metric"`
	Group  string `json:"group,omitempty"`
	Lines  []Line `json:"lines"` // X holds the steps
	// Steps is the number of distinct steps before down-sampling.
	Steps int `json:"steps"`
}

// Importance ranks an experiment's params for one metric.
type Importance struct {
	Metric  string      `json:"metric"`
	Ranking []ParamRank `json:"ranking"` // most important first
}

// ParamRank is the share of a metric's variance that a param explains.
type ParamRank struct {
	Param string `json:"param"`
	Eta2  Num    `json:"eta2"` // between-group over total sum of squares
}

// Parallel holds sampled completed runs for parallel coordinates, by
// column.
type Parallel struct {
	Of      int              `json:"of"` // completed runs sampled from
	Params  map[string][]any `json:"params"`
	Metrics map[string][]Num `json:"metrics"`
}

// Table is the runs table: Columns name the cells of every row.
type Table struct {
	Columns []Column `json:"columns"`
	Rows    [][]any  `json:"rows"`
	// Details of rows with an error, a log tail or artifacts, by row
	// index.
	Details map[int]Detail `json:"details"`
	Total   int            `json:"total"` // runs, of which Rows is a sample
	// Artifacts: links to artifacts are relative to the report, which
	// sits beside the store; false when it does not.
	ArtifactLinks bool `json:"artifact_links"`
}

// Column is one column of the runs table.
type Column struct {
	Name string `json:"name"`
	// Kind: run_id, experiment, param, status, metric, duration, host,
	// ended, error.
	Kind string `json:"kind"`
}

// Detail is what a row shows when opened.
type Detail struct {
	Error     string     `json:"error,omitempty"`
	Tail      string     `json:"tail,omitempty"` // the end of the run's stderr
	Artifacts []Artifact `json:"artifacts,omitempty"`
}

// Artifact is a file a run stored; Href is empty when the report cannot
// link to it.
type Artifact struct {
	Name string `json:"name"`
	Href string `json:"href,omitempty"`
	Size int64  `json:"size"`
}

// Timing is how the runs were spread over time and hosts, in TimeBins bins
// of BinSeconds from Start.
type Timing struct {
	Start      time.Time        `json:"start,omitzero"`
	BinSeconds float64          `json:"bin_s"`
	Ended      map[string][]int `json:"ended"` // runs that ended per bin, by status
	Hosts      []HostTiming     `json:"hosts"`
}

// HostTiming is one host's share: its runs, their total time, and how many
// ran at once on average in each bin. A last entry named "other hosts"
// sums the hosts beyond MaxHosts.
type HostTiming struct {
	Host        string  `json:"host"`
	Runs        int     `json:"runs"`
	BusySeconds float64 `json:"busy_s"`
	Running     []Num   `json:"running"`
}
