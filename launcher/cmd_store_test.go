package launcher

import (
	"bytes"
	"context"
	"fmt"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/metalab-hpc/metalab/capture"
	"github.com/metalab-hpc/metalab/params"
	"github.com/metalab-hpc/metalab/pgstore"
	"github.com/metalab-hpc/metalab/seeds"
	"github.com/metalab-hpc/metalab/store"
)

// richExp is an experiment of n points x times 2 replicates whose runs
// capture a metric, a series, data, a log line and an artifact, and fail
// where x is in fail (after capturing some of it).
func richExp(name, version string, n int, fail ...int) Experiment {
	return Experiment{
		Name: name, Version: version, Seeds: seeds.New(3, 2), Params: params.Grid{"x": seqAny(n), "opt": {"adam", "sgd"}},
		Operation: Op(func(p params.Point, s seeds.Bundle, c capture.Capture) error {
			x := int(p.Int("x"))
			for step := range 3 {
				c.Metric("loss", float64(x)/float64(step+1)+float64(s.Replicate)/7, capture.Step(step))
			}
			c.Data("curve", []float64{float64(x), 0.5, 1e-9})
			c.Log("x is %d", x)
			c.Artifact("notes", []byte(fmt.Sprintf("run of x=%d replicate %d\n", x, s.Replicate)), "txt")
			if slices.Contains(fail, x) {
				return fmt.Errorf("x=%d fails", x)
			}
			c.Metric("y", float64(x)*1.1)
			return nil
		}),
	}
}

