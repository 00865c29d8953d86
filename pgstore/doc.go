// Package pgstore keeps an index of metalab stores in PostgreSQL: their
// experiments, the winning record of each run (params, metrics and data as
// JSONB), the points of their series and the metadata of their artifacts,
// for SQL across every sweep a lab has run.
//
// The store directory stays the source of truth, and nothing on a compute
// node talks to the database: [DB.Export] reads a store's segments on the
// login node (through [store.Store.Segments] and [store.ReadSegment], never
// its SQLite indexes) and sends what is new since its last export. It keeps,
// per store and segment, how many bytes it has exported, and updates that
// offset in the same transaction as the rows those bytes held: a killed
// export loses nothing and sends nothing twice when it runs again. Rows go
// in by COPY into a temporary table, then one INSERT ... ON CONFLICT that
// keeps the record that wins by the store's own rule ([store.Record.Beats]).
//
// The schema is versioned ([SchemaVersion], in table metalab_schema): a
// database of another version is refused by [Open] with an error that says
// which. docs/postgres.md documents the tables, with example SQL.
//
// # Files
//
//   - db.go: [Open], URLs, and the errors of connecting.
//   - schema.go: the tables, and their version.
//   - export.go: [DB.Export], incremental, by COPY.
//   - upsert.go: writing a batch of records, shared by the export and
//     imports from other sources ([DB.Put]).
//   - read.go: reading runs and experiments back ([DB.Records], [DB.List]).
//   - testing.go: [TestURL], a fresh database for a test.
package pgstore
