#!/usr/bin/env bash
# up.sh - bring up a REAL single-node Slurm cluster on this machine, without systemd.
# (Local test cluster of modelrepair; see slurm_templates/README.md.)
#
#   munged  ->  [mariadbd -> slurmdbd]  ->  slurmctld  ->  slurmd
#
# Idempotent: installs packages only if missing, (re)writes the config, starts only the
# daemons that are not already running (restarting slurm daemons if slurm.conf changed),
# and returns once `sinfo` shows the node idle (and, with accounting, once sacct works).
# Must run as root. Tested on Debian 12 (bookworm): slurm-wlm 22.05.8, munge 0.5.15,
# MariaDB 10.11.
#
# Environment knobs:
#   WITH_SLURMDBD=1      1 = also run mariadb + slurmdbd so `sacct` works (submitit needs
#                        sacct to notice jobs that end without a result: cancelled, killed,
#                        node failure). 0 = no accounting (lighter, but see caveats).
#   SLURM_PARTITION=debug
#   SLURM_CPUS=          CPUs the node advertises. Empty = max(4, real CPU count from
#                        `slurmd -C`); a number above the real count oversubscribes the
#                        node (several 1-CPU array tasks at once on a 2-core machine).
#   SLURM_MAX_ARRAY_SIZE=1001  MaxArraySize (array indices must be < this). The CI run uses
#                        4 so that the array-splitting code is exercised by every test.
#   SLURM_UP_TIMEOUT=90  seconds to wait for the node to become idle.
#   SMOKE=1              run `srun true` at the end as a smoke test.
set -euo pipefail

WITH_SLURMDBD=${WITH_SLURMDBD:-1}
SLURM_PARTITION=${SLURM_PARTITION:-debug}
SLURM_CPUS=${SLURM_CPUS:-}
SLURM_MAX_ARRAY_SIZE=${SLURM_MAX_ARRAY_SIZE:-1001}
[[ "$SLURM_MAX_ARRAY_SIZE" =~ ^[0-9]+$ ]] || { echo "SLURM_MAX_ARRAY_SIZE must be an integer" >&2; exit 1; }
[[ -z "$SLURM_CPUS" || "$SLURM_CPUS" =~ ^[0-9]+$ ]] || { echo "SLURM_CPUS must be an integer" >&2; exit 1; }
SLURM_UP_TIMEOUT=${SLURM_UP_TIMEOUT:-90}
SMOKE=${SMOKE:-1}
CLUSTER_NAME=ci
DB_NAME=slurm_acct_db
DB_USER=slurm
DB_PASS=slurmdbpass          # local socket only (mariadb runs with --skip-networking)

CONF_DIR=/etc/slurm
LOG_DIR=/var/log/slurm
CTLD_SPOOL=/var/spool/slurmctld
SLURMD_SPOOL=/var/spool/slurmd
MUNGE_PID=/run/munge/munged.pid
MYSQL_PID=/run/mysqld/mysqld.pid
MYSQL_SOCK=/run/mysqld/mysqld.sock
DBD_PID=/run/slurmdbd.pid
CTLD_PID=/run/slurmctld.pid
SLURMD_PID=/run/slurmd.pid

log() { echo "[slurm-up $(date +%T)] $*"; }
die() { echo "[slurm-up $(date +%T)] ERROR: $*" >&2; exit 1; }
T0=$(date +%s)

[ "$(id -u)" -eq 0 ] || die "must run as root"

