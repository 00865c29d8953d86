# shellcheck shell=bash
# hack/slurm-docker/lib.sh — what up.sh and down.sh share; sourced by both.
# They stop only the daemons they started, found through the PID files in
# /run/slurm-local, and only while /proc/PID/comm still names the daemon.

# alive PID NAME: PID exists and its comm is NAME (guards against PID reuse)
alive() { [ -n "${1:-}" ] && [ -r "/proc/$1/comm" ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ]; }
pid_from() { if [ -s "$1" ]; then tr -dc '0-9' < "$1"; fi; }

# stop_pidfiles PIDFILE... — SIGTERM every live daemon named by a PID file
# (its name is the file's, up to "-": slurmd-n1.pid is a slurmd) at once, wait
# up to 20 s, SIGKILL stragglers, remove the files.  Prints NAME=PID of each
# daemon it stopped, one a line.
stop_pidfiles() {
  local f name pid live=() spec
  for f in "$@"; do
    name=$(basename "$f" .pid); name=${name%%-*}; pid=$(pid_from "$f")
    if alive "$pid" "$name"; then
      kill -TERM "$pid" 2>/dev/null || true
      live+=("$name:$pid"); echo "$name=$pid"
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
      echo "$(basename "$0"): ${spec%%:*} (${spec#*:}) ignored SIGTERM for 20s; sending SIGKILL" >&2
      kill -KILL "${spec#*:}" 2>/dev/null || true
    fi
  done
}
