#!/usr/bin/env bash
# hack/slurm-docker/down.sh — stop the daemons up.sh started, and only those:
# each is found through the PID file up.sh keeps in /run/slurm-local and is
# signalled only if /proc/PID/comm still names the expected daemon.  Never
# pkill/killall.  A munged that up.sh merely reused is left alone.
# Adapted from the team's shared slurm-local/down.sh; see README.md here.
#
# Usage: down.sh [--keep-jobs]
#   By default all jobs in partition "debug" are cancelled first and we wait
#   (bounded) for them to finish, so no slurmstepd/job processes outlive the
#   cluster.  --keep-jobs skips that: pending jobs survive in the saved state,
#   and running jobs keep running (their slurmstepd outlives slurmd); the next
#   up.sh (without --clean) recovers both and the jobs complete normally.
set -uo pipefail
RUN_DIR=/run/slurm-local
KEEP=0
for a in "$@"; do
  case "$a" in
    --keep-jobs) KEEP=1 ;;
    -h|--help) awk 'NR>1 && !/^#/{exit} NR>1' "$0"; exit 0 ;;
    *) echo "down.sh: unknown argument: $a (try --help)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "down.sh: must run as root" >&2; exit 1; }
export PATH="/usr/sbin:/usr/bin:/sbin:/bin:$PATH"

# shellcheck source=hack/slurm-docker/lib.sh
. "$(dirname "$0")/lib.sh"   # alive, pid_from, stop_pidfiles
stopped=()

ctld=$(pid_from "$RUN_DIR/slurmctld.pid")
if [ "$KEEP" = 0 ] && alive "$ctld" slurmctld; then
  if [ -n "$(squeue -h -p debug -o %A 2>/dev/null | head -1)" ]; then
    scancel -p debug 2>/dev/null || true
    for _ in $(seq 1 150); do   # up to ~30 s for running jobs to be killed
      [ -z "$(squeue -h -p debug -t RUNNING,COMPLETING,CONFIGURING,SUSPENDED -o %A 2>/dev/null | head -1)" ] && break
      sleep 0.2
    done
  fi
fi

files=()
for f in "$RUN_DIR"/slurmd.pid "$RUN_DIR"/slurmd-*.pid; do [ -e "$f" ] && files+=("$f"); done
files+=("$RUN_DIR/slurmctld.pid")
mapfile -t -O "${#stopped[@]}" stopped < <(stop_pidfiles "${files[@]}")             # slurmd(s) + slurmctld together
mapfile -t -O "${#stopped[@]}" stopped < <(stop_pidfiles "$RUN_DIR/slurmdbd.pid")   # accounting (up.sh --accounting), after slurmctld
mapfile -t -O "${#stopped[@]}" stopped < <(stop_pidfiles "$RUN_DIR/mariadbd.pid")   # its database last but munge
mapfile -t -O "${#stopped[@]}" stopped < <(stop_pidfiles "$RUN_DIR/munged.pid")     # munge last (slurm needs it to exit cleanly)

echo "slurm-local DOWN: stopped ${stopped[*]:-nothing (none of ours was running)}"
