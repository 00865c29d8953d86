#!/usr/bin/env bash
# hack/test.sh — run every metalab test on a fresh Debian 12 machine, as root:
# installs what the tests need (Debian packages, Go modules), brings up the
# local SLURM cluster of hack/slurm-docker/ (2 nodes), runs `go test -race
# ./...`, and stops the cluster again.
#
#   bash hack/test.sh              # everything
#   bash hack/test.sh ./store/...  # some packages only (go test patterns)
#
# Settings: METALAB_TEST_NO_SLURM=1 skips the cluster (its tests then skip and
# say so); METALAB_TEST_KEEP_SLURM=1 leaves the cluster running afterwards.
# METALAB_TEST_NO_POSTGRES=1 and METALAB_TEST_KEEP_POSTGRES=1 do the same for
# the throwaway PostgreSQL of hack/postgres/ (METALAB_TEST_POSTGRES).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH"

[ "$(id -u)" = 0 ] || { echo "hack/test.sh: run as root (it installs packages and starts SLURM)" >&2; exit 2; }
command -v go >/dev/null || { echo "hack/test.sh: Go is not installed (want /usr/local/go/bin/go)" >&2; exit 2; }

echo "== installing test dependencies"
export DEBIAN_FRONTEND=noninteractive
pkgs=(python3 python3-pandas shellcheck gcc libc6-dev sqlite3 chromium)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
go mod download
# Everything the tests need is installed now: a test that finds Chromium,
# pandas or another tool missing fails rather than skips (internal/testenv).
export METALAB_CI=1

if [ "${METALAB_TEST_NO_SLURM:-0}" != 1 ]; then
  echo "== starting the local SLURM cluster (hack/slurm-docker/up.sh)"
  # With a real slurmdbd (MariaDB), so that the accounting tests run; the
  # e2e tests that restart the cluster keep it, through the environment.
  export SLURM_LOCAL_ACCOUNTING=${SLURM_LOCAL_ACCOUNTING:-1}
  SLURM_LOCAL_NODES=${SLURM_LOCAL_NODES:-2} SLURM_LOCAL_CPUS=${SLURM_LOCAL_CPUS:-4} \
    bash hack/slurm-docker/up.sh
  if [ "$SLURM_LOCAL_ACCOUNTING" = 1 ]; then export METALAB_TEST_ACCOUNTING=1; fi
  if [ "${METALAB_TEST_KEEP_SLURM:-0}" != 1 ]; then
    trap 'bash hack/slurm-docker/down.sh || true' EXIT
  fi
  export METALAB_TEST_SLURM=1
fi

if [ "${METALAB_TEST_NO_POSTGRES:-0}" != 1 ]; then
  echo "== starting a throwaway PostgreSQL 15 (hack/postgres/up.sh)"
  pg_env=$(bash hack/postgres/up.sh --env) # an assignment, so that set -e sees a failure
  eval "$pg_env"
  if [ "${METALAB_TEST_KEEP_POSTGRES:-0}" != 1 ]; then
    # Keep the SLURM cluster's EXIT trap, which a plain trap would replace.
    prev_exit=$(trap -p EXIT | sed -e "s/^trap -- '//" -e "s/' EXIT\$//")
    trap "bash hack/postgres/down.sh || true${prev_exit:+; $prev_exit}" EXIT
  fi
fi

echo "== go vet"
go vet ./...
if [ "$#" -gt 0 ]; then
  echo "== go test -race $*"
  exec go test -race -timeout 60m "$@"
fi
# The end-to-end tests restart the cluster (another MaxArraySize), so they
# run after the other packages, alone.
echo "== go test -race (all packages but faults and e2e)"
go test -race -timeout 40m $(go list ./... | grep -v -e '/e2e$' -e '/faults$')
# docs/reliability.md: the fault tests print a line "FIGURES Test: ..." each.
echo "== go test -race -v ./faults (kill -9, full filesystem, hostile operations)"
go test -race -timeout 20m -v ./faults
echo "== reliability figures of the store tests"
go test -count=1 -v -run '^(TestReadSegmentTornEveryOffset|TestNodeIndexProcesses|TestCollectRebuild|TestOpenRefusesNewerFormat)$' ./store |
  grep -E '^(FIGURES|--- FAIL|FAIL|ok|panic)|_test.go:'
echo "== fuzzing, 10 s per target (longer: see docs/reliability.md)"
for target in expfile:FuzzLoad capture:FuzzParseLine store:FuzzReadSegment \
  slurm:FuzzParseSqueue slurm:FuzzParseSbatch slurm:FuzzParseConfig slurm:FuzzParseSacct; do
  go test -run='^$' -fuzz="^${target#*:}\$" -fuzztime="${METALAB_FUZZTIME:-10s}" "./${target%%:*}" |
    grep -v '^fuzz: elapsed'
done
echo "== go test -race ./e2e (real SLURM)"
go test -race -timeout 30m -v ./e2e
