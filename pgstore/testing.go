package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/metalab-hpc/metalab/internal/testenv"
)

// TestURLEnv names the variable that gives tests a PostgreSQL server
// whose user may create databases (hack/postgres/up.sh starts one and
// prints its URL).
const TestURLEnv = "METALAB_TEST_POSTGRES"

// TestURL returns the URL of a new, empty database on the server of
// $METALAB_TEST_POSTGRES, dropped when the test ends. Without the
// variable the test is skipped, or fails under hack/test.sh and in CI
// (testenv.Strict), where the server must be up, unless
// METALAB_TEST_NO_POSTGRES=1 turned it off.
func TestURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(TestURLEnv)
	if base == "" {
		if os.Getenv("METALAB_TEST_NO_POSTGRES") == "1" {
			t.Skip("skipped: METALAB_TEST_NO_POSTGRES=1")
		}
		testenv.Need(t, "no PostgreSQL", "set "+TestURLEnv+" to the URL that `bash hack/postgres/up.sh` prints")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connecting to %s=%s: %v", TestURLEnv, Redact(base), err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	rand.Read(b[:])
	name := "metalab_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("creating a test database: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("dropping test database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("dropping test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}
