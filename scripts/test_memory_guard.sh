#!/usr/bin/env bash
# Memory guard (issue 21, item 5; docs/preemption.md): before loading the model, `tessera train`
# and `bench train` estimate the memory per rank with `tessera plan`'s formula and refuse a job
# whose estimate exceeds the host's memory (cgroup limit or MemAvailable, whichever is smaller)
# divided by the ranks on the host.
#  1. With TESSERA_MEMORY_LIMIT_BYTES (the testing/operations override) below the estimate, a job
#     at np 2 and as one process is refused: non-zero exit, exactly one output line naming the
#     estimate, the limit, the share per rank and what would fit, quickly (before the model
#     load); `bench train` too. --force proceeds (exit 0), and so does a job under a limit it fits.
#  2. A real memory cgroup (v2 memory.max or v1 memory.limit_in_bytes; needs root and a writable
#     cgroup file system, skipped otherwise) gives the same refusal, naming the cgroup limit.
#  3. The estimate against the peak RSS `bench train` measures (default model, np 2 and np 1):
#     printed, and the estimate must not be below the measured peak.
# Prints PASS/FAIL per check and `N passed, N failed, N skipped`; exits non-zero on a failure.
set -uo pipefail
source "$(dirname "$0")/lib/train_fixture.sh"
job=(train --data "$data" --steps 1 --batch-size 2 --max-seq-len 64 --progress log)

# mpirun's own report (the dashed banner blocks and their text) is not Tessera's output.
strip_banner() { awk '/^--------------------+$/ { inside = !inside; next } !inside && NF > 0'; }
# Runs a command with the override, capturing Tessera's output lines and the exit code.
limited() {   # limit-bytes cmd...
  local limit=$1 out; shift
  out=$(TESSERA_MEMORY_LIMIT_BYTES=$limit timeout 120 "$@" 2>&1); code=$?
  msg=$(echo "$out" | strip_banner)
}
# The refusal: non-zero (not a timeout), one line, the estimate, the share and a remedy.
refused_once() {   # expected-share-text
  [ "$code" -ne 0 ] && [ "$code" -ne 124 ] && [ "$(echo "$msg" | grep -c .)" -eq 1 ] \
    && echo "$msg" | grep -qE "^error: (rank [0-9]+: )?the job needs about [0-9.]+ GB per rank, but $1.*; (use --tp|use --micro-batch-size|no tp).*, or --force to try anyway$"
}

# 1. The override.
t0=$(now)
limited 200000000 scripts/mpirun.sh -np 2 -x TESSERA_MEMORY_LIMIT_BYTES "$tessera" "${job[@]}" --out "$work/np2"
took=$(elapsed "$t0" "$(now)")
echo "  np 2, limit 0.2 GB: exit $code after $took s: $msg"
if refused_once "2 ranks on this host share 0.20 GB \(TESSERA_MEMORY_LIMIT_BYTES\) = 0.10 GB each" && [ ! -e "$work/np2/metrics.jsonl" ]; then
  pass "np 2: a job over its share is refused on every rank with one line (estimate, limit, share, remedy), exit $code, in $took s"
else fail "np 2: a job over its share was not refused with one line (exit $code)"; fi

limited 200000000 "$tessera" "${job[@]}" --out "$work/np1"
echo "  np 1, limit 0.2 GB: exit $code: $msg"
if refused_once "this host has 0.20 GB \(TESSERA_MEMORY_LIMIT_BYTES\)"; then
  pass "one process: refused with one line, exit $code"
else fail "one process: not refused with one line (exit $code)"; fi

limited 200000000 scripts/mpirun.sh -np 2 -x TESSERA_MEMORY_LIMIT_BYTES "$tessera" bench train --steps 1 --batch-size 2 --seq-len 64 --tp 2
echo "  bench train np 2 (tp 2), limit 0.2 GB: exit $code: $msg"
if refused_once "2 ranks on this host share 0.20 GB"; then pass "bench train: refused with one line, exit $code"
else fail "bench train: not refused with one line (exit $code)"; fi

limited 200000000 scripts/mpirun.sh -np 2 -x TESSERA_MEMORY_LIMIT_BYTES "$tessera" "${job[@]}" --out "$work/force" --force
if [ "$code" -eq 0 ] && echo "$msg" | grep -q "memory per rank: estimate .* check skipped (--force)" && [ "$(last_step "$work/force/metrics.jsonl")" -eq 1 ]; then
  pass "--force: the same job proceeds and trains (exit 0), saying the check was skipped"
else fail "--force did not proceed (exit $code)"; echo "$msg" | tail -3; fi

limited 64000000000 scripts/mpirun.sh -np 2 -x TESSERA_MEMORY_LIMIT_BYTES "$tessera" "${job[@]}" --out "$work/fits"
line=$(echo "$msg" | grep '^memory per rank: ')
echo "  limit 64 GB: ${line:-no memory line}"
if [ "$code" -eq 0 ] && echo "$line" | grep -q "budget 32.00 GB (64.00 GB TESSERA_MEMORY_LIMIT_BYTES / 2 ranks on this host)"; then
  pass "a job within its share proceeds and prints its estimate and budget"
else fail "a job within its share did not proceed (exit $code)"; echo "$msg" | tail -3; fi