// sweepInto runs every run of exp into the store dir.
func sweepInto(t *testing.T, exp Experiment, dir string) {
	t.Helper()
	if _, err := os.Stat(dir); err != nil {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	app, _ := testApp(exp, nil)
	// The workers log at once: a buffer of its own, locked.
	var out lockedBuffer
	app.Stdout, app.Stderr = &out, &out
	if code := app.Run(context.Background(), []string{"metalab", "run", "--store", dir, "--progress", "quiet"}); code != ExitOK && code != ExitRunsFailed {
		t.Fatalf("run into %s: exit %d: %s", dir, code, out.String())
	}
}

// lockedBuffer is a bytes.Buffer that several goroutines may write.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// metalabOut runs the command line args in app and returns its stdout,
// failing the test unless it exits 0.
func metalabOut(t *testing.T, app *App, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	app.Stdout, app.Stderr = &out, &errOut
	if code := app.Run(context.Background(), append([]string{"metalab"}, args...)); code != ExitOK {
		t.Fatalf("metalab %s: exit %d: %s", strings.Join(args, " "), code, errOut.String())
	}
	return out.String()
}

// sortLines sorts the lines of s.
func sortLines(s string) string {
	lines := strings.SplitAfter(s, "\n")
	sort.Strings(lines)
	return strings.Join(lines, "")
}

// treeSums hashes every file under dir, for checking that a source was
// not changed.
func treeSums(t *testing.T, dir string) string {
	t.Helper()
	out, err := exec.Command("sh", "-c", "cd '"+dir+"' && find . -type f -print0 | sort -z | xargs -0 -r sha256sum").Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// TestStoreRoundTrip: a store of two experiments goes into PostgreSQL and
// back into a new directory, whose results (jsonl, sorted) are the
// original's byte for byte; results, summary and status read from the
// database print what they print from the directory; the source store is
// not changed by the export.
func TestStoreRoundTrip(t *testing.T) {
	url := pgstore.TestURL(t)
	src := filepath.Join(t.TempDir(), "src")
	sweepInto(t, richExp("rich", "1", 3, 1), src)
	sweepInto(t, richExp("rich", "2", 2), src)
	app, _ := testApp(richExp("rich", "1", 3, 1), nil)
	// Reading the store collects it: do it before taking its sums.
	want := sortLines(metalabOut(t, app, "results", "--store", src, "--format", "jsonl"))
	before := treeSums(t, src)

	out := metalabOut(t, app, "store", "export", "--store", src, "--to", url, "--include-artifacts")
	if !strings.Contains(out, "20 runs added") {
		t.Errorf("export said %q, want 20 runs added", out)
	}
	if after := treeSums(t, src); after != before {
		t.Fatalf("the export changed the source store:\n%s\nwas\n%s", after, before)
	}
	out = metalabOut(t, app, "store", "export", "--store", src, "--to", url)
	if !strings.Contains(out, "0 records read, 0 runs added, 0 updated") {
		t.Errorf("second export said %q, want 0 records read and 0 runs added", out)
	}

	dst := filepath.Join(t.TempDir(), "dst")
	metalabOut(t, app, "store", "import", "--from", url, "--to", dst, "--include-artifacts")
	got := sortLines(metalabOut(t, app, "results", "--store", dst, "--format", "jsonl"))
	if got != want {
		t.Fatalf("results of the round trip differ:\n%s\nwant\n%s", got, want)
	}
	if n := strings.Count(got, "\n"); n != 20 {
		t.Fatalf("%d results, want 20", n)
	}
	// The artifacts came back, bytes and all.
	arts, _ := filepath.Glob(filepath.Join(dst, "artifacts", "*", "*"))
	if len(arts) != 20 {
		t.Errorf("%d artifact files in the copy, want 20", len(arts))
	}

	for _, args := range [][]string{
		{"results", "--format", "jsonl"},
		{"results", "--format", "csv", "--experiment", "rich@1"},
		{"results", "--format", "table", "--sort", "-y"},
		{"summary", "--group-by", "x", "--experiment", "rich@1"},
		{"summary", "--group-by", "x,opt", "--series", "loss", "--json"},
		{"status", "--json"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			fromDir := metalabOut(t, app, append(args, "--store", src)...)
			fromDB := metalabOut(t, app, append(args, "--store", url)...)
			if args[0] == "status" {
				fromDir = strings.Replace(fromDir, src, "STORE", 1)
				fromDB = strings.Replace(fromDB, pgstore.Redact(url), "STORE", 1)
			}
			if args[1] == "--format" && args[2] == "jsonl" {
				fromDir, fromDB = sortLines(fromDir), sortLines(fromDB)
			}
			if fromDB != fromDir {
				t.Fatalf("from the database:\n%s\nfrom the directory:\n%s", fromDB, fromDir)
			}
		})
	}
	// The URL's experiment picks as --experiment does.
	fromDB := metalabOut(t, app, "results", "--format", "csv", "--store", url+"&experiment=rich@2")
	fromDir := metalabOut(t, app, "results", "--format", "csv", "--store", src, "--experiment", "rich@2")
	if fromDB != fromDir || strings.Count(fromDB, "\n") != 9 {
		t.Fatalf("experiment=rich@2 from the database:\n%s\nfrom the directory:\n%s", fromDB, fromDir)
	}
}

// TestStoreMerge merges a laptop's store, whose runs of x=1 failed, into
// a cluster's, whose runs of x=1 completed and which lacks x=2: one record
// per run, the completed ones winning, whichever side has them; a second
// import changes nothing.
func TestStoreMerge(t *testing.T) {
	laptop := filepath.Join(t.TempDir(), "laptop")
	cluster := filepath.Join(t.TempDir(), "cluster")
	sweepInto(t, richExp("m", "1", 3, 1), laptop)
	sweepInto(t, richExp("m", "1", 2), cluster)
	app, _ := testApp(richExp("m", "1", 3), nil)
	metalabOut(t, app, "results", "--store", laptop)
	before := treeSums(t, laptop)

	out := metalabOut(t, app, "store", "import", "--from", laptop, "--to", cluster, "--include-artifacts")
	if !strings.Contains(out, "12 records read, 4 runs added, 0 updated, 8 kept") {
		t.Errorf("import said %q, want 12 read, 4 added (x=2), 8 kept (x=0 the same, x=1 completed on the cluster)", out)
	}
	if treeSums(t, laptop) != before {
		t.Fatal("the import changed the source store")
	}
	res, err := LoadResults(cluster)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[store.Status]int{}
	for r := range res.All() {
		counts[r.Status]++
	}
	if counts[store.StatusCompleted] != 12 || res.Len() != 12 {
		t.Fatalf("merged store: %v of %d runs, want 12 completed", counts, res.Len())
	}

	// The other way: the cluster's completed runs of x=1 replace the
	// laptop's failed ones in a copy of the laptop's store, and its runs
	// of x=0, which ended later, the laptop's.
	copyDir := filepath.Join(t.TempDir(), "copy")
	metalabOut(t, app, "store", "import", "--from", laptop, "--to", copyDir)
	out = metalabOut(t, app, "store", "import", "--from", cluster, "--to", copyDir)
	if !strings.Contains(out, "12 records read, 0 runs added, 8 updated, 4 kept") {
		t.Errorf("import said %q, want 8 updated (x=0 later, x=1 completed) and 4 kept (x=2, the same records)", out)
	}
	out = metalabOut(t, app, "store", "import", "--from", cluster, "--to", copyDir)
	if !strings.Contains(out, "0 runs added, 0 updated, 12 kept") {
		t.Errorf("a second import said %q, want nothing added or updated", out)
	}
	list := metalabOut(t, app, "store", "list", "--store", copyDir)
	if !strings.Contains(list, "m           1        12    12         0") {
		t.Errorf("store list:\n%s", list)
	}
}

// TestStoreImportPython imports the store that the Python library wrote
// (a copy of it) into a directory and into PostgreSQL.
func TestStoreImportPython(t *testing.T) {
	py := filepath.Join(t.TempDir(), "py")
	if out, err := exec.Command("cp", "-a", "../../shared/testdata/python-metalab-store", py).CombinedOutput(); err != nil {
		t.Skipf("the Python library's store is not here: %v: %s", err, out)
	}
	before := treeSums(t, py)
	dst := filepath.Join(t.TempDir(), "dst")
	app, _ := testApp(richExp("m", "1", 3), nil)
	out := metalabOut(t, app, "store", "import", "--from", "python:"+py, "--to", dst)
	if !strings.Contains(out, "17 records read, 17 runs added") || !strings.Contains(out, "6 artifact files copied (2 experiments)") {
		t.Errorf("import said %q", out)
	}
	if treeSums(t, py) != before {
		t.Fatal("the import changed the Python store")
	}
	list := metalabOut(t, app, "store", "list", "--store", dst, "--json")
	for _, want := range []string{`"experiment": "pi_mc",
    "version": "0.1",
    "runs": 9,
    "completed": 9`, `"experiment": "train",
    "version": "2",
    "runs": 8,
    "completed": 5,
    "failed": 3`} {
		if !strings.Contains(list, want) {
			t.Errorf("store list --json:\n%s\nwant it to hold\n%s", list, want)
		}
	}
	// A run of the Python library, as metalab reads it now.
	res, err := LoadResults(dst)
	if err != nil {
		t.Fatal(err)
	}
	var run *Record
	for r := range res.All() {
		if r.RunID == "c45e6e13952e9632" {
			run = r
		}
	}
	if run == nil {
		t.Fatal("run c45e6e13952e9632 of the Python store is not in the import")
	}
	if run.Status != store.StatusCompleted || run.Params["opt"] != "adam" || len(run.Series["loss"]) != 5 || len(run.Artifacts) != 1 ||
		!strings.Contains(strings.Join(run.Warnings, "\n"), "imported from the Python metalab store") {
		t.Fatalf("imported run: %+v", *run)
	}
	b, err := os.ReadFile(filepath.Join(dst, filepath.FromSlash(run.Artifacts[0].Path)))
	if err != nil || !strings.Contains(string(b), `"opt": "adam"`) {
		t.Fatalf("its artifact: %q, %v", b, err)
	}
	// Importing again adds nothing.
	out = metalabOut(t, app, "store", "import", "--from", "python:"+py, "--to", dst)
	if !strings.Contains(out, "0 runs added, 0 updated, 17 kept") {
		t.Errorf("second import said %q", out)
	}

	url := pgstore.TestURL(t)
	metalabOut(t, app, "store", "import", "--from", "python:"+py, "--to", url)
	fromDB := metalabOut(t, app, "results", "--format", "csv", "--store", url+"&experiment=train@2")
	fromDir := metalabOut(t, app, "results", "--format", "csv", "--store", dst, "--experiment", "train@2")
	if fromDB != fromDir {
		t.Fatalf("train@2 through PostgreSQL:\n%s\nfrom the directory:\n%s", fromDB, fromDir)
	}
}

// TestStoreBadInputs: each bad input is refused with a message that says
// what and a hint, and writes nothing.
func TestStoreBadInputs(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	sweepInto(t, richExp("b", "1", 2), src)
	newer := filepath.Join(t.TempDir(), "newer")
	sweepInto(t, richExp("b", "1", 2), newer)
	if err := os.WriteFile(filepath.Join(newer, "metalab.json"), []byte(`{"format": 99, "experiment": "b", "version": "1"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	py := filepath.Join(t.TempDir(), "py")
	if out, err := exec.Command("cp", "-a", "../../shared/testdata/python-metalab-store", py).CombinedOutput(); err != nil {
		t.Skipf("the Python library's store is not here: %v: %s", err, out)
	}
	if err := os.WriteFile(filepath.Join(py, "train_2", "runs", "c45e6e13952e9632.json"), []byte(`{"run_id": "c45e6e13952e9632", "status": "succ`), 0o644); err != nil {
		t.Fatal(err)
	}
	url := os.Getenv(pgstore.TestURLEnv)
	wrongPassword := ""
	if url != "" {
		user, rest, _ := strings.Cut(strings.TrimPrefix(url, "postgres://"), "@")
		name, _, _ := strings.Cut(user, ":")
		wrongPassword = "postgres://" + name + ":wrong-secret@" + rest
	}
	tests := []struct {
		name     string
		args     []string
		code     int
		stderr   []string
		needsPG  bool
		untouced string // a directory that must not exist afterwards
	}{
		{name: "export to a non-URL", args: []string{"store", "export", "--store", src, "--to", "/tmp/x"}, code: ExitUsage,
			stderr: []string{"--to \"/tmp/x\" is not a PostgreSQL URL", "hint: give a URL"}},
		{name: "a URL that does not parse", args: []string{"store", "export", "--store", src, "--to", "postgres://u:p@host:port/db"}, code: ExitRunsFailed,
			stderr: []string{"is not a usable PostgreSQL URL", "hint: write it as postgres://"}},
		{name: "a server that is not there", args: []string{"store", "list", "--store", "postgres://u:secret@127.0.0.1:1/db?connect_timeout=5"}, code: ExitRunsFailed,
			stderr: []string{"cannot connect to postgres://u:xxxxx@127.0.0.1:1/db", "not reachable", "hint: is PostgreSQL running there?"}},
		{name: "a refused password", args: []string{"store", "export", "--store", src, "--to", wrongPassword}, code: ExitRunsFailed, needsPG: true,
			stderr: []string{"the server refused user", "hint: check the user and password"}},
		{name: "a store of a newer format", args: []string{"store", "export", "--store", newer, "--to", "postgres://u:p@127.0.0.1:1/db"}, code: ExitRunsFailed,
			stderr: []string{"was written by a newer metalab (format 99"}},
		{name: "a store of a newer format, into a directory", args: []string{"store", "import", "--from", newer, "--to", filepath.Join(t.TempDir(), "d1")}, code: ExitRunsFailed,
			stderr: []string{"was written by a newer metalab (format 99"}},
		{name: "a Python store with a broken file", args: []string{"store", "import", "--from", "python:" + py, "--to", filepath.Join(t.TempDir(), "d2")}, code: ExitUsage,
			stderr: []string{"train_2/runs/c45e6e13952e9632.json: not valid JSON", "hint: fix or remove that file"}},
		{name: "not a store", args: []string{"store", "import", "--from", t.TempDir(), "--to", filepath.Join(t.TempDir(), "d3")}, code: ExitUsage,
			stderr: []string{"not a metalab store"}},
		{name: "an experiment the source lacks", args: []string{"store", "import", "--from", src, "--to", filepath.Join(t.TempDir(), "d4"), "--experiment", "nope"}, code: ExitUsage,
			stderr: []string{"holds no experiment nope", "hint: 'metalab store list"}},
	}
	before := treeSums(t, src)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.needsPG && url == "" {
				pgstore.TestURL(t) // skips, or fails under CI
			}
			app, _ := testApp(richExp("b", "1", 2), nil)
			var out, errOut bytes.Buffer
			app.Stdout, app.Stderr = &out, &errOut
			code := app.Run(context.Background(), append([]string{"metalab"}, tt.args...))
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, tt.code, errOut.String())
			}
			for _, s := range tt.stderr {
				if !strings.Contains(errOut.String(), s) {
					t.Errorf("stderr %q, want it to contain %q", errOut.String(), s)
				}
			}
			if strings.Contains(errOut.String(), "secret") {
				t.Errorf("stderr shows the password: %s", errOut.String())
			}
			for _, a := range tt.args {
				if strings.HasPrefix(a, "/") && strings.Contains(a, "/d") {
					if _, err := os.Stat(filepath.Join(a, "segments")); err == nil {
						if entries, _ := os.ReadDir(filepath.Join(a, "segments")); len(entries) > 0 {
							t.Errorf("%s got segments", a)
						}
					}
				}
			}
		})
	}
	if treeSums(t, src) != before {
		t.Fatal("a failed command changed the source store")
	}
}

