#!/usr/bin/env bash
# The whole test suite: set-up, `swift test` (one process), the multi-rank checks under mpirun
# at np 1 (singleton, no launcher), 2, 3 and 4 (--oversubscribe), and end-to-end CLI checks.
# Ends with one line `N passed, N failed` and exits non-zero on any failure.
#
# In-process MPI and mpirun-spawning tests are kept apart (DESIGN.md §8): `swift test` never
# initialises MPI; every MPI test runs here, each in its own process tree.
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
failures=()
ok() { passed=$((passed + $1)); }
bad() { failed=$((failed + $1)); failures+=("$2"); }

export TESSERA_REQUIRE_MODEL=1
if ! scripts/setup.sh; then
  echo "setup failed"
  echo "0 passed, 1 failed"
  exit 1
fi

# 1. Unit tests in one process, optimised (the model-level tests run real forwards and
# backwards; a debug build is ~20x slower there). TESSERA_TEST_CONFIG=debug for a debug run.
config=${TESSERA_TEST_CONFIG:-release}
log=$(mktemp)
swift build -c "$config" --build-tests -Xswiftc -enable-testing 2>&1 | grep -E "error|warning: unre|Compiling|Build" | grep -v "^\[" || true
swift test -c "$config" -Xswiftc -enable-testing --skip-build 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
# Swift Testing's closing line: "Test run with N tests in M suites passed/failed ...".
total=$(grep -Eo 'Test run with [0-9]+ test' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
failing=$(grep -Ec '^✘ Test [^r]|^✘ Test r[^u]' "$log" || true)
if [ "$status" -ne 0 ] && [ "$failing" -eq 0 ]; then failing=1; fi
ok $((total - failing > 0 ? total - failing : 0))
[ "$failing" -gt 0 ] && bad "$failing" "swift test ($failing failing)"
rm -f "$log"

# 2. Multi-rank collective checks.
swift build -c "$config" -Xswiftc -enable-testing --product tessera-mpi-tests >/dev/null || { bad 1 "build tessera-mpi-tests"; }
bin=$(swift build -c "$config" --show-bin-path)
run_ranks() {
  local np=$1 out
  if [ "$np" -eq 1 ]; then
    out=$(timeout 120 "$bin/tessera-mpi-tests" 2>&1)
  else
    out=$(timeout 300 scripts/mpirun.sh -np "$np" "$bin/tessera-mpi-tests" 2>&1)
  fi
  local code=$?
  echo "$out"
  local line p f
  line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1)
  if [ -z "$line" ]; then bad 1 "mpi checks np=$np (exit $code, no summary)"; return; fi
  p=$(echo "$line" | cut -d' ' -f1); f=$(echo "$line" | cut -d' ' -f3)
  ok "$p"
  [ "$f" -gt 0 ] && bad "$f" "mpi checks np=$np"
  [ "$code" -ne 0 ] && [ "$f" -eq 0 ] && bad 1 "mpi checks np=$np exit $code"
}
for np in 1 2 3 4; do run_ranks "$np"; done

# 3. End-to-end command checks on the release binary.
tessera=.build/release/tessera
check() {
  local name=$1; shift
  if "$@"; then echo "PASS $name"; ok 1; else echo "FAIL $name"; bad 1 "$name"; fi
}
info_lists_ranks() {
  local np=$1
  scripts/mpirun.sh -np "$np" "$tessera" info --json | python3 -c "
import json, sys
d = json.load(sys.stdin)
assert d['world_size'] == $np and len(d['ranks']) == $np, d
assert len({r['pid'] for r in d['ranks']}) == $np
print('  ranks:', [(r['rank'], r['host'], r['pid'], r['blas_core']) for r in d['ranks']])"
}
fast_kernels() {
  local core
  core=$("$tessera" info --json | python3 -c "import json,sys; print(json.load(sys.stdin)['blas_core'])")
  echo "  OpenBLAS core: $core"
  case "$core" in Prescott|Core2|Penryn|Nehalem|Atom|Generic|Katmai) return 1 ;; *) return 0 ;; esac
}
exit_code_is() {
  local want=$1; shift
  "$@" >/dev/null 2>&1
  local got=$?
  [ "$got" -eq "$want" ] || { echo "  expected exit $want, got $got: $*"; return 1; }
}
bench_collectives_runs() {
  scripts/mpirun.sh -np 2 "$tessera" bench collectives --min-floats 1024 --max-floats 65536 --json - | python3 -c "
import json, sys
d = json.load(sys.stdin)
ops = {r['operation'] for r in d['results']}
assert ops == {'allReduce', 'allGather', 'broadcast'}, ops
assert all(r['latency_us'] > 0 for r in d['results'])"
}
bench_gemm_runs() {
  "$tessera" bench gemm --tokens 64 --seconds 0.02 --json | python3 -c "
import json, sys
d = json.load(sys.stdin)
assert d['peak_gflops_per_rank'] > 0 and len(d['shapes']) == 7, d"
}
check "info --json under mpirun -np 2 lists 2 ranks" info_lists_ranks 2
check "info --json under mpirun -np 4 --oversubscribe lists 4 ranks" info_lists_ranks 4
check "launch path selects fast OpenBLAS kernels" fast_kernels
check "unknown command exits 2" exit_code_is 2 "$tessera" frobnicate
check "unknown flag exits 2" exit_code_is 2 "$tessera" info --frobnicate
check "bench collectives under np 2 reports all operations" bench_collectives_runs
check "bench gemm reports every shape" bench_gemm_runs

# 4. Training across meshes: the same job on every (tp, dp) gives the same losses and adapter.
mesh_log=$(mktemp)
TESSERA="$tessera" scripts/test_meshes.sh 2>&1 | tee "$mesh_log"
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$mesh_log" | tail -1)
if [ -z "$line" ]; then bad 1 "mesh equality (no summary)"; else
  ok "$(echo "$line" | cut -d' ' -f1)"
  f=$(echo "$line" | cut -d' ' -f3); [ "$f" -gt 0 ] && bad "$f" "mesh equality"
fi
rm -f "$mesh_log"

echo
if [ "$failed" -gt 0 ]; then
  echo "failures:"
  for f in "${failures[@]}"; do echo "  - $f"; done
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
