package pgstore

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/store"
)

// runID makes the run ID of run i of a test store.
func runID(i int) string {
	sum := sha256.Sum256([]byte(strconv.Itoa(i)))
	return hex.EncodeToString(sum[:8])
}

// writeRuns appends, through a store Writer, a start and an end record
// for runs from to to-1 of experiment pi@1: every third fails, every
// fifth has a series, every seventh an artifact file.
func writeRuns(t testing.TB, st *store.Store, from, to int) {
	t.Helper()
	w, err := st.NewWriter(store.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	for i := from; i < to; i++ {
		id := runID(i)
		start := &store.Record{Format: store.RecordFormat, RunID: id, Status: store.StatusRunning,
			Experiment: "pi", Version: "1", Params: params.Point{"n": int64(i % 10), "method": "mc"},
			SeedBase: 42, Replicate: i / 10, Seed: uint64(i) * 0x9e3779b97f4a7c15, Code: "go abc",
			Started: t0.Add(time.Duration(i) * time.Millisecond), Host: "node1"}
		if err := w.Append(start); err != nil {
			t.Fatal(err)
		}
		end := *start
		end.Ended = start.Started.Add(time.Duration(i%13+1) * time.Microsecond)
		if i%3 == 0 {
			end.Status, end.Error = store.StatusFailed, fmt.Sprintf("boom %d", i)
		} else {
			end.Status = store.StatusCompleted
			end.Metrics = capture.Metrics{"pi_estimate": 3 + float64(i%100)/1000}
		}
		if i%5 == 0 {
			v1, v2 := 1.5, float64(i)
			end.Series = map[string][]capture.Point{"loss": {{Step: 0, Value: &v1}, {Step: 1, Value: &v2}}}
		}
		if i%7 == 0 {
			rel := st.ArtifactRel(id)
			if err := st.Root().MkdirAll(rel, 0o755); err != nil {
				t.Fatal(err)
			}
			body := []byte(fmt.Sprintf("artifact of run %d\n", i))
			if err := st.Root().WriteFile(rel+"/notes.txt", body, 0o644); err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(body)
			end.Artifacts = []capture.Artifact{{Name: "notes", Path: rel + "/notes.txt", Format: "txt", SHA256: hex.EncodeToString(sum[:]), Size: int64(len(body))}}
		}
		if err := w.Append(&end); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// newStore is a store with a manifest and one experiment.
func newStore(t testing.TB, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	spec := []byte(`{"experiment":"pi","version":"1"}`)
	sum := sha256.Sum256(spec)
	if _, err := st.AddExperiment(store.ExperimentInfo{Name: "pi", Version: "1",
		Plan: store.PlanInfo{Identity: hex.EncodeToString(sum[:]), Spec: spec, Runs: 100}}); err != nil {
		t.Fatal(err)
	}
	return st
}

func openDB(t testing.TB, url string) *DB {
	t.Helper()
	db, err := Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

func count(t testing.TB, db *DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// storeWinners reads the store's winning record of each run, through the
// store's own index.
func storeWinners(t testing.TB, st *store.Store) map[string]*store.Record {
	t.Helper()
	if _, err := st.Collect(context.Background()); err != nil {
		t.Fatal(err)
	}
	out := map[string]*store.Record{}
	if err := st.Records(func(r *store.Record) error { out[r.RunID] = r; return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkSame fails unless the database holds exactly the store's winners.
func checkSame(t testing.TB, db *DB, st *store.Store) {
	t.Helper()
	want := storeWinners(t, st)
	got := 0
	err := db.Records(context.Background(), "", func(r *store.Record) error {
		got++
		w, ok := want[r.RunID]
		switch {
		case !ok:
			return fmt.Errorf("run %s is in the database, not in the store", r.RunID)
		case w.Status != r.Status || !w.When().Equal(r.When()) || w.Metrics["pi_estimate"] != r.Metrics["pi_estimate"]:
			return fmt.Errorf("run %s: database has %s at %v, store %s at %v", r.RunID, r.Status, r.When(), w.Status, w.When())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != len(want) {
		t.Fatalf("database has %d runs, store %d", got, len(want))
	}
}

func TestExportIncremental(t *testing.T) {
	db := openDB(t, TestURL(t))
	st := newStore(t, t.TempDir())
	writeRuns(t, st, 0, 300)
	ctx := context.Background()

	rep, err := db.Export(ctx, st, ExportOptions{BatchRecords: 50})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rep.Added, 300; got != want {
		t.Fatalf("first export: Added=%d, want %d", got, want)
	}
	if got, want := rep.Read, 600; got != want {
		t.Fatalf("first export: Read=%d, want %d", got, want)
	}
	checkSame(t, db, st)
	if got, want := count(t, db, "SELECT count(*) FROM series"), 2*60; got != want {
		t.Fatalf("series points: %d, want %d", got, want)
	}
	if got, want := count(t, db, "SELECT count(*) FROM artifacts WHERE content IS NULL"), 43; got != want {
		t.Fatalf("artifacts without content: %d, want %d", got, want)
	}

	rep, err = db.Export(ctx, st, ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Read != 0 || rep.Added != 0 || rep.Updated != 0 {
		t.Fatalf("second export: Read=%d Added=%d Updated=%d, want 0, 0 and 0", rep.Read, rep.Added, rep.Updated)
	}

	// A new writer's segment, and runs of the first ones again (a rerun
	// that completes runs that had failed).
	writeRuns(t, st, 250, 400)
	rep, err = db.Export(ctx, st, ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := rep.Read, 300; got != want {
		t.Fatalf("third export: Read=%d, want %d (only the new segment)", got, want)
	}
	if rep.Added != 100 || rep.Updated != 0 {
		t.Fatalf("third export: Added=%d Updated=%d, want 100 (runs 300 to 399) and 0 (runs 250 to 299 again, the same records)", rep.Added, rep.Updated)
	}
	checkSame(t, db, st)
}

func TestExportIncludeArtifacts(t *testing.T) {
	db := openDB(t, TestURL(t))
	st := newStore(t, t.TempDir())
	writeRuns(t, st, 0, 30)
	if _, err := db.Export(context.Background(), st, ExportOptions{IncludeArtifacts: true}); err != nil {
		t.Fatal(err)
	}
	b, ok, err := db.ArtifactContent(context.Background(), runID(14), "notes")
	if err != nil || !ok {
		t.Fatalf("ArtifactContent: %v, %v", ok, err)
	}
	if got, want := string(b), "artifact of run 14\n"; got != want {
		t.Fatalf("artifact content %q, want %q", got, want)
	}
}

// TestExportKilled kills an export process (this test binary, run again)
// between two of its transactions, and exports again: every run arrives
// once, and the second export sends only what the first did not commit.
func TestExportKilled(t *testing.T) {
	if dir := os.Getenv("PGSTORE_TEST_EXPORT_CHILD"); dir != "" {
		exportChild(t, dir)
		return
	}
	url := TestURL(t)
	db := openDB(t, url)
	dir := t.TempDir()
	st := newStore(t, dir)
	writeRuns(t, st, 0, 3000)
	writeRuns(t, st, 2000, 4000)
	before := dirSums(t, dir)

	cmd := exec.Command(os.Args[0], "-test.run=^TestExportKilled$", "-test.v")
	cmd.Env = append(os.Environ(), "PGSTORE_TEST_EXPORT_CHILD="+dir, "PGSTORE_TEST_URL="+url)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	batches := 0
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "BATCH ") {
			batches++
			if batches == 5 {
				cmd.Process.Kill()
				break
			}
		}
	}
	cmd.Wait()
	if batches < 5 {
		t.Fatalf("the export child reported %d batches before it ended, want 5", batches)
	}
	partial := count(t, db, "SELECT count(*) FROM runs")
	if partial == 0 || partial >= 4000 {
		t.Fatalf("after the kill the database has %d runs; want some of 4000", partial)
	}
	rep, err := db.Export(context.Background(), st, ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := partial+rep.Added, 4000; got != want {
		t.Fatalf("runs before the rerun %d + runs it added %d = %d, want %d", partial, rep.Added, got, want)
	}
	if rep.Read >= 9000 {
		t.Fatalf("the rerun read %d records: it started over instead of going on", rep.Read)
	}
	if after := dirSums(t, dir); after != before {
		t.Fatalf("the export changed the store directory")
	}
	checkSame(t, db, st)
	t.Logf("killed after %d batches with %d runs in the database; the rerun read %d records, added %d runs and updated %d", batches, partial, rep.Read, rep.Added, rep.Updated)
}

func exportChild(t *testing.T, dir string) {
	st, err := store.OpenExisting(dir)
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(context.Background(), os.Getenv("PGSTORE_TEST_URL"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Export(context.Background(), st, ExportOptions{BatchRecords: 200, Progress: func(n int) {
		fmt.Printf("BATCH %d\n", n)
		time.Sleep(50 * time.Millisecond) // give the parent time to kill between two
	}})
	t.Fatalf("the export child was not killed: %v", err)
}

// dirSums hashes every file under dir, for checking that it was not
// changed.
func dirSums(t testing.TB, dir string) string {
	t.Helper()
	out, err := exec.Command("sh", "-c", "cd "+dir+" && find . -type f -print0 | sort -z | xargs -0 sha256sum").Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestOpenBadInputs(t *testing.T) {
	url := TestURL(t)
	ctx := context.Background()
	wrongPassword := strings.Replace(url, "@", "x@", 1)
	u := strings.SplitN(strings.TrimPrefix(url, "postgres://"), "@", 2)
	wrongPassword = "postgres://" + u[0] + "nope@" + u[1]
	for _, tc := range []struct {
		name, url string
		want      string
		as        any
	}{
		{"not a URL", "postgres://metalab:pw@127.0.0.1:notaport/x", "not a usable PostgreSQL URL", new(*URLError)},
		{"refused password", wrongPassword, "refused user", new(*ConnectError)},
		{"nothing listening", "postgres://metalab:pw@127.0.0.1:1/metalab?sslmode=disable&connect_timeout=5", "not reachable", new(*ConnectError)},
		{"no such database", strings.Replace(url, "metalab_test_", "metalab_none_", 1), "does not exist", new(*ConnectError)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(ctx, tc.url)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open(%s)=%v, want an error with %q", Redact(tc.url), err, tc.want)
			}
			if !errors.As(err, tc.as) {
				t.Fatalf("Open: %T, want %T", err, tc.as)
			}
			if strings.Contains(err.Error(), "nope") || (tc.url == url && strings.Contains(err.Error(), ":pw@")) {
				t.Fatalf("the error shows the password: %v", err)
			}
		})
	}
}

func TestOpenOtherSchemaVersion(t *testing.T) {
	url := TestURL(t)
	ctx := context.Background()
	db := openDB(t, url)
	if _, err := db.pool.Exec(ctx, "UPDATE metalab_schema SET version = $1", SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx, url)
	var ve *VersionError
	if !errors.As(err, &ve) || ve.Version != SchemaVersion+1 {
		t.Fatalf("Open of a newer schema: %v, want a *VersionError of version %d", err, SchemaVersion+1)
	}
	if !strings.Contains(err.Error(), "newer than this metalab's") {
		t.Fatalf("error %q does not say the schema is newer", err)
	}
}

// TestExportConnectionLost ends the export's server process (as a crash
// or a restart of the server does to it) in the middle of an export: the
// export fails with a LostError, and the next one completes the database.
func TestExportConnectionLost(t *testing.T) {
	url := TestURL(t)
	db := openDB(t, url)
	st := newStore(t, t.TempDir())
	writeRuns(t, st, 0, 3000)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	batches := 0
	_, err = db.Export(ctx, st, ExportOptions{BatchRecords: 200, Progress: func(int) {
		batches++
		if batches == 3 {
			var killed bool
			err := admin.QueryRow(ctx, `SELECT bool_and(pg_terminate_backend(pid)) FROM pg_stat_activity
				WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&killed)
			if err != nil || !killed {
				t.Errorf("terminating the export's backend: %v %v", killed, err)
			}
		}
	}})
	var le *LostError
	if !errors.As(err, &le) {
		t.Fatalf("Export with its connection killed: %v, want a *LostError", err)
	}
	partial := count(t, db, "SELECT count(*) FROM runs")
	rep, err := db.Export(ctx, st, ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := partial+rep.Added, 3000; got != want {
		t.Fatalf("runs before the rerun %d + added by it %d = %d, want %d", partial, rep.Added, got, want)
	}
	checkSame(t, db, st)
}