# A limit between the job's estimate and its estimate with micro-batches of 1 (long sequences,
# so activations matter): the refusal names a micro-batch size, and that size passes the check.
long=(train --data "$data" --steps 1 --batch-size 8 --max-seq-len 2048 --progress log)
estimate_of() { echo "$msg" | sed -nE 's/.*the job needs about ([0-9.]+) GB per rank.*/\1/p'; }
limited 1000 scripts/mpirun.sh -np 2 -x TESSERA_MEMORY_LIMIT_BYTES "$tessera" "${long[@]}" --out "$work/long"
whole=$(estimate_of)
limited 1000 scripts/mpirun.sh -np 2 -x TESSERA_MEMORY_LIMIT_BYTES "$tessera" "${long[@]}" --micro-batch-size 1 --out "$work/long"
single=$(estimate_of)
limit=$(python3 -c "print(int(($whole + $single) * 1e9))" 2>/dev/null)   # 2 ranks: (whole + single) / 2 each
limited "${limit:-0}" scripts/mpirun.sh -np 2 -x TESSERA_MEMORY_LIMIT_BYTES "$tessera" "${long[@]}" --out "$work/long"
suggested=$(echo "$msg" | sed -nE 's/.*use --micro-batch-size ([0-9]+).*/\1/p')
echo "  batch 8 × 2048: estimate $whole GB per rank, $single GB with micro-batches of 1; limit $limit bytes: $msg"
if refused_once "2 ranks on this host share" && [ -n "$suggested" ]; then
  # The suggestion must pass the check: the run then fails later, at the missing data file.
  limited "$limit" scripts/mpirun.sh -np 2 -x TESSERA_MEMORY_LIMIT_BYTES "$tessera" "${long[@]}" --micro-batch-size "$suggested" \
    --data "$work/no-such-file.jsonl" --out "$work/long"
  if [ "$code" -ne 0 ] && ! echo "$msg" | grep -q "the job needs about" && echo "$msg" | grep -q "no-such-file"; then
    pass "the refusal names a micro-batch size that fits (--micro-batch-size $suggested), and that size passes the check"
  else fail "the suggested --micro-batch-size $suggested is refused too"; echo "$msg" | tail -2; fi
else fail "a job with a fitting micro-batch size got no --micro-batch-size suggestion (exit $code)"; fi

limited 8G "$tessera" "${job[@]}" --out "$work/bad"
if [ "$code" -ne 0 ] && echo "$msg" | grep -q "TESSERA_MEMORY_LIMIT_BYTES must be a positive number of bytes, got '8G'"; then
  pass "a malformed TESSERA_MEMORY_LIMIT_BYTES is refused, naming it"
else fail "a malformed TESSERA_MEMORY_LIMIT_BYTES was not refused (exit $code)"; fi

# 2. A real cgroup: this shell's child moves itself into a new memory cgroup with a 300 MB limit.
cg=
if [ -w /sys/fs/cgroup/cgroup.subtree_control ] && grep -qw memory /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
  cg=/sys/fs/cgroup/tessera-guard-$$; limit_file=memory.max
elif [ -d /sys/fs/cgroup/memory ] && [ -w /sys/fs/cgroup/memory ]; then
  cg=/sys/fs/cgroup/memory/tessera-guard-$$; limit_file=memory.limit_in_bytes
fi
if [ -n "$cg" ] && mkdir "$cg" 2>/dev/null && echo 300000000 > "$cg/$limit_file" 2>/dev/null; then
  msg=$(bash -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' _ "$cg" \
        timeout 120 scripts/mpirun.sh -np 2 "$tessera" "${job[@]}" --out "$work/cgroup" 2>&1); code=$?
  msg=$(echo "$msg" | strip_banner)
  echo "  cgroup $limit_file 0.3 GB: exit $code: $msg"
  if refused_once "2 ranks on this host share 0.30 GB \(cgroup limit\) = 0.15 GB each"; then
    pass "a real memory cgroup ($limit_file) is read: the job is refused with one line naming the cgroup limit"
  else fail "the cgroup limit was not applied (exit $code)"; fi
  rmdir "$cg" 2>/dev/null
else
  [ -n "$cg" ] && rmdir "$cg" 2>/dev/null
  skip_environment "cannot create a memory cgroup with a limit (needs root and a writable cgroup file system); the override checks above stand in"
fi

# 3. Honesty: the estimate against the measured peak RSS of `bench train` (default model).
honesty=$(cat <<'PY'
import json, re, sys
r = json.loads(sys.stdin.read())
estimate = float(re.search(r"estimate ([0-9.]+) GB", r["memory_check"]).group(1)) * 1e9
peak = max(r["peak_rss_bytes_per_rank"])
mode = r["activation_checkpointing"]
print(f"{estimate:.0f} {peak:.0f} np {r['ranks']}, batch 4 x 256, {mode} checkpointing: estimate {estimate / 1e6:.0f} MB"
      f" per rank, measured peak RSS {peak / 1e6:.0f} MB (estimate {(estimate - peak) / peak * 100:+.0f}%)")
PY
)
for np in 2 1; do
  out=$(timeout 300 scripts/mpirun.sh -np "$np" "$tessera" bench train --steps 1 --batch-size 4 --seq-len 256 --json 2>&1)
  figures=$(echo "$out" | sed -n '/^{/,$p' | python3 -c "$honesty" 2>/dev/null)
  if [ -z "$figures" ]; then fail "bench train np $np gave no estimate and peak RSS"; echo "$out" | tail -3; continue; fi
  read -r estimate peak text <<< "$figures"
  echo "  $text"
  if [ "$estimate" -ge "$peak" ]; then pass "np $np: the estimate is not below the measured peak RSS"
  else fail "np $np: the estimate ($estimate) is below the measured peak RSS ($peak)"; fi
done

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
