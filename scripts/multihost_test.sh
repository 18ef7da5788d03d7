#!/usr/bin/env bash
# Multi-host over real TCP on one machine (issue 8, item 6). Two network namespaces, tessera-a-PID
# and tessera-b-PID (PID of this script, so two runs on one machine never collide), joined by a
# veth pair on a private test subnet (10.233.7.0/24, which exists only inside them), each running
# its own sshd on its own address with a host key and a client key made for this run. mpirun is launched inside tessera-a with a hostfile listing both addresses
# (slots=1 each) and `--mca btl tcp,self`, so the two ranks talk over TCP across the veth link and
# the remote daemon is started over ssh, as on two real hosts. Checks:
#   1. the per-step losses equal a local `mpirun -np 2` run of the same job, bit for bit;
#   2. taking the link down mid-run (`ip link set veth-b down` in tessera-b) ends the job with a
#      clear error within 60 s;
#   3. `--resume` with the link up again completes the run, with the local run's losses.
# Needs root (ip netns) and sshd (openssh-server). Everything made here (namespaces, the veth
# pair, sshd and any process in the namespaces, the temp directory) is removed on exit, also on
# failure. No traffic leaves the two namespaces: they hold only their loopback and the veth ends.
# Prints PASS/FAIL per check and `N passed, N failed`; exits non-zero on a failure. Where it cannot
# run it prints `skipped (set-up): ...` (a package scripts/setup.sh --tests installs is missing) or
# `skipped (environment): ...` (no root, or network namespaces not permitted), then
# `0 passed, 0 failed, 1 skipped`, and exits 0.
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
tessera=$(realpath "${TESSERA:-.build/release/tessera}")
data=$repo/Tests/Fixtures/chat_small.jsonl
na=tessera-a-$$ nb=tessera-b-$$
subnet=10.233.7.0/24 addr_a=10.233.7.1 addr_b=10.233.7.2
steps=10

