// Package serve serves the report of a store ([report.WriteLive]) over
// HTTP while a sweep runs: the page, the sweep's latest counts, newer data
// for its charts, a run's log and the artifacts runs stored. It is what
// `metalab serve` runs on a login node, reached from a laptop through an
// SSH tunnel.
//
// Package serve owns HTTP and the rules below; what it serves comes from a
// [Source] that package launcher implements with the code of `metalab
// report`, `metalab status` and `metalab logs`, so the page shows the same
// numbers as they do.
//
// # Security
//
// A login node is shared, so the server trusts neither the other users of
// the machine nor the runs whose files it serves:
//
//   - It answers only a request that carries its token, a random string
//     made with crypto/rand and printed at start, in the URL (?token=, as
//     Jupyter does) or in the cookie that the first such request sets
//     (HttpOnly, SameSite=Strict). Any other request gets 403, whatever
//     its path.
//   - It is read-only: GET and HEAD, every other method gets 405.
//   - It serves files only from DIR/artifacts/ of the store, opened through
//     an [os.Root] of the store with [safefs.OpenRegularIn]: a path that
//     leaves the store, passes through a symlink (one a run left in its
//     artifacts, say) or names anything but a regular file is refused. It
//     lists no directory.
//   - An artifact is sent with a sandboxing Content-Security-Policy, so
//     that an HTML or SVG file a run made cannot run script with the
//     page's origin and read the sweep through its cookie.
//
// # Load on the store and the scheduler
//
// Every client shares one cache: the counts are asked of the [Source] at
// most once per interval that the source itself gives (`metalab status`'s
// own interval once it asks SLURM), and the charts' data is rebuilt at
// most once per [Options.Refresh], and no sooner than four times as long
// as the last build took, however many pages are open.
package serve
