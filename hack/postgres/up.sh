#!/usr/bin/env bash
# hack/postgres/up.sh — start a throwaway PostgreSQL 15 cluster for metalab's
# tests, without systemd: Debian's postgresql-15 (installed with apt-get when
# missing), initdb'd into its own directory and run by pg_ctl as the
# postgres user on a port of its own, with a role and a database "metalab".
# Running it again while the cluster is up changes nothing.
#
#   bash hack/postgres/up.sh                 # prints the URL
#   eval "$(bash hack/postgres/up.sh --env)" # exports METALAB_TEST_POSTGRES
#
# Settings: PG_LOCAL_DIR (default /var/tmp/metalab-pg), PG_LOCAL_PORT
# (default 55432). The URL is also written to $PG_LOCAL_DIR/url. The tests
# use the server of $METALAB_TEST_POSTGRES (each makes a database of its
# own), and skip without it. hack/postgres/down.sh stops the cluster
# (--purge also removes its directory).
set -euo pipefail
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:$PATH"

dir=${PG_LOCAL_DIR:-/var/tmp/metalab-pg}
port=${PG_LOCAL_PORT:-55432}
bin=/usr/lib/postgresql/15/bin
data=$dir/data
env_out=0
[ "${1:-}" = --env ] && env_out=1

say() { echo "hack/postgres/up.sh: $*" >&2; }

[ "$(id -u)" = 0 ] || { say "run as root (it installs postgresql-15 and runs the server as the postgres user)"; exit 2; }

if [ ! -x "$bin/pg_ctl" ]; then
  say "installing postgresql-15"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  # The package's own cluster (main, port 5432) is not wanted: this script
  # runs one of its own, and no systemd starts the package's here anyway.
  mkdir -p /etc/postgresql-common
  grep -qs '^create_main_cluster' /etc/postgresql-common/createcluster.conf ||
    echo 'create_main_cluster = false' >>/etc/postgresql-common/createcluster.conf
  apt-get install -y -q --no-install-recommends postgresql-15 >/dev/null
fi

as_pg() { runuser -u postgres -- "$@"; }

mkdir -p "$dir"
chown postgres:postgres "$dir"
chmod 700 "$dir"
pass_file=$dir/password
if [ ! -s "$pass_file" ]; then
  head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$pass_file"
fi
chmod 600 "$pass_file"
pass=$(cat "$pass_file")
url="postgres://metalab:$pass@127.0.0.1:$port/metalab?sslmode=disable"

if [ ! -s "$data/PG_VERSION" ]; then
  say "initdb into $data"
  rm -rf "$data"
  as_pg "$bin/initdb" -D "$data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
  cat >>"$data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
# A throwaway cluster for tests and benchmarks: durability is not wanted.
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
shared_buffers = 256MB
max_wal_size = 4GB
CONF
fi

if ! as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  say "starting PostgreSQL 15 on 127.0.0.1:$port"
  as_pg "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 start >/dev/null ||
    { tail -20 "$dir/server.log" >&2; exit 1; }
fi

psql_pg() { as_pg "$bin/psql" -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA "$@"; }
if [ "$(psql_pg -c "SELECT 1 FROM pg_roles WHERE rolname = 'metalab'")" != 1 ]; then
  psql_pg -c "CREATE ROLE metalab LOGIN CREATEDB PASSWORD '$pass'"
else
  psql_pg -c "ALTER ROLE metalab PASSWORD '$pass'"
fi
if [ "$(psql_pg -c "SELECT 1 FROM pg_database WHERE datname = 'metalab'")" != 1 ]; then
  psql_pg -c "CREATE DATABASE metalab OWNER metalab"
fi

echo "$url" >"$dir/url"
chmod 644 "$dir/url"
# The tests stop and start the server with pg_ctl (the server going away
# mid-export): they find it here.
echo "$data" >"$dir/datadir"
if [ "$env_out" = 1 ]; then
  echo "export METALAB_TEST_POSTGRES='$url'"
else
  echo "$url"
fi