# running NAME PIDFILE -> 0 if the pid in PIDFILE is alive and is a NAME process
running() {
  local pid
  [ -s "$2" ] || return 1
  pid=$(cat "$2" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -d "/proc/$pid" ] && [ "$(cat /proc/$pid/comm 2>/dev/null)" = "$1" ]
}
# wait_for SECONDS CMD... -> poll CMD every 0.5s until it succeeds (return 1 on timeout)
wait_for() {
  local secs=$1; shift
  local end=$(( $(date +%s) + secs ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 0.5
  done
}

# ---------------------------------------------------------------- 1. packages
PKGS=(munge slurmctld slurmd slurm-client)
[ "$WITH_SLURMDBD" = 1 ] && PKGS+=(slurmdbd mariadb-server)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing: ${missing[*]}"
  # No init system here: make sure postinst scripts do not try to start services.
  tmp_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; tmp_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ "$tmp_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  log "packages installed ($(( $(date +%s) - T0 ))s)"
else
  log "packages already installed"
fi

# ---------------------------------------------------------------- 2. host name / dirs
HOST=$(hostname -s)
if ! getent hosts "$HOST" >/dev/null 2>&1; then
  log "adding '$HOST' to /etc/hosts"
  echo "127.0.0.1 $HOST" >> /etc/hosts
fi
mkdir -p "$CONF_DIR" "$LOG_DIR" "$CTLD_SPOOL" "$SLURMD_SPOOL" /run/munge
chown munge:munge /run/munge; chmod 0755 /run/munge

# ---------------------------------------------------------------- 3. munge
if [ ! -s /etc/munge/munge.key ]; then
  log "creating munge key"
  mungekey --create --keyfile=/etc/munge/munge.key
fi
chown munge:munge /etc/munge /etc/munge/munge.key
chmod 0700 /etc/munge; chmod 0600 /etc/munge/munge.key
if ! running munged "$MUNGE_PID"; then
  log "starting munged"
  runuser -u munge -- /usr/sbin/munged --force
fi
wait_for 20 bash -c 'munge -n | unmunge' || die "munge does not work (see /var/log/munge/munged.log)"

# ---------------------------------------------------------------- 4. slurm.conf
read -r _ CPUS BOARDS SOCKETS CORES THREADS MEM < <(slurmd -C | head -1 |
  sed -E 's/.*CPUs=([0-9]+) Boards=([0-9]+) SocketsPerBoard=([0-9]+) CoresPerSocket=([0-9]+) ThreadsPerCore=([0-9]+) RealMemory=([0-9]+).*/x \1 \2 \3 \4 \5 \6/')
[[ "${MEM:-}" =~ ^[0-9]+$ && "${CPUS:-}" =~ ^[0-9]+$ ]] || die "could not parse 'slurmd -C' output: $(slurmd -C)"
if [ -z "$SLURM_CPUS" ] && [ "$CPUS" -lt 4 ]; then SLURM_CPUS=4; fi
if [ -n "$SLURM_CPUS" ] && [ "$SLURM_CPUS" != "$CPUS" ]; then
  NODE_HW="CPUs=$SLURM_CPUS RealMemory=$MEM"          # oversubscribed, see config_overrides
  OVERRIDE="SlurmdParameters=config_overrides"
else
  NODE_HW="CPUs=$CPUS Boards=$BOARDS SocketsPerBoard=$SOCKETS CoresPerSocket=$CORES ThreadsPerCore=$THREADS RealMemory=$MEM"
  OVERRIDE=""
fi
if [ "$WITH_SLURMDBD" = 1 ]; then
  ACCT="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
JobAcctGatherType=jobacct_gather/linux"
else
  ACCT="AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none"
fi

NEW_CONF=$(cat <<EOF
# generated by slurm_templates/local-cluster/up.sh
ClusterName=$CLUSTER_NAME
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire also sets how long a requeued job waits before it may start again
# (default 120 s -> ~3 min for a submitit checkpoint/requeue round trip)
AuthInfo=cred_expire=10
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
$ACCT
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=5,sched_interval=5
MaxArraySize=$SLURM_MAX_ARRAY_SIZE
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
KillWait=10
MailProg=/bin/true
$OVERRIDE
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
StateSaveLocation=$CTLD_SPOOL
SlurmdSpoolDir=$SLURMD_SPOOL
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
NodeName=$HOST NodeAddr=127.0.0.1 $NODE_HW State=UNKNOWN
PartitionName=$SLURM_PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
)
CONF_CHANGED=0
if [ ! -f "$CONF_DIR/slurm.conf" ] || [ "$(cat "$CONF_DIR/slurm.conf")" != "$NEW_CONF" ]; then
  printf '%s\n' "$NEW_CONF" > "$CONF_DIR/slurm.conf"
  CONF_CHANGED=1
  log "wrote $CONF_DIR/slurm.conf"
fi

# ---------------------------------------------------------------- 5. accounting (optional)
if [ "$WITH_SLURMDBD" = 1 ]; then
  mkdir -p /run/mysqld; chown mysql:root /run/mysqld
  if ! running mariadbd "$MYSQL_PID"; then
    log "starting mariadbd"
    setsid /usr/sbin/mariadbd --user=mysql --pid-file="$MYSQL_PID" --socket="$MYSQL_SOCK" \
      --skip-networking --innodb-buffer-pool-size=64M --innodb-lock-wait-timeout=900 \
      >> "$LOG_DIR/mariadb.log" 2>&1 < /dev/null &
  fi
  wait_for 60 mariadb -e 'select 1' || die "mariadb did not start (see $LOG_DIR/mariadb.log)"
  mariadb -e "CREATE DATABASE IF NOT EXISTS $DB_NAME;
              CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
              GRANT ALL ON $DB_NAME.* TO '$DB_USER'@'localhost'; FLUSH PRIVILEGES;"
  cat > "$CONF_DIR/slurmdbd.conf.new" <<EOF
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
SlurmUser=root
DebugLevel=info
LogFile=$LOG_DIR/slurmdbd.log
PidFile=$DBD_PID
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=$DB_USER
StoragePass=$DB_PASS
StorageLoc=$DB_NAME
EOF
  chmod 600 "$CONF_DIR/slurmdbd.conf.new"; mv -f "$CONF_DIR/slurmdbd.conf.new" "$CONF_DIR/slurmdbd.conf"
  if ! running slurmdbd "$DBD_PID"; then
    log "starting slurmdbd"
    slurmdbd
  fi
  # slurmdbd listens on 6819; sacctmgr talks to it (needs the slurm.conf written above)
  wait_for 60 sacctmgr -n -P show cluster || die "slurmdbd did not start (see $LOG_DIR/slurmdbd.log)"
fi

# ---------------------------------------------------------------- 6. slurmctld + slurmd
stop_pid() {  # stop_pid NAME PIDFILE  (only our own daemon, verified via /proc/PID/comm)
  running "$1" "$2" || return 0
  local pid; pid=$(cat "$2"); kill -TERM "$pid"
  for _ in $(seq 1 40); do [ -d "/proc/$pid" ] || return 0; sleep 0.25; done
  kill -KILL "$pid" 2>/dev/null || true
}
if [ "$CONF_CHANGED" = 1 ]; then
  if running slurmctld "$CTLD_PID" || running slurmd "$SLURMD_PID"; then
    log "slurm.conf changed: restarting slurmctld/slurmd"
    stop_pid slurmd "$SLURMD_PID"; stop_pid slurmctld "$CTLD_PID"
  fi
fi
if ! running slurmctld "$CTLD_PID"; then log "starting slurmctld"; slurmctld; fi
wait_for 30 scontrol ping || die "slurmctld not responding (see $LOG_DIR/slurmctld.log)"
if ! running slurmd "$SLURMD_PID"; then log "starting slurmd"; slurmd; fi

node_idle() {
  local st; st=$(sinfo -h -n "$HOST" -o %T 2>/dev/null | head -1)
  case "$st" in
    idle|mixed|allocated|completing) return 0 ;;
    down*|drain*) scontrol update NodeName="$HOST" State=RESUME >/dev/null 2>&1 || true; return 1 ;;
    *) return 1 ;;
  esac
}
wait_for "$SLURM_UP_TIMEOUT" node_idle || { sinfo -R; die "node $HOST not idle after ${SLURM_UP_TIMEOUT}s (see $LOG_DIR/slurmd.log)"; }

if [ "$WITH_SLURMDBD" = 1 ]; then
  # slurmctld registers the cluster in slurmdbd on its own; wait until sacct answers
  wait_for 60 bash -c "sacctmgr -n -P show cluster format=cluster | grep -qx $CLUSTER_NAME && sacct -n -X >/dev/null" \
    || die "cluster '$CLUSTER_NAME' not registered in slurmdbd (see $LOG_DIR/slurmctld.log)"
fi

if [ "$SMOKE" = 1 ]; then
  timeout 60 srun -N1 -n1 -t 1 true || die "smoke test 'srun true' failed"
  wait_for 30 bash -c "sinfo -h -n $HOST -o %T | grep -qx idle" || true
fi
sinfo
log "slurm is up on $HOST in $(( $(date +%s) - T0 ))s (accounting: $([ "$WITH_SLURMDBD" = 1 ] && echo slurmdbd || echo none))"
