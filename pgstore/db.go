package pgstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DB is an open PostgreSQL index of stores. Its methods are safe for
// concurrent use.
type DB struct {
	pool *pgxpool.Pool
	name string // the URL, its password hidden
}

// IsURL reports whether s names a PostgreSQL database rather than a store
// directory: a postgres:// or postgresql:// URL.
func IsURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// SplitURL takes the query parameter "experiment" (NAME[@VERSION], which
// picks the runs that commands read) out of a database URL: PostgreSQL
// would refuse it as an unknown setting.
func SplitURL(raw string) (conn, experiment string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", &URLError{URL: Redact(raw), Err: err}
	}
	q := u.Query()
	experiment = q.Get("experiment")
	q.Del("experiment")
	u.RawQuery = q.Encode()
	return u.String(), experiment, nil
}

// Redact returns the URL with its password replaced by "xxxxx", for
// messages.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an unparsable URL)"
	}
	return u.Redacted()
}

// URLError is a database URL that cannot be used.
type URLError struct {
	URL string // redacted
	Err error
}

func (e *URLError) Error() string {
	return fmt.Sprintf("%s is not a usable PostgreSQL URL: %v", e.URL, e.Err)
}

func (e *URLError) Unwrap() error { return e.Err }

// Hint is what the user can do about it.
func (e *URLError) Hint() string {
	return "write it as postgres://USER:PASSWORD@HOST:PORT/DATABASE?sslmode=disable (hack/postgres/up.sh prints one)"
}

// ConnectError is a database that cannot be reached or refuses metalab.
type ConnectError struct {
	URL    string // redacted
	Reason string
	hint   string
	Err    error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("cannot connect to %s: %s", e.URL, e.Reason)
}

func (e *ConnectError) Unwrap() error { return e.Err }

// Hint is what the user can do about it.
func (e *ConnectError) Hint() string { return e.hint }

// Open connects to the database at url, creates metalab's tables in an
// empty database, and checks the schema version of one that has them
// ([*VersionError]). The query parameter "experiment" is ignored (see
// [SplitURL]).
func Open(ctx context.Context, rawURL string) (*DB, error) {
	connURL, _, err := SplitURL(rawURL)
	if err != nil {
		return nil, err
	}
	name := Redact(connURL)
	cfg, err := pgxpool.ParseConfig(connURL)
	if err != nil {
		return nil, &URLError{URL: name, Err: errors.Unwrap(err)}
	}
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, &URLError{URL: name, Err: err}
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		pool.Close()
		return nil, connectError(name, cfg.ConnConfig.User, err)
	}
	err = ensureSchema(ctx, conn.Conn(), name)
	conn.Release()
	if err != nil {
		pool.Close()
		var ve *VersionError
		if errors.As(err, &ve) {
			return nil, err
		}
		return nil, fmt.Errorf("database %s: %w", name, err)
	}
	return &DB{pool: pool, name: name}, nil
}

// connectError says why a connection failed, in words a user can act on.
func connectError(name, user string, err error) error {
	e := &ConnectError{URL: name, Reason: err.Error(), Err: err}
	var pgErr *pgconn.PgError
	var netErr *net.OpError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "28P01", errors.As(err, &pgErr) && pgErr.Code == "28000":
		e.Reason = fmt.Sprintf("the server refused user %q (%s)", user, pgErr.Message)
		e.hint = "check the user and password in the URL (hack/postgres/up.sh prints the URL of its cluster)"
	case errors.As(err, &pgErr) && pgErr.Code == "3D000":
		e.Reason = pgErr.Message
		e.hint = "create it (createdb), or name an existing database in the URL"
	case errors.As(err, &netErr):
		e.Reason = "the server is not reachable: " + netErr.Error()
		e.hint = "is PostgreSQL running there? (bash hack/postgres/up.sh starts a local one)"
	default:
		e.hint = "check the URL, and that the server is running"
	}
	return e
}

// Name is the database's URL, its password hidden.
func (db *DB) Name() string { return db.name }

// Close closes the connections.
func (db *DB) Close() { db.pool.Close() }
