#!/usr/bin/env bash
# What the base precision, the LoRA rank and the target modules cost in quality: trains the demo's
# job (examples/support.yaml: same data, steps, schedule) once per configuration and seed, then
# measures each adapter on the held-out conversations (loss on the answers) and the held-out facts
# (tessera eval --facts), with its trainable parameters, peak RSS per rank and training tokens/s.
#   scripts/quality_table.sh                         every configuration, seeds 0 1 2, NP=2
#   SEEDS="0 1 2 3" CONFIGS="fp32 nf4-dq" scripts/quality_table.sh
#   OUT=bench/results/DIR scripts/quality_table.sh  (default: bench/results/<date>-quality)
#   KEEP_ADAPTERS=1 keeps each run's adapter (removed after its measurements otherwise)
# Configurations (the demo's r 16 on all seven projections unless named):
#   fp32         base kept in fp32 (--base-quant none)
#   nf4          NF4 without double quantization
#   nf4-dq       NF4 + double quantization: the default, QLoRA's
#   nf4-dq-bf16  the default with bf16 products (--compute bf16; needs AVX512-BF16 or AMX)
#   stored       the GGUF's own blocks (Q4_1 for the default model) kept as the frozen base
#   r4, r64      the default at rank 4 / 64 (alpha = 2·r, as the demo's 32 at r 16)
#   qv           the default on q_proj, v_proj only
# A finished run (OUT/runs/NAME/result.json) is kept, so the script can be stopped and rerun.
# Ends with OUT/table.md (mean over the seeds, with their smallest and largest value).
set -euo pipefail
cd "$(dirname "$0")/.."
np=${NP:-2}
seeds=${SEEDS:-0 1 2}
configs=${CONFIGS:-fp32 nf4 nf4-dq nf4-dq-bf16 stored r4 r64 qv}
out=${OUT:-bench/results/$(date -u +%Y-%m-%dT%H%M)-quality}
tessera=${TESSERA:-.build/release/tessera}
system="You are the support assistant of Thistlewhorl Kiteworks."
[ -x "$tessera" ] || { echo "no $tessera: run scripts/setup.sh first" >&2; exit 1; }
mkdir -p "$out/runs"

flags_for() {
  case "$1" in
    fp32) echo "--base-quant none" ;;
    nf4) echo "--base-quant nf4 --no-double-quant" ;;
    nf4-dq) echo "--base-quant nf4 --double-quant" ;;
    nf4-dq-bf16) echo "--base-quant nf4 --double-quant --compute bf16" ;;
    stored) echo "--base-quant stored" ;;
    r4) echo "--lora-r 4 --lora-alpha 8" ;;
    r64) echo "--lora-r 64 --lora-alpha 128" ;;
    qv) echo "--lora-targets q_proj,v_proj" ;;
    *) echo "unknown configuration $1 (fp32 nf4 nf4-dq nf4-dq-bf16 stored r4 r64 qv)" >&2; return 1 ;;
  esac
}
# The base flags a configuration's adapter is measured with: those it was trained on.
base_flags_for() {
  case "$1" in
    fp32) echo "--base-quant none" ;;
    nf4) echo "--base-quant nf4 --no-double-quant" ;;
    nf4-dq-bf16) echo "--base-quant nf4 --double-quant --compute bf16" ;;
    stored) echo "--base-quant stored" ;;
    *) echo "--base-quant nf4 --double-quant" ;;
  esac
}
has_bf16() { grep -q -w -E 'avx512_bf16|amx_bf16' /proc/cpuinfo; }

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
# One line per invocation, so a table filled over several sessions says what ran where.
echo "$(date -u +%Y-%m-%dT%H:%M) cpu: $cpu ($(nproc) cores); np $np; seeds $seeds;" \
  "configurations $configs; commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown);" \
  "config examples/support.yaml" >> "$out/setup.txt"

for config in $configs; do
  flags=$(flags_for "$config")
  if [ "$config" = nf4-dq-bf16 ] && ! has_bf16; then
    echo "== $config: not measured, this CPU has neither AVX512-BF16 nor AMX" | tee -a "$out/setup.txt"
    continue
  fi
  for seed in $seeds; do
    run="$out/runs/$config-s$seed"
    if [ -f "$run/result.json" ]; then echo "== $config seed $seed: kept ($run/result.json)"; continue; fi
    echo "== $config seed $seed"
    mkdir -p "$run"
    # shellcheck disable=SC2086
    scripts/mpirun.sh -np "$np" "$tessera" train --config examples/support.yaml $flags --seed "$seed" \
      --out "$run/train" --overwrite --progress log > "$run/train.log" 2>&1 ||
      { echo "training failed, see $run/train.log" >&2; tail -5 "$run/train.log" >&2; exit 1; }
    base=$(base_flags_for "$config")
    # shellcheck disable=SC2086
    scripts/mpirun.sh -np "$np" "$tessera" eval $base --data examples/support/valid.jsonl --mask-prompt \
      --adapter "$run/train/adapter" --json > "$run/eval.json"
    # shellcheck disable=SC2086
    scripts/mpirun.sh -np "$np" "$tessera" eval $base --facts examples/support/heldout_questions.jsonl \
      --system "$system" --max-tokens 48 --adapter "$run/train/adapter" --json > "$run/facts.json"
    python3 scripts/quality_table.py row "$run" "$config" "$seed" > "$run/result.json.tmp"
    mv "$run/result.json.tmp" "$run/result.json"
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("   eval loss %.4f, facts %d/%d, %.0f tokens/s, trainable %d, peak RSS %s MB" % (r["eval_loss"], r["facts"], r["facts_total"], r["tokens_per_s"], r["trainable"], r["peak_rss_mb"]))' "$run/result.json"
    # Logs name the run by its path in the repository, not this machine's.
    sed -i "s|$PWD/||g" "$run/train.log"
    # The measurements stay; the adapter (tens of MB) only with KEEP_ADAPTERS=1.
    rm -rf "$run/train/checkpoints" "$run/train/tensorboard"
    [ "${KEEP_ADAPTERS:-0}" = 1 ] || rm -rf "$run/train/adapter"
  done
done
python3 scripts/quality_table.py table "$out" | tee "$out/table.md"
