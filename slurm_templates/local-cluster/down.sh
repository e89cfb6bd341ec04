#!/usr/bin/env bash
# down.sh - stop the single-node Slurm cluster started by up.sh (same folder).
# Cancels all jobs of this cluster, then stops slurmd, slurmctld, slurmdbd, mariadbd and
# munged - each by the PID in its pid file, after checking /proc/PID/comm (never by name).
#   PURGE=1   also wipe slurmctld/slurmd state, the accounting database and the logs
#             (next bring-up starts again at job id 1 with an empty sacct history).
set -uo pipefail
PURGE=${PURGE:-0}
log() { echo "[slurm-down $(date +%T)] $*"; }
[ "$(id -u)" -eq 0 ] || { echo "must run as root" >&2; exit 1; }

running() {
  local pid
  [ -s "$2" ] || return 1
  pid=$(cat "$2" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -d "/proc/$pid" ] && [ "$(cat /proc/$pid/comm 2>/dev/null)" = "$1" ]
}
stop_pid() {  # stop_pid NAME PIDFILE
  if ! running "$1" "$2"; then log "$1 not running"; return 0; fi
  local pid; pid=$(cat "$2")
  log "stopping $1 (pid $pid)"
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 120); do [ -d "/proc/$pid" ] || return 0; sleep 0.25; done
  log "$1 (pid $pid) ignored SIGTERM for 30s: SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
}

# 1. cancel all jobs of this cluster and give slurmd a moment to kill job steps
if running slurmctld /run/slurmctld.pid && command -v squeue >/dev/null; then
  jobs=$(squeue -h -o %A 2>/dev/null | sort -u)
  if [ -n "$jobs" ]; then
    log "cancelling jobs: $(echo $jobs)"
    # shellcheck disable=SC2086
    scancel $jobs 2>/dev/null || true
    for _ in $(seq 1 60); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.5; done
  fi
fi

# 2. daemons, in reverse start order
stop_pid slurmd    /run/slurmd.pid
stop_pid slurmctld /run/slurmctld.pid
stop_pid slurmdbd  /run/slurmdbd.pid
if [ "$PURGE" = 1 ] && running mariadbd /run/mysqld/mysqld.pid; then
  log "dropping accounting database slurm_acct_db"
  mariadb -e 'DROP DATABASE IF EXISTS slurm_acct_db' || true
fi
stop_pid mariadbd  /run/mysqld/mysqld.pid
stop_pid munged    /run/munge/munged.pid

# 3. job step daemons (slurmstepd) normally exit with their jobs; wait for them, but do
#    not kill anything by name - just report leftovers
for _ in $(seq 1 30); do
  left=$(for c in /proc/[0-9]*/comm; do [ "$(cat "$c" 2>/dev/null)" = slurmstepd ] && { c=${c#/proc/}; echo "${c%/comm}"; }; done)
  [ -z "$left" ] && break; sleep 0.5
done
[ -n "${left:-}" ] && log "WARNING: slurmstepd still running: $(echo $left)"

if [ "$PURGE" = 1 ]; then
  log "purging state, accounting database and logs"
  rm -rf /var/spool/slurmctld/* /var/spool/slurmd/* /var/log/slurm/*
  rm -f /etc/slurm/slurm.conf /etc/slurm/slurmdbd.conf
fi
log "done"
