package pgstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// pgBin is where Debian's PostgreSQL 15 keeps its programs.
const pgBin = "/usr/lib/postgresql/15/bin"

// privateServer starts a PostgreSQL cluster of the test's own, which the
// test may stop and start (the shared one of $METALAB_TEST_POSTGRES serves
// other tests at the same time). It needs root, to run the server as the
// postgres user, and Debian's postgresql-15.
type privateServer struct {
	t    *testing.T
	data string
	port int
}

func newPrivateServer(t *testing.T) *privateServer {
	t.Helper()
	if os.Getenv(TestURLEnv) == "" {
		TestURL(t) // skips, or fails under CI
	}
	if os.Getuid() != 0 {
		t.Skip("a private PostgreSQL needs root (it runs as the postgres user)")
	}
	if _, err := os.Stat(filepath.Join(pgBin, "initdb")); err != nil {
		t.Skipf("no PostgreSQL 15 (bash hack/postgres/up.sh installs it): %v", err)
	}
	dir, err := os.MkdirTemp("/var/tmp", "metalab-pgtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &privateServer{t: t, data: filepath.Join(dir, "data"), port: l.Addr().(*net.TCPAddr).Port}
	l.Close()
	if out, err := exec.Command("chown", "postgres:postgres", dir).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v: %s", err, out)
	}
	s.pg("initdb", "-D", s.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
	s.start()
	t.Cleanup(func() { s.pgCtl("-m", "immediate", "stop") })
	return s
}

func (s *privateServer) pg(prog string, args ...string) {
	s.t.Helper()
	cmd := exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(pgBin, prog)}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Fatalf("%s %v: %v: %s", prog, args, err, out)
	}
}

func (s *privateServer) pgCtl(args ...string) error {
	cmd := exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(pgBin, "pg_ctl"), "-D", s.data, "-w"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl %v: %v: %s", args, err, out)
	}
	return nil
}

func (s *privateServer) start() {
	s.t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", s.port, filepath.Dir(s.data))
	if err := s.pgCtl("-l", filepath.Join(filepath.Dir(s.data), "log"), "-o", opts, "start"); err != nil {
		s.t.Fatal(err)
	}
}

func (s *privateServer) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=5", s.port)
}

// TestExportServerKilled stops the server (pg_ctl -m immediate: its
// processes quit at once, without a checkpoint, as in a crash) in the
// middle of an export: the export fails with a LostError; once the server
// is back, the same export completes the database, every run once.
func TestExportServerKilled(t *testing.T) {
	srv := newPrivateServer(t)
	st := newStore(t, t.TempDir())
	writeRuns(t, st, 0, 3000)
	ctx := context.Background()
	db := openDB(t, srv.url())
	batches := 0
	_, err := db.Export(ctx, st, ExportOptions{BatchRecords: 200, Progress: func(int) {
		if batches++; batches == 3 {
			if err := srv.pgCtl("-m", "immediate", "stop"); err != nil {
				t.Error(err)
			}
		}
	}})
	var le *LostError
	if !errors.As(err, &le) {
		t.Fatalf("Export with its server stopped: %v, want a *LostError", err)
	}
	t.Logf("the export said: %v (hint: %s)", err, le.Hint())
	srv.start()
	db2 := openDB(t, srv.url())
	partial := count(t, db2, "SELECT count(*) FROM runs")
	// Three batches of 200 runs committed; a run whose start record ends
	// a batch has its end record in the next, which adds no run.
	if partial < 3*198 || partial > 3*200 {
		t.Errorf("%d runs survived the crash, want those of the 3 committed batches, about 600", partial)
	}
	rep, err := db2.Export(ctx, st, ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := partial+rep.Added, 3000; got != want {
		t.Fatalf("runs before the rerun %d + added by it %d = %d, want %d", partial, rep.Added, got, want)
	}
	checkSame(t, db2, st)
}
