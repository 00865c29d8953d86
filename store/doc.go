// Package store owns the on-disk home of a sweep's experiments: the records
// of their runs, their artifacts, and the indexes that make the records
// quick to query.
//
// A store is a directory on a filesystem that many nodes of a cluster may
// share (NFS, Lustre). Nothing in it relies on locks between nodes: each
// file has either one writer, or is written whole by rename or link, or is a
// SQLite index that only processes on one node write.
//
// # Layout
//
//	DIR/metalab.json              manifest: format version, store ID, the first plan ([Manifest])
//	DIR/experiments/<name>@<version>-<hash>.json
//	                              each experiment version the store holds ([ExperimentInfo])
//	DIR/segments/<writer>.jsonl   records, one JSON object a line, append-only,
//	                              exactly one writer process per segment
//	DIR/artifacts/<run_id>/       artifact files of one run (see [Store.ArtifactDir])
//	DIR/logs/<writer>-s<slot>.*   output of the runs of one worker slot ([SlotLogName])
//	DIR/logs/slurm/               SLURM's job logs ([SlurmLogDir])
//	DIR/locks/                    an entry per holder of the store's lock ([Store.Lock])
//	DIR/index/nodes/<node>.sqlite per-node index, written by that node's writers
//	DIR/index/store.sqlite        index of the whole store, built by [Store.Collect]
//	DIR/index/**/*.corrupt        a broken index (and its journal), moved aside by Collect
//	DIR/index/collect-state.json  what the last Collect left, to skip unchanged indexes
//	DIR/index/damaged.json        damaged ranges of segments that Collect found
//	DIR/index/suspect-<seg>.json  a reader's request to verify a segment
//	DIR/submissions/<id>/         a SLURM submission: its record and scripts ([SubmissionDir])
//	DIR/bin/                      pinned copies of the binary submissions run ([BinDir])
//	DIR/tmp/
//
// [Open] creates the tree. [Store.Init] writes the manifest once; it never
// changes after. A store holds any number of experiments, each name and
// version its own ([Store.AddExperiment], [Store.Experiments]): their runs
// share the segments and indexes, as a run ID hashes the name and version.
// An experiment grows in place (params, seeds, context), and an operation
// that changed under the same name and version is reported
// ([OperationChange]), never refused. docs/store.md gives the rules.
//
// # Segments are the truth, indexes are caches
//
// A [Writer] owns one segment. [Writer.Append] encodes a [Record] into memory;
// a group commit (every [WriterOptions.FlushInterval], and on [Writer.Flush]
// and [Writer.Close]) appends the buffered lines with one write, fsyncs the
// segment, and only then upserts the records into its node's index in one
// transaction, together with how many bytes of the segment the index now
// covers. A crash between the fsync and the index update therefore loses
// nothing: [Store.Collect] reads every segment past the offset its indexes
// cover.
//
// A line is a record only when it ends in a newline. A crash in the middle of
// a write leaves a torn last line, which readers report and skip; the writer
// truncates a failed write away, so a torn line is never followed by good
// ones written by the same process.
//
// The indexes can always be deleted and rebuilt from the segments. They use
// SQLite's rollback journal (journal_mode=DELETE), because WAL mode needs
// shared memory, which network filesystems do not provide; and each node
// index is written only by processes of its node, as SQLite's file locks
// are not to be trusted between the nodes of a network filesystem.
//
// [Store.Collect] builds the store index: it merges what the node indexes
// have that it has not merged yet, then reads every segment past what the
// merged indexes cover, and rebuilds whatever index it finds broken.
// A Collect that finds the indexes as the last one left them (each file's
// size, modification time and SQLite change counter) skips their integrity
// checks and merges: `metalab status` collects every time. Skipping a merge
// never loses a record, as the segments are read past whatever the store
// index covers. The counts come from the store index itself, which keeps
// them until a change of its runs drops them; collect-state.json is never
// believed for anything Collect reports, so a stale or forged one costs
// time at most.
//
// # Damage
//
// A segment can be damaged after its records were indexed: a block of it
// overwritten by zeros (a failing disk, a filesystem repaired after a power
// loss), lines replaced by other bytes, bytes cut out or inserted. The
// indexes then point at records that are no longer there. The rule:
//
//   - Readers ([Snapshot.Records], [Snapshot.Lines], [Store.Records]) check
//     each line they read: a whole line, no NUL byte, and (Records) a
//     record of the run the index says. A record that fails is skipped, the
//     pass goes on, and ends with a [*DamageError] that names each damaged
//     range (segment, offset, length, records, runs). The reader also
//     leaves a note, index/suspect-<segment>.json, for Collect.
//   - Collect verifies a segment (reads it in full and checks every row of
//     the store index that points into it) when a note names it; when it
//     shrank below what the store index covers, or vanished; when it has
//     the size the last Collect saw but another modification time (an
//     append-only file is never rewritten); or when what the store index
//     covers of it no longer ends on a line boundary. These checks cost one
//     stat per segment, which Collect makes anyway, and one byte read per
//     segment that grew. [Store.Verify] verifies every segment, for damage
//     that none of them shows (an in-place change with its modification
//     time put back).
//   - Verifying replaces the segment's rows by what its bytes hold now:
//     records that moved are found at their new offsets, records found
//     nowhere are lost. A run whose winning record was lost falls back to
//     the best record of another attempt that survives (in the segment, or
//     an ended attempt that the store index lists elsewhere), or has none
//     and is pending again: the start record of the attempt whose end was
//     lost does not count, or the run would show as running for ever.
//     [CollectReport] counts these runs (Lost) and lists the ranges
//     (Damaged).
//   - The damaged ranges go to index/damaged.json, outside the store index
//     so that they outlive its rebuild. A segment named there is indexed
//     from its own bytes from then on: Collect never merges node index rows
//     that point into it (its node index still has the lost records, and
//     Collect does not write node indexes), and [Store.CompletedAmong]
//     does not believe them.
//
// [Store.Statuses], [Store.Records] and [Store.FailedAttempts] answer from
// the store index as of the last Collect. Collect writes the store index, so
// it runs in one place (the login node); a worker on a compute node asks
// [Store.CompletedAmong] instead, which only reads the indexes.
//
// # Deduplication
//
// A run ID may have several records: a start and an end, or several attempts
// after requeues and resumes. The winner is the record with the highest
// [Status.Rank] (completed > failed > cancelled > running), and among equal
// ranks the one with the later [Record.When]; see [Record.Beats]. Both the
// node indexes and the store index apply this rule in SQL.
//
// # Files
//
//   - store.go: [Open], the layout and its paths; manifest.go: [Store.Init];
//     experiments.go: the experiments a store holds, [Store.CountByExperiment];
//     existing.go: [OpenExisting]; lock.go: [Store.Lock].
//   - record.go: [Record] and its [Status]; encode.go: a record's JSON
//     line, fast; scan.go: [ScanRecordKeys], reading a line's keys back.
//   - writer.go: the [Writer] and its group commits; segment.go:
//     [ReadSegment] and torn lines.
//   - index.go: the SQLite indexes: schema, opening, upserts, retries.
//   - collect.go: [Store.Collect], step by step; merge.go: merging node
//     indexes; damage.go: damaged ranges, readers' notes, verifying
//     segments and repairing the index; counts.go: the counts the store
//     index keeps; collectstate.go: what one Collect leaves for the next.
//   - query.go: reading the index ([Store.Statuses], [Snapshot]).
//   - atomic.go: [WriteFileAtomic]; testing.go: [TestStore].
package store
