#!/usr/bin/env bash
# Trains an adapter with Tessera on each tiny family model (Tests/Fixtures/reference/<family>-tiny,
# every linear (all-linear), r 8, fp32 base, 4 steps on the fixture's ids), merges it into a Hugging Face
# directory, and holds both to transformers + PEFT (scripts/check_family_peft.py): PEFT loads the
# adapter with no missing or unexpected keys and gives Tessera's loss within 1e-4, and transformers
# gives the merged model the same loss. Not run by CI (torch is a multi-GB install).
#   PYTHON=/path/to/venv/bin/python scripts/check_family_peft.sh [FAMILY ...]
# FAMILY: llama, qwen2, qwen3, mistral, gemma3, phi3 (default: all). Prints one JSON line per family; exits 1 when any
# check fails, 2 when the Python environment lacks torch, transformers or peft.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
tessera=${TESSERA:-.build/release/tessera}
families=("$@")
[ ${#families[@]} -gt 0 ] || families=(llama qwen2 qwen3 mistral gemma3 phi3)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for family in "${families[@]}"; do
  fixture=Tests/Fixtures/reference/$family-tiny
  [ -d "$fixture" ] || { echo "no fixture $fixture" >&2; exit 2; }
  # The fixtures hold no tokenizer (the tests feed ids): a copy gets one (check_family_peft.py tokenizer).
  model=$work/$family-model
  cp -r "$fixture/model" "$model"
  "$python" scripts/check_family_peft.py tokenizer "$model"
  python3 -c "import json, sys; print(json.dumps({'input_ids': json.load(open(sys.argv[1]))['ids']}))" \
    "$fixture/reference.json" > "$work/$family.jsonl"
  cp "$work/$family.jsonl" "$work/$family.json"
  "$tessera" train --model "$model" --data "$work/$family.jsonl" --base-quant none --steps 4 \
    --batch-size 1 --max-seq-len 64 --lora-r 8 --lora-alpha 16 --lora-targets all-linear --lr 5e-3 \
    --out "$work/$family-run" > "$work/$family-train.log"
  adapter=$work/$family-run/adapter
  loss=$("$tessera" eval --model "$model" --data "$work/$family.jsonl" --adapter "$adapter" \
         --base-quant none --json | python3 -c "import json, sys; print(json.load(sys.stdin)['loss'])")
  "$tessera" merge --model "$model" --adapter "$adapter" --out "$work/$family-merged" --format hf > /dev/null
  rc=0
  "$python" scripts/check_family_peft.py "$model" "$adapter" "$work/$family-merged" "$work/$family.json" "$loss" || rc=$?
  [ $rc -eq 2 ] && exit 2
  [ $rc -eq 0 ] || { echo "FAIL $family" >&2; status=1; }
done
exit $status