// TestStoreImportWithoutExperimentRecord: a database whose experiments
// table lacks the runs' experiment still gives a store that lists it.
func TestStoreImportWithoutExperimentRecord(t *testing.T) {
	url := pgstore.TestURL(t)
	src := filepath.Join(t.TempDir(), "src")
	sweepInto(t, richExp("w", "1", 2), src)
	app, _ := testApp(richExp("w", "1", 2), nil)
	metalabOut(t, app, "store", "export", "--store", src, "--to", url)
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(context.Background(), "DELETE FROM experiments"); err != nil {
		t.Fatal(err)
	}
	conn.Close(context.Background())
	dst := filepath.Join(t.TempDir(), "dst")
	metalabOut(t, app, "store", "import", "--from", url, "--to", dst)
	list := metalabOut(t, app, "store", "list", "--store", dst)
	if !strings.Contains(list, "w           1        8     8          0") {
		t.Fatalf("store list of the import:\n%s", list)
	}
}

// TestStoreExportTornLine: a line of a segment that is not a record is
// skipped, as the store's readers skip it, and the export says so.
func TestStoreExportTornLine(t *testing.T) {
	url := pgstore.TestURL(t)
	src := filepath.Join(t.TempDir(), "src")
	sweepInto(t, richExp("t", "1", 2), src)
	segs, err := filepath.Glob(filepath.Join(src, "segments", "*.jsonl"))
	if err != nil || len(segs) == 0 {
		t.Fatalf("segments: %v %v", segs, err)
	}
	f, err := os.OpenFile(segs[0], os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("{\"v\": 1, \"run_id\": \"broken\n")
	f.Close()
	app, _ := testApp(richExp("t", "1", 2), nil)
	var out, errOut bytes.Buffer
	app.Stdout, app.Stderr = &out, &errOut
	if code := app.Run(context.Background(), []string{"metalab", "store", "export", "--store", src, "--to", url}); code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "8 runs added") {
		t.Errorf("stdout %q, want 8 runs added", out.String())
	}
	if want := "1 lines of " + src + " are not records and were skipped"; !strings.Contains(errOut.String(), want) || !strings.Contains(errOut.String(), "invalid JSON") {
		t.Errorf("stderr %q, want %q and the reason", errOut.String(), want)
	}
}

