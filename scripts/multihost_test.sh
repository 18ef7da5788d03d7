#!/usr/bin/env bash
# Multi-host over real TCP on one machine (issue 8, item 6; issue 19, item 5): two hosts made of
# network namespaces joined by a veth pair, each with its own sshd (scripts/lib/two_hosts.sh).
# mpirun is launched inside tessera-a with a hostfile listing both addresses and `--mca btl
# tcp,self`, so ranks on different hosts talk over TCP across the veth link and the remote
# daemon is started over ssh, as on two real hosts. Checks:
#   1. the per-step losses equal a local `mpirun -np 2` run of the same job, bit for bit;
#   2. taking the link down mid-run (`ip link set veth-b down` in tessera-b) ends the job with a
#      clear error within 60 s;
#   3. `--resume` with the link up again completes the run, with the local run's losses;
#   4. four ranks, two slots per host, tp 2 inside a host × dp 2 across: the local -np 4 losses.
# Needs root (ip netns) and sshd (openssh-server). Everything made here is removed on exit, also
# on failure. Prints PASS/FAIL per check and `N passed, N failed`; exits non-zero on a failure.
# Where it cannot run it prints `skipped (set-up): ...` (a package scripts/setup.sh --tests
# installs is missing) or `skipped (environment): ...` (no root, or network namespaces not
# permitted), then `0 passed, 0 failed, 1 skipped`, and exits 0.
set -uo pipefail
skip() { echo "skipped ($1): $2"; echo "0 passed, 0 failed, 1 skipped"; exit 0; }
source "$(dirname "$0")/lib/two_hosts.sh"
data=$repo/Tests/Fixtures/chat_small.jsonl
steps=10

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
two_hosts_up || { echo "FAIL set-up of the two hosts"; echo "0 passed, 1 failed"; exit 1; }
pass "ssh from $na to $addr_b ($nb) with the test key"
printf '%s slots=1\n%s slots=1\n' "$addr_a" "$addr_b" > "$work/hostfile"
echo "  set-up: $(elapsed "$start" "$(now)") s"

job=(train --data "$data" --steps "$steps" --batch-size 2 --max-seq-len 64 --save-every 2 --progress log)
mpi_across 2 "$work/hostfile"
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
  # Placement: one rank runs in each namespace.
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

# 4. Four ranks, two per host: tp 2 inside each namespace and dp 2 across the link. Ranks 0, 1 fill the first host's two slots, 2, 3 the second's, so each TP group
# (consecutive ranks) stays on one host, as `tessera plan` assumes. Losses equal a local -np 4.
printf '%s slots=2\n%s slots=2\n' "$addr_a" "$addr_b" > "$work/hostfile4"
job4=(train --data "$data" --steps 4 --batch-size 2 --max-seq-len 64 --tp 2 --progress log)
t=$(now)
TESSERA_BLAS_THREADS=1 timeout 600 scripts/mpirun.sh -np 4 "$tessera" "${job4[@]}" --out "$work/local4" > "$work/local4.log" 2>&1 \
  || { fail "local reference run, -np 4 --tp 2"; tail -5 "$work/local4.log"; }
echo "  local mpirun -np 4 (tp 2 x dp 2): $(elapsed "$t" "$(now)") s"
t=$(now)
mpi_across 4 "$work/hostfile4"
ip netns exec "$na" timeout 600 "${mpi[@]}" "$tessera" "${job4[@]}" --out "$work/tcp4" > "$work/tcp4.log" 2>&1 &
bg=$!
placed=""
for _ in $(seq 600); do
  kill -0 "$bg" 2> /dev/null || break
  ra=$(in_ns "$na") rb=$(in_ns "$nb")
  [ "$ra" -eq 2 ] && [ "$rb" -eq 2 ] && { placed=yes; break; }
  sleep 0.1
done
if wait "$bg"; then
  echo "  4 ranks across $na and $nb (tp 2 inside, dp 2 across): $(elapsed "$t" "$(now)") s"
  if [ -n "$placed" ]; then pass "two ranks run in $na and two in $nb"; else fail "rank placement of the 4-rank run: $ra in $na, $rb in $nb"; fi
  if steps=4 compare "$work/local4" "$work/tcp4"; then pass "4 ranks on two hosts (tp 2 x dp 2) give the local -np 4 losses (steps 1-4)"
  else fail "4 ranks on two hosts (tp 2 x dp 2) differ from the local -np 4 run"; fi
else fail "4-rank run across the two namespaces failed"; tail -15 "$work/tcp4.log"; fi

echo "  total $(elapsed "$start" "$(now)") s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
