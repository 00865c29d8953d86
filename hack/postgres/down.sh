#!/usr/bin/env bash
# hack/postgres/down.sh — stop the throwaway PostgreSQL cluster of up.sh.
# --purge removes its directory too (the data and the password).
set -euo pipefail
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:$PATH"
dir=${PG_LOCAL_DIR:-/var/tmp/metalab-pg}
bin=/usr/lib/postgresql/15/bin
if [ -s "$dir/data/PG_VERSION" ] && runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
  runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
  echo "hack/postgres/down.sh: stopped the cluster in $dir/data" >&2
fi
if [ "${1:-}" = --purge ]; then
  rm -rf "$dir"
  echo "hack/postgres/down.sh: removed $dir" >&2
fi
