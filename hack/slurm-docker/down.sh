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

alive() { [ -n "${1:-}" ] && [ -r "/proc/$1/comm" ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ]; }
pid_from() { if [ -s "$1" ]; then tr -dc '0-9' < "$1"; fi; }
stopped=()
# stop_all NAME:PIDFILE... — SIGTERM all live ones at once, wait up to 20 s,
# SIGKILL stragglers, remove the PID files.
stop_all() {
  local spec name f pid live=()
  for spec in "$@"; do
    name=${spec%%:*}; f=${spec#*:}; pid=$(pid_from "$f")
    if alive "$pid" "$name"; then
      kill -TERM "$pid" 2>/dev/null || true
      live+=("$name:$pid"); stopped+=("$name=$pid")
    fi
    rm -f "$f"
  done
  for _ in $(seq 1 200); do
    local any=0
    for spec in "${live[@]}"; do alive "${spec#*:}" "${spec%%:*}" && any=1; done
    [ "$any" = 0 ] && return 0
    sleep 0.1
  done
  for spec in "${live[@]}"; do
    if alive "${spec#*:}" "${spec%%:*}"; then
      echo "down.sh: ${spec%%:*} (${spec#*:}) ignored SIGTERM for 20s; sending SIGKILL" >&2
      kill -KILL "${spec#*:}" 2>/dev/null || true
    fi
  done
}

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

specs=()
for f in "$RUN_DIR"/slurmd*.pid; do [ -e "$f" ] && specs+=("slurmd:$f"); done
specs+=("slurmctld:$RUN_DIR/slurmctld.pid")
stop_all "${specs[@]}"                       # slurmd(s) + slurmctld together
stop_all "munged:$RUN_DIR/munged.pid"        # munge last (slurm needs it to exit cleanly)

echo "slurm-local DOWN: stopped ${stopped[*]:-nothing (none of ours was running)}"
