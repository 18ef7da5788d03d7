#!/usr/bin/env bash
# Slurm (issue 20, item 5): a single-node Slurm on this machine (munge, slurmctld and slurmd from
# Debian's slurm-wlm, configured for localhost in a scratch directory by this script) runs
# scripts/slurm/train.sbatch with 1 node × 2 tasks (tp 2); its per-step losses equal a plain
# `mpirun -np 2` run of the same job. Prints PASS/FAIL and `N passed, N failed[, N skipped]`.
# About 20 s. Needs root (the daemons run as root here) and the packages slurm-wlm and munge
# (scripts/setup.sh --tests installs them).
set -uo pipefail
cd "$(dirname "$0")/.."
tessera=${TESSERA:-.build/release/tessera}
work=$(mktemp -d)
started=()
cleanup() {
  for pidfile in "$work/slurmd.pid" "$work/slurmctld.pid"; do [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2> /dev/null; done
  for pid in "${started[@]}"; do kill "$pid" 2> /dev/null; done
  sleep 1
  rm -rf "$work"
}
trap cleanup EXIT
skip() { echo "skipped ($1): $2"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
for command in slurmctld slurmd sbatch munged; do
  command -v "$command" > /dev/null || skip set-up "$command is not installed (Debian: slurm-wlm, munge; scripts/setup.sh --tests)"
done
[ "$(id -u)" -eq 0 ] || skip environment "the test daemons run as root; run as root (CI does)"

# munge: the key the package made, a daemon if none runs.
if ! munge -n 2> /dev/null | unmunge > /dev/null 2>&1; then
  mkdir -p /run/munge && chown munge:munge /run/munge 2> /dev/null
  su -s /bin/sh munge -c /usr/sbin/munged 2> /dev/null || /usr/sbin/munged --force 2> /dev/null
  sleep 1
  munge -n 2> /dev/null | unmunge > /dev/null 2>&1 || skip set-up "munged does not start (is /etc/munge/munge.key there?)"
fi
host=$(hostname -s)
mkdir -p "$work/state" "$work/spool"
cat > "$work/slurm.conf" <<CONF
ClusterName=tessera-test
SlurmctldHost=$host
AuthType=auth/munge
CryptoType=crypto/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmUser=root
SlurmdUser=root
SlurmctldPort=${SLURM_TEST_PORT:-6917}
SlurmdPort=$(( ${SLURM_TEST_PORT:-6917} + 1 ))
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmdSpoolDir=$work/spool
StateSaveLocation=$work/state
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=$host CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
export SLURM_CONF=$work/slurm.conf
slurmctld -f "$SLURM_CONF" > "$work/ctld.out" 2>&1 || skip environment "slurmctld does not start: $(tail -1 "$work/slurmctld.log" 2> /dev/null)"
slurmd -f "$SLURM_CONF" > "$work/d.out" 2>&1 || skip environment "slurmd does not start: $(tail -1 "$work/slurmd.log" 2> /dev/null)"
for _ in $(seq 30); do sinfo -h -o %t 2> /dev/null | grep -q idle && break; sleep 1; done
sinfo -h -o %t 2> /dev/null | grep -q idle || skip environment "the node does not become idle: $(tail -1 "$work/slurmd.log" 2> /dev/null)"

passed=0
failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
model=$work/model
source scripts/lib/tiny_sentencepiece_model.sh
make_tiny_sentencepiece_model "$model" mistral-7b-instruct-v0.2 --kv-heads 2
job=(--model "$model" --data Tests/Fixtures/chat_small.jsonl --steps 3 --batch-size 4 --max-seq-len 64 --lr 1e-2 --lora-r 4
     --tp 2 --compute fp32 --progress log)
if TESSERA=$tessera timeout 300 sbatch --wait --nodes 1 --ntasks-per-node 2 --output "$work/job.out" \
     scripts/slurm/train.sbatch "${job[@]}" --out "$work/slurm-run" > /dev/null 2>&1 \
   && OPENBLAS_NUM_THREADS=1 timeout 300 scripts/mpirun.sh -np 2 "$tessera" train "${job[@]}" --out "$work/mpirun-run" > "$work/mpirun.log" 2>&1 \
   && python3 - "$work/slurm-run/metrics.jsonl" "$work/mpirun-run/metrics.jsonl" <<'PY'
import json, sys
a, b = ([json.loads(l)["loss"] for l in open(p) if l.strip()] for p in sys.argv[1:3])
print(f"  sbatch losses {a}\n  mpirun losses {b}")
sys.exit(0 if len(a) == 3 and a == b else 1)
PY
then
  pass "sbatch train.sbatch (1 node × 2 tasks, tp 2) gives the losses of mpirun -np 2, bit for bit"
else
  fail "sbatch run: $(tail -5 "$work/job.out" 2> /dev/null) $(tail -2 "$work/mpirun.log" 2> /dev/null)"
fi
grep -q "^\[slurm\] job .*: 2 ranks on $host, 1 BLAS thread(s) each" "$work/job.out" 2> /dev/null \
  && pass "the job took its hosts, ranks and BLAS threads from the allocation" || fail "the job's set-up line: $(head -2 "$work/job.out" 2> /dev/null)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
