// Package report renders a sweep's results as one self-contained HTML
// file: the sweep at a glance, metric against param with the 95%
// confidence band of the mean, stepped metrics, parallel coordinates, a
// param-importance ranking, the runs table and the timings. The page
// fetches nothing: its style, script and data are all inside it, so that it
// opens offline, after scp from a login node, or attached to an e-mail.
//
// Package report owns the page, the shape of its data ([Data]) and how it
// is gathered from a store ([Gather]): one pass over the records, each
// folded into running statistics (the mean and 95% confidence interval of
// `metalab summary`, merged exactly across groups) and dropped. Package
// launcher calls [Gather] and [Write] for `metalab report`, and
// [WriteLive] through package serve for `metalab serve`.
//
// # Why hand-written SVG, not a charting library
//
// The charts are drawn as SVG by a small script written for this page
// (assets/report.js, a few hundred lines, no dependency) rather than by a
// vendored charting library or by SVG drawn in Go. A library would add
// 50 KB to 1 MB of minified code that nobody here reviews, to a file that
// people attach to e-mails and open on machines they care about, and its
// generality buys little: the page needs lines with bands on linear or log
// axes, bars and parallel coordinates, all over data that is aggregated
// before it is written. SVG drawn in Go (gonum.org/v1/plot) could not let
// the reader pick the metric, the param, the grouping or log axes in the
// page without writing every combination into the file. Every string that
// comes from a run (params, errors, logs, names) is put into the page as
// text (textContent, createTextNode), never parsed as HTML.
//
// # Scale
//
// The page holds aggregates, not runs: per-group statistics, a time
// histogram, at most [MaxParallelRuns] sampled runs for parallel
// coordinates and at most [MaxTableRows] rows of the runs table (every
// failed run first, up to [MaxFailedRows], then an even sample), series
// cut to [MaxSteps] steps. Its size therefore grows with the number of
// groups, not of runs, and [Data.Notes] says on the page what was sampled.
//
// [Gather] holds no record longer than it takes to fold it in, except the
// samples: per run it keeps a few numbers for the timings and the run
// times' quantiles; per param, running statistics by value (values of a
// numeric param with thousands of them are grouped by their first four
// significant digits before they are binned); per series, by step. So a
// store of a million runs is read in one pass in memory that grows with
// its groups, not its runs.
package report