skip() { echo "skipped ($1): $2"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
[ "$(id -u)" -eq 0 ] || skip environment "needs root for ip netns"
command -v ip > /dev/null || skip set-up "no ip command (scripts/setup.sh --tests installs iproute2)"
sshd=$(command -v sshd || echo /usr/sbin/sshd)
[ -x "$sshd" ] || skip set-up "no sshd (scripts/setup.sh --tests installs openssh-server)"
command -v ssh > /dev/null && command -v ssh-keygen > /dev/null || skip set-up "no ssh client (scripts/setup.sh --tests installs openssh-client)"
# A namespace left by an earlier run that was killed (its script's PID gone) is removed; one
# whose run is still alive is left alone, and ours carry our own PID.
for ns in $(ip netns list 2> /dev/null | awk '{print $1}' | grep -E '^tessera-[ab]-[0-9]+$'); do
  kill -0 "${ns##*-}" 2> /dev/null || { echo "  removing namespace $ns left by an ended run"; ip netns del "$ns"; }
done
ip netns add tessera-probe-$$ 2> /dev/null && ip netns del tessera-probe-$$ || skip environment "network namespaces are not permitted here (ip netns add failed)"

work=$(mktemp -d)
sshd_pids=()
chmod 755 "$work"
cleanup() {
  local ns pid
  for ns in "$na" "$nb"; do
    for pid in $(ip netns pids "$ns" 2> /dev/null); do kill -9 "$pid" 2> /dev/null; done
  done
  for pid in "${sshd_pids[@]}"; do kill -9 "$pid" 2> /dev/null; wait "$pid" 2> /dev/null; done
  [ -n "${bg:-}" ] && kill -9 "$bg" 2> /dev/null
  sleep 0.3
  for ns in "$na" "$nb"; do ip netns del "$ns" 2> /dev/null; done   # also removes the veth pair
  rm -rf "$work"
  [ -n "${made_run_sshd:-}" ] && rmdir /run/sshd 2> /dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0
failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$2"; }
last_step() { python3 -c "
import json, sys
s = 0
try:
    for l in open(sys.argv[1]):
        try: s = max(s, json.loads(l)['step'])
        except Exception: pass
except OSError: pass
print(s)" "$1/metrics.jsonl"; }
compare() {   # reference other: losses of steps 1..steps equal (bit for bit; reports the largest difference)
  python3 - "$1/metrics.jsonl" "$2/metrics.jsonl" "$steps" <<'PY'
import json, sys
ref, other = ({r["step"]: r["loss"] for r in map(json.loads, filter(str.strip, open(p)))} for p in sys.argv[1:3])
steps = range(1, int(sys.argv[3]) + 1)
missing = [s for s in steps if s not in other]
if missing: print("  steps missing:", missing); sys.exit(1)
equal = sum(ref[s] == other[s] for s in steps)
worst = max(abs(ref[s] - other[s]) for s in steps)
print(f"  {equal} of {len(steps)} losses equal bit for bit; largest difference {worst:.3g}")
sys.exit(0 if worst <= 1e-6 else 1)
PY
}

start=$(now)
# Network: two namespaces, a veth pair between them, loopback up in each.
ip netns add "$na" && ip netns add "$nb" \
  && ip link add veth-a netns "$na" type veth peer name veth-b netns "$nb" \
  && ip -n "$na" addr add "$addr_a/24" dev veth-a && ip -n "$nb" addr add "$addr_b/24" dev veth-b \
  && ip -n "$na" link set lo up && ip -n "$nb" link set lo up \
  && ip -n "$na" link set veth-a up && ip -n "$nb" link set veth-b up \
  || { echo "FAIL could not create the namespaces and the veth pair"; echo "0 passed, 1 failed"; exit 1; }

# ssh: a host key and a client key made for this run; one sshd per namespace on its address.
ssh-keygen -q -t ed25519 -N '' -f "$work/host_key" && ssh-keygen -q -t ed25519 -N '' -f "$work/client_key" \
  && cp "$work/client_key.pub" "$work/authorized_keys" || { echo "FAIL ssh-keygen"; exit 1; }
[ -d /run/sshd ] || { mkdir -p /run/sshd && made_run_sshd=1; }   # sshd's privilege-separation directory
for side in a b; do
  addr=$addr_a ns=$na; [ "$side" = b ] && addr=$addr_b ns=$nb
  cat > "$work/sshd_$side.conf" <<EOF
ListenAddress $addr
Port 22
HostKey $work/host_key
AuthorizedKeysFile $work/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile $work/sshd_$side.pid
ClientAliveInterval 5
ClientAliveCountMax 3
SetEnv OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
EOF
  ip netns exec "$ns" "$sshd" -D -f "$work/sshd_$side.conf" -E "$work/sshd_$side.log" &   # -D: stays our child
  sshd_pids+=($!)
done
ssh_cmd="ssh -i $work/client_key -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR -o ConnectTimeout=10 -o ServerAliveInterval=5 -o ServerAliveCountMax=3"
for _ in $(seq 50); do ip netns exec "$na" $ssh_cmd "$addr_b" true 2> /dev/null && break; sleep 0.2; done
if ip netns exec "$na" $ssh_cmd "$addr_b" true; then pass "ssh from $na to $addr_b ($nb) with the test key"
else fail "ssh from $na to $addr_b"; cat "$work/sshd_b.log"; echo "$passed passed, $failed failed"; exit 1; fi
printf '%s slots=1\n%s slots=1\n' "$addr_a" "$addr_b" > "$work/hostfile"
echo "  set-up: $(elapsed "$start" "$(now)") s"

# One BLAS thread per rank in both runs: a rank alone on a host would otherwise run two, and
# OpenBLAS splits a multi-threaded sgemm so that the last bits differ (~1e-6 in the losses).
job=(train --data "$data" --steps "$steps" --batch-size 2 --max-seq-len 64 --save-every 2 --progress log)
mpi=(mpirun --allow-run-as-root --hostfile "$work/hostfile" -np 2 --wdir "$repo"
     --mca btl tcp,self --mca btl_tcp_if_include "$subnet" --mca oob_tcp_if_include "$subnet"
     --mca plm_rsh_agent "$ssh_cmd"
     --mca oob_tcp_keepalive_time 5 --mca oob_tcp_keepalive_intvl 2 --mca oob_tcp_keepalive_probes 3
     -x OPENBLAS_CORETYPE -x TESSERA_BLAS_CORETYPE -x TESSERA_BLAS_THREADS=1)
across() { ip netns exec "$na" timeout 300 "${mpi[@]}" "$tessera" "${job[@]}" "$@"; }

# The local reference (shared memory, one namespace).
t=$(now)
TESSERA_BLAS_THREADS=1 timeout 300 scripts/mpirun.sh -np 2 "$tessera" "${job[@]}" --out "$work/local" > "$work/local.log" 2>&1 \
  || { fail "local reference run"; tail -5 "$work/local.log"; }
echo "  local mpirun -np 2: $(elapsed "$t" "$(now)") s"

# 1. Across the two namespaces over TCP.
t=$(now)
if across --out "$work/tcp" > "$work/tcp.log" 2>&1; then
  echo "  across $na and $nb over TCP: $(elapsed "$t" "$(now)") s"
  if compare "$work/local" "$work/tcp"; then pass "losses across two hosts over TCP equal the local run (steps 1-$steps)"
  else fail "losses across two hosts over TCP differ from the local run"; fi
else fail "run across the two namespaces failed"; tail -15 "$work/tcp.log"; fi

# 2. Cut the link mid-run: the job must end with a clear error within 60 s.
out=$work/cut
across --out "$out" > "$out.log" 2>&1 &
bg=$!
for _ in $(seq 1200); do
  [ -d "$out/checkpoints/step-000002" ] && [ "$(last_step "$out")" -ge 3 ] && break
  kill -0 "$bg" 2> /dev/null || break
  sleep 0.1
done
if ! kill -0 "$bg" 2> /dev/null; then fail "the run ended before the link could be cut"; tail -5 "$out.log"
else
  # Placement: one rank runs in each namespace (the hostname is shared, so look at the namespaces).
  in_ns() { local pid n=0; for pid in $(ip netns pids "$1"); do tr '\0' ' ' < "/proc/$pid/cmdline" 2> /dev/null | grep -q "^$tessera train" && n=$((n + 1)); done; echo $n; }
  ra=$(in_ns "$na") rb=$(in_ns "$nb")
  if [ "$ra" -eq 1 ] && [ "$rb" -eq 1 ]; then pass "one rank runs in $na and one in $nb"
  else fail "rank placement: $ra rank(s) in $na, $rb in $nb"; fi
  echo "  cutting the link after step $(last_step "$out")"
  t=$(now)
  ip netns exec "$nb" ip link set veth-b down
  for _ in $(seq 900); do kill -0 "$bg" 2> /dev/null || break; sleep 0.1; done
  took=$(elapsed "$t" "$(now)")
  if kill -0 "$bg" 2> /dev/null; then
    fail "the job still runs 90 s after the link went down"; kill -9 "$bg"
  else
    wait "$bg"; code=$?
    msg=$(grep -iE "lost communication|unable to|connection|error|terminat" "$out.log" | grep -v '^step ' | head -3)
    echo "$msg" | sed 's/^/  | /'
    if [ "$code" -ne 0 ] && [ -n "$msg" ] && python3 -c "import sys; sys.exit(float(sys.argv[1]) > 60)" "$took"; then
      pass "cutting the link mid-run ends the job in $took s (exit $code) with an error"
    else fail "cutting the link: exit $code after $took s, message: ${msg:-none}"; tail -10 "$out.log"; fi
  fi
  # The far side, cut off from its launcher, should end by itself too (ssh and OOB keepalives).
  t=$(now)
  for _ in $(seq 600); do
    left=0; for pid in $(ip netns pids "$nb"); do tr '\0' ' ' < "/proc/$pid/cmdline" 2> /dev/null | grep -qE "^(orted|$tessera) " && left=1; done
    [ "$left" -eq 0 ] && break; sleep 0.1
  done
  if [ "$left" -eq 0 ]; then pass "the cut-off rank and daemon in $nb end by themselves ($(elapsed "$t" "$(now)") s after the launcher)"
  else fail "the cut-off rank or daemon in $nb still runs 60 s after the launcher ended"; fi
  for pid in $(ip netns pids "$nb"); do
    grep -qE "tessera|orted" "/proc/$pid/cmdline" 2> /dev/null && { echo "  left in $nb after the cut: $(tr '\0' ' ' < /proc/$pid/cmdline | cut -c1-80)"; kill -9 "$pid"; }
  done
  for ns in "$na" "$nb"; do
    echo "  processes in $ns after the cut: $(ip netns pids "$ns" | xargs -r ps -o args= -p | cut -c1-24 | paste -sd ';')"
  done
fi

# 3. Link up again; --resume completes the run with the local run's losses.
ip netns exec "$nb" ip link set veth-b up
for _ in $(seq 50); do ip netns exec "$na" $ssh_cmd "$addr_b" true 2> /dev/null && break; sleep 0.2; done
t=$(now)
ckpt=$(ls -1d "$out"/checkpoints/step-* 2> /dev/null | tail -1)
if across --out "$out" --resume >> "$out.log" 2>&1 && compare "$work/local" "$out"; then
  pass "--resume (from $(basename "${ckpt:-none}")) with the link up completes the run with the local losses ($(elapsed "$t" "$(now)") s)"
else fail "--resume after the cut"; tail -10 "$out.log"; fi

echo "  total $(elapsed "$start" "$(now)") s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
