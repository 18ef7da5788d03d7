#!/usr/bin/env bash
# Equality across meshes (issue: "equality is the test"): the same training job with the same
# global batch and seed on (tp, dp) ∈ {(1,1), (2,1), (3,1), (1,2), (2,2), (1,3)} must give the
# same per-step losses and the same final adapter within 1e-4 relative, and `eval --adapter`
# the same loss on every mesh. Prints PASS/FAIL per mesh and `N passed, N failed`.
#
# Why --adam-eps 1e-5: meshes sum the same numbers in different orders (allReduce of partial
# products), so gradients differ in the last bits (~1e-7 relative; the losses agree to ~1e-6).
# AdamW divides by sqrt(v) + eps: for gradient elements near eps in size it turns those last
# bits into visible update differences. With torch's default eps 1e-8 the adapters of tp meshes
# then differ by ~2-4e-4 relative after 10 steps (dp meshes ~3e-5), with eps 1e-6 by 0.5-2e-4
# depending on the data order; eps 1e-5 gives 1.7-3.1e-5 (measured), below the 1e-4 bound, while
# the comparison stays strict for everything else (losses agree to ~1e-6).
# Activation checkpointing does not change the arithmetic, so the (2,1) and (2,2) meshes run
# with --activation-checkpointing selective, the others with the default (full); data-parallel
# meshes reduce gradients overlapped with the backward (the default).
#
# These meshes run with --compute fp32. Then, where the CPU has bf16 products (AMX, or
# AVX512-BF16), the same job in bf16 on tp=1 dp=2 and tp=2 dp=1 against bf16 tp=1 dp=1: there
# the bound is 1% on the losses (and 0.15 relative L2 on the adapter tensors), because rounding
# activations to bf16 turns the last-bit differences of the reduction order (~1e-8 in the first
# step's gradients, equal losses) into bf16 rounding flips from the second step on: measured on
# AMX, 10 steps, worst loss difference 0.2-0.5%, adapter tensors 1.4-6.8e-2.
set -uo pipefail
cd "$(dirname "$0")/.."
tessera=${TESSERA:-.build/release/tessera}
data=Tests/Fixtures/chat_small.jsonl
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
steps=${MESH_STEPS:-10}
job=(train --data "$data" --steps "$steps" --batch-size 6 --max-seq-len 64 --lr 1e-3 --lora-r 4
     --lora-targets q_proj,k_proj,v_proj,o_proj,down_proj,gate_proj --seed 3 --schedule constant --adam-eps 1e-5 --eval-every 5 --progress log --overwrite)
compute=(--compute fp32)
passed=0
failed=0
run_mesh() {   # np tp [extra train flags]
  local np=$1 tp=$2 out="$work/mesh-$1-$2"
  shift 2
  if ! timeout 600 scripts/mpirun.sh -np "$np" "$tessera" "${job[@]}" "${compute[@]}" --tp "$tp" --out "$out" "$@" > "$out.log" 2>&1; then
    echo "FAIL mesh tp=$tp dp=$((np / tp)): training failed"; tail -5 "$out.log"; failed=$((failed + 1)); return 1
  fi
  scripts/mpirun.sh -np "$np" "$tessera" eval --data "$data" --adapter "$out/adapter" "${compute[@]}" --json > "$out/eval.json" 2> "$out.eval.log" \
    || { echo "FAIL mesh tp=$tp dp=$((np / tp)): eval failed"; tail -3 "$out.eval.log"; failed=$((failed + 1)); return 1; }
}
run_mesh 1 1 || exit 1
reference="$work/mesh-1-1"
for mesh in "2 2" "3 3" "2 1" "4 2" "3 1" "4 4"; do
  set -- $mesh
  np=$1 tp=$2
  name="tp=$tp dp=$((np / tp))"
  extra=()
  [ "$tp" = 2 ] && extra=(--activation-checkpointing selective) && name="$name (selective checkpointing)"
  run_mesh "$np" "$tp" "${extra[@]}" || continue
  if python3 scripts/compare_runs.py "$reference" "$work/mesh-$np-$tp" \
     && python3 - "$reference/eval.json" "$work/mesh-$np-$tp/eval.json" <<'PY'
import json, sys
a, b = (json.load(open(p))["loss"] for p in sys.argv[1:])
print(f"  eval --adapter loss {b:.8f} vs {a:.8f}")
sys.exit(0 if abs(a - b) <= 1e-4 * abs(a) else 1)
PY
  then echo "PASS mesh $name equals tp=1 dp=1"; passed=$((passed + 1))
  else echo "FAIL mesh $name differs from tp=1 dp=1"; failed=$((failed + 1)); fi
done

compare_eval() {   # reference other tolerance
  python3 - "$1/eval.json" "$2/eval.json" "$3" <<'PY'
import json, sys
a, b = (json.load(open(p))["loss"] for p in sys.argv[1:3])
print(f"  eval --adapter loss {b:.8f} vs {a:.8f}")
sys.exit(0 if abs(a - b) <= float(sys.argv[3]) * abs(a) else 1)
PY
}
amx=$("$tessera" info --json | python3 -c "import json, sys; print(json.load(sys.stdin)['amx'])")
if [ "$amx" != True ] && ! grep -q avx512_bf16 /proc/cpuinfo 2>/dev/null; then
  echo "skipped (environment): bf16 meshes: this CPU has neither AMX nor AVX512-BF16"
  skipped=2
else
  compute=(--compute bf16)
  kernel=AVX512-BF16; [ "$amx" = True ] && kernel=AMX
  run_mesh 1 1 && mv "$work/mesh-1-1" "$work/bf16-1-1"
  for mesh in "2 1" "2 2"; do
    set -- $mesh
    np=$1 tp=$2 name="bf16 ($kernel) tp=$2 dp=$(($1 / $2))"
    run_mesh "$np" "$tp" || continue
    if python3 scripts/compare_runs.py "$work/bf16-1-1" "$work/mesh-$np-$tp" --tolerance 1e-2 --adapter-tolerance 0.15 \
       && compare_eval "$work/bf16-1-1" "$work/mesh-$np-$tp" 1e-2
    then echo "PASS mesh $name tracks bf16 tp=1 dp=1 (losses within 1%)"; passed=$((passed + 1))
    else echo "FAIL mesh $name differs from bf16 tp=1 dp=1"; failed=$((failed + 1)); fi
  done
fi
echo "$passed passed, $failed failed${skipped:+, $skipped skipped}"
[ "$failed" -eq 0 ]
