// Package store owns the on-disk home of one experiment: the records of its
// runs, their artifacts, and the indexes that make the records quick to query.
//
// A store is a directory on a filesystem that many nodes of a cluster may
// share (NFS, Lustre). Nothing in it relies on locks between nodes: each
// file has either one writer, or is written whole by rename or link, or is a
// SQLite index that only processes on one node write.
//
// # Layout
//
//	DIR/metalab.json              manifest: format version and experiment identity
//	DIR/segments/<writer>.jsonl   records, one JSON object a line, append-only,
//	                              exactly one writer process per segment
//	DIR/artifacts/<run_id>/       artifact files of one run (see [Store.ArtifactDir])
//	DIR/logs/                     worker logs
//	DIR/index/nodes/<node>.sqlite per-node index, written by that node's writers
//	DIR/index/store.sqlite        index of the whole store, built by [Store.Collect]
//	DIR/index/collect-state.json  what the last Collect left, to skip unchanged indexes
//	DIR/submissions/, DIR/bin/, DIR/tmp/
//
// [Open] creates the tree. [Store.Bind] writes the manifest once, and from
// then on refuses a different experiment identity with an [*IdentityError].
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
// checks and merges, and reuses the counts: `metalab status` collects every
// time. Skipping a merge never loses a record, as the segments are read
// past whatever the store index covers.
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
package store
