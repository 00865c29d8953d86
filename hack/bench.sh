#!/usr/bin/env bash
# hack/bench.sh — measure metalab's own cost: builds hack/bench and prints one
# table, each figure beside a baseline measured in the same run. A full run
# takes about ten minutes on 2 cores; --quick about one. See
# docs/performance.md for the scenarios and the last full run's figures.
#
#   bash hack/bench.sh            # full sizes (1,000,000-run sweeps)
#   bash hack/bench.sh --quick    # smaller sizes, for a check
#   bash hack/bench.sh -only report   # scenario 6 alone: the HTML report
#   bash hack/bench.sh --slurm        # scenario 7 alone: 1,000,000 runs through
#                                     # the local cluster (hack/slurm-docker/up.sh
#                                     # --accounting first), beside `run` here
#   bash hack/bench.sh -only postgres # scenario 8 alone: export to PostgreSQL ($METALAB_TEST_POSTGRES)
#   bash hack/bench.sh -only results  # scenario 9 alone: the Go Results API
#   bash hack/bench.sh -only persistent # scenario 3 alone: persistent mode
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
go build -o "$bin/bench" ./hack/bench
echo "== $(uname -srm); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(nproc) CPUs; $(go version | cut -d' ' -f3)" >&2
"$bin/bench" "$@"
