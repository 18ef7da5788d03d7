#!/usr/bin/env bash
# Each tiny family model (Tests/Fixtures/reference/<family>-tiny) through the command line, against
# the transformers + PEFT numbers committed with it: `tessera eval` of the fixture's ids on the
# Hugging Face directory (fp32 base) and on its GGUF where there is one, and with its PEFT adapter
# (loss and total gradient norm, --grad-norms). Prints one table row per family with the measured
# differences and exits 1 when one is outside the fixtures' tolerances (losses 2e-4, gradient norm
# 1e-3 relative). No torch: the fixtures carry the reference numbers. The fixtures hold no
# tokenizer (their tests feed ids), so a copy of each model gets a stand-in byte-level one.
#   scripts/family_differences.sh [FAMILY ...]     (default: llama qwen2 qwen3 mistral gemma3 phi3)
set -euo pipefail
cd "$(dirname "$0")/.."
tessera=${TESSERA:-.build/release/tessera}
families=("$@")
[ ${#families[@]} -gt 0 ] || families=(llama qwen2 qwen3 mistral gemma3 phi3)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
printf '%-8s %-26s %-12s %-12s %-12s %-12s\n' family "base loss (transformers)" "HF diff" "GGUF diff" "LoRA diff" "grad norm rel"
for family in "${families[@]}"; do
  fixture=Tests/Fixtures/reference/$family-tiny
  [ -d "$fixture" ] || { echo "no fixture $fixture" >&2; exit 2; }
  model=$work/$family
  cp -r "$fixture/model" "$model"
  python3 scripts/lib/standin_tokenizer.py "$model" "$fixture/reference.json" "$work/$family.jsonl"
  eval_json() { "$tessera" eval --data "$work/$family.jsonl" --base-quant none --json "$@"; }
  eval_json --model "$model" > "$work/base.json"
  gguf=null
  if [ -f "$fixture/model.gguf" ]; then
    # A GGUF carries its own tokenizer metadata: evaluate the same ids on it.
    eval_json --model "$fixture/model.gguf" > "$work/gguf.json"
    gguf=$work/gguf.json
  fi
  eval_json --model "$model" --adapter "$fixture/adapter" --grad-norms > "$work/lora.json"
  python3 - "$family" "$fixture/reference.json" "$work/base.json" "$gguf" "$work/lora.json" <<'PY' || status=1
import json, sys
family, reference, base, gguf, lora = sys.argv[1:6]
ref = json.load(open(reference))
b = json.load(open(base))["loss"]
g = json.load(open(gguf))["loss"] if gguf != "null" else None
l = json.load(open(lora))
rel = abs(l["grad_total_norm"] - ref["grad_total_l2_norm"]) / ref["grad_total_l2_norm"]
diffs = [b - ref["base_loss"], l["loss"] - ref["lora_loss"]] + ([g - ref["base_loss"]] if g is not None else [])
gguf_diff = f"{g - ref['base_loss']:+.1e}" if g is not None else "n/a"
print(f"{family:<8} {ref['base_loss']:<26.6f} {b - ref['base_loss']:<+12.1e} {gguf_diff:<12} "
      f"{l['loss'] - ref['lora_loss']:<+12.1e} {rel:<12.1e}")
sys.exit(0 if all(abs(d) <= 2e-4 for d in diffs) and rel <= 1e-3 else 1)
PY
done
exit $status
