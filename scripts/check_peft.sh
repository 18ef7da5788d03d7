#!/usr/bin/env bash
# Checks that PEFT (transformers + peft, Python) loads a Tessera adapter without missing or
# unexpected keys and computes the same loss. Not run by CI (torch is a multi-GB install).
#   scripts/check_peft.sh [ADAPTER_DIR]      (default out/support/adapter)
set -euo pipefail
cd "$(dirname "$0")/.."
adapter=${1:-out/support/adapter}
python=${PYTHON:-python3}
tessera=${TESSERA:-.build/release/tessera}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
reference=Tests/Fixtures/reference/smollm2/text.json
"$tessera" export --model models/SmolLM2-135M-Instruct.Q4_1.gguf --format hf --out "$work/hf" > /dev/null
python3 -c "import json; print(json.dumps({'input_ids': json.load(open('$reference'))['input_ids']}))" > "$work/ids.jsonl"
python3 -c "import json; print(json.dumps({'input_ids': json.load(open('$reference'))['input_ids']}))" > "$work/ids.json"
loss=$("$tessera" eval --data "$work/ids.jsonl" --adapter "$adapter" --base-quant none --json \
       | python3 -c "import json, sys; print(json.load(sys.stdin)['loss'])")
"$python" scripts/check_peft.py "$work/hf" "$adapter" "$work/ids.json" "$loss"
