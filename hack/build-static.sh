#!/usr/bin/env bash
# hack/build-static.sh — build a fully static metalab binary for clusters:
# go-sqlite3 needs cgo, and a binary linked against this machine's glibc
# would not start on compute nodes with an older one. This links SQLite and
# libc statically (netgo/osusergo: no NSS lookups that static glibc cannot
# do; no SQLite extension loading, which would need dlopen).
#
#   bash hack/build-static.sh            # writes ./metalab-static
#   bash hack/build-static.sh OUT [PKG]  # another output path or main package
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-metalab-static}
pkg=${2:-.}
CGO_ENABLED=1 go build -trimpath \
  -tags 'netgo osusergo sqlite_omit_load_extension' \
  -ldflags '-s -w -linkmode external -extldflags "-static"' \
  -o "$out" "$pkg"
if ldd "$out" >/dev/null 2>&1; then
  echo "build-static.sh: $out is dynamically linked:" >&2
  ldd "$out" >&2
  exit 1
fi
echo "$out: static ($(du -h "$out" | cut -f1)); ldd: $(ldd "$out" 2>&1 | head -1 | sed 's/^[[:space:]]*//')"
