#!/usr/bin/env bash
# A real single-node Slurm cluster in one folder, for tests and for trying the sbatch scripts of
# docs/SCALE-OUT.md on one machine. Needs root and the Debian packages slurmctld slurmd
# slurm-client munge. Everything (munge key and socket, slurm.conf, spool, state, logs, pid files)
# lives under DIR; nothing in /etc is touched, so a second cluster (or a rerun) does not clash.
#
#   tools/slurm/local-cluster.sh start DIR   # prints "export SLURM_CONF=DIR/slurm.conf" when the node is idle
#   SLURM_CONF=DIR/slurm.conf sbatch --array=0-3 --wait ...
#   tools/slurm/local-cluster.sh stop DIR    # stops the daemons it started (by their pid files)
set -euo pipefail
cmd=${1:?usage: local-cluster.sh start|stop DIR}
dir=$(realpath -m "${2:?usage: local-cluster.sh start|stop DIR}")
ctld_port=${WEFT_SLURMCTLD_PORT:-16817}
slurmd_port=${WEFT_SLURMD_PORT:-16818}

stop_pid() { # stop the daemon whose pid file is $1, wait until it is gone
  local f=$1 pid
  [[ -s $f ]] || return 0
  pid=$(cat "$f")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

case $cmd in
start)
  for b in mungekey munged slurmctld slurmd sinfo; do
    command -v "$b" >/dev/null || { echo "local-cluster: $b not found: apt-get install slurmctld slurmd slurm-client munge" >&2; exit 1; }
  done
  [[ $(id -u) == 0 ]] || { echo "local-cluster: run as root (SlurmUser=root)" >&2; exit 1; }
  mkdir -p "$dir"/spool "$dir"/state "$dir"/log
  chmod 700 "$dir"
  host=$(hostname -s)
  mungekey -c -f -k "$dir/munge.key"
  munged --force --key-file="$dir/munge.key" --socket="$dir/munge.socket" --pid-file="$dir/munged.pid" \
    --log-file="$dir/log/munged.log" --seed-file="$dir/munged.seed"
  cat > "$dir/slurm.conf" <<CONF
ClusterName=weftlocal
SlurmctldHost=$host
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge.socket
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF=$dir/slurm.conf
  slurmctld -f "$SLURM_CONF"
  slurmd -f "$SLURM_CONF"
  for _ in $(seq 300); do
    if sinfo -h -o '%T' 2>/dev/null | grep -qx idle; then
      echo "export SLURM_CONF=$SLURM_CONF"
      exit 0
    fi
    sleep 0.2
  done
  echo "local-cluster: the node did not become idle in 60 s; sinfo says: $(sinfo 2>&1 | tail -n +2). Logs: $dir/log" >&2
  exit 1
  ;;
stop)
  stop_pid "$dir/slurmd.pid"
  stop_pid "$dir/slurmctld.pid"
  stop_pid "$dir/munged.pid"
  ;;
*)
  echo "usage: local-cluster.sh start|stop DIR" >&2
  exit 2
  ;;
esac