// TestCollectExports: an experiment that names a database ([store]
// postgres) is exported by each collect, only what is new, with the
// password from $PGPASSWORD since the URL may not hold one; a collect in a
// SLURM job exports nothing; a URL with a password is refused.
func TestCollectExports(t *testing.T) {
	withPassword := pgstore.TestURL(t)
	u, err := neturl.Parse(withPassword)
	if err != nil {
		t.Fatal(err)
	}
	pw, _ := u.User.Password()
	u.User = neturl.User(u.User.Username())
	t.Setenv("PGPASSWORD", pw)
	exp := richExp("exported", "1", 2)
	exp.Postgres = u.String()
	dir := filepath.Join(t.TempDir(), "st")
	sweepInto(t, exp, dir)
	app, _ := testApp(exp, nil)

	t.Setenv("SLURM_JOB_ID", "42")
	out := metalabOut(t, app, "collect", "--store", dir)
	if !strings.Contains(out, "not exported to ") || !strings.Contains(out, "from a compute node") {
		t.Errorf("collect in a SLURM job:\n%s", out)
	}
	os.Unsetenv("SLURM_JOB_ID")
	if got := metalabOut(t, app, "store", "list", "--store", u.String()); strings.Contains(got, "exported") {
		t.Fatalf("a collect in a SLURM job exported:\n%s", got)
	}

	out = metalabOut(t, app, "collect", "--store", dir)
	if !strings.Contains(out, "8 runs added") {
		t.Errorf("collect did not export the 8 runs:\n%s", out)
	}
	if strings.Contains(out, pw) {
		t.Errorf("collect printed the password:\n%s", out)
	}
	out = metalabOut(t, app, "collect", "--store", dir)
	if !strings.Contains(out, "0 records read, 0 runs added") {
		t.Errorf("a second collect exported again:\n%s", out)
	}
	if got := metalabOut(t, app, "store", "list", "--store", u.String()); !strings.Contains(got, "exported") {
		t.Errorf("store list of the database:\n%s", got)
	}

	exp.Postgres = withPassword
	if err := exp.Validate(); err == nil || !strings.Contains(err.Error(), "holds a password") || strings.Contains(err.Error(), pw) {
		t.Errorf("Validate of a URL with a password: %v", err)
	}
	exp.Postgres = "mysql://db/lab"
	if err := exp.Validate(); err == nil || !strings.Contains(err.Error(), "not a PostgreSQL URL") {
		t.Errorf("Validate of another URL: %v", err)
	}
}
