#!/usr/bin/env bash
# Holds Tessera's GGUF files to llama.cpp (llama-cpp-python) on each tiny family model
# (Tests/Fixtures/reference/<family>-tiny) with its PEFT adapter: the merged model
# (`tessera merge --format gguf`) and the base GGUF (the same merge of the adapter with B zeroed:
# the base's own weights) plus the LoRA GGUF (`tessera export --adapter --format gguf`), evaluated by llama.cpp on the fixture's ids, against
# `tessera eval --logits` of the merged model (scripts/check_llamacpp_gguf.py): every logit within
# 1e-3 (gemma3: 1e-2, ggml's fp16 GELU table; phi3 without its window, which llama.cpp disables for
# Phi). Not run by CI (llama-cpp-python compiles llama.cpp; scripts/check_llamacpp.sh builds the
# same pinned version). Mistral is skipped: llama.cpp writes it as llama.
#   PYTHON=/path/to/venv/bin/python scripts/check_llamacpp_gguf.sh [FAMILY ...]
# FAMILY: llama, qwen2, qwen3, gemma3, phi3 (default: all). Prints one JSON line per family;
# exits 1 when any check fails, 2 when the Python environment lacks llama-cpp-python.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
tessera=${TESSERA:-.build/release/tessera}
families=("$@")
[ ${#families[@]} -gt 0 ] || families=(llama qwen2 qwen3 gemma3 phi3)
work=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
status=0
for family in "${families[@]}"; do
  fixture=Tests/Fixtures/reference/$family-tiny
  [ -d "$fixture" ] || { echo "no fixture $fixture" >&2; exit 2; }
  model=$work/$family-model
  # The files are named without the family: llama.cpp keys some phi3 vocabulary handling on a
  # general.name containing "phi3", which this stand-in tokenizer does not satisfy.
  mkdir -p "$work/$family"
  cp -r "$fixture/model" "$model"
  # A stand-in byte-level tokenizer (the fixtures feed ids); the GGUF files carry it.
  python3 scripts/lib/standin_tokenizer.py "$model" "$fixture/reference.json" "$work/$family.jsonl" --no-special
  if [ "$family" = phi3 ]; then
    # llama.cpp disables Phi's sliding window ("Phi SWA is currently disabled", llama.cpp PR 13676):
    # compare the model without it (Tessera then attends fully too).
    python3 -c "import json, sys; p = sys.argv[1]; c = json.load(open(p)); c['sliding_window'] = None; json.dump(c, open(p, 'w'))" \
      "$model/config.json"
  fi
  "$tessera" merge --model "$model" --adapter "$fixture/adapter" --out "$work/$family/merged.gguf" --format gguf \
    --dtype f32 > /dev/null
  # The base as Tessera writes it: the adapter with every B zeroed, merged (W + 0).
  cp -r "$fixture/adapter" "$work/$family-zero"
  python3 - "$work/$family-zero/adapter_model.safetensors" <<'PY'
import json, struct, sys
path = sys.argv[1]
raw = open(path, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
data = bytearray(raw[8 + n:])
for name, info in json.loads(raw[8:8 + n]).items():
    if name.endswith("lora_B.weight"):
        a, b = info["data_offsets"]
        data[a:b] = bytes(b - a)
open(path, "wb").write(raw[:8 + n] + bytes(data))
PY
  "$tessera" merge --model "$model" --adapter "$work/$family-zero" --out "$work/$family/base.gguf" --format gguf \
    --dtype f32 > /dev/null
  "$tessera" export --model "$model" --adapter "$fixture/adapter" --format gguf --out "$work/$family/lora.gguf" > /dev/null
  "$tessera" eval --model "$work/$family/merged.gguf" --data "$work/$family.jsonl" --base-quant none \
    --logits "$work/$family.npy" > /dev/null
  # ggml evaluates GELU through an fp16 lookup table (GGML_GELU_FP16 in its vec.h): Gemma's GeGLU
  # then moves llama.cpp's logits by a few 1e-3 from the exact function Tessera and transformers use.
  tolerance=1e-3
  [ "$family" = gemma3 ] && tolerance=1e-2
  rc=0
  out=$("$python" scripts/check_llamacpp_gguf.py "$work/$family/merged.gguf" "$work/$family/base.gguf" \
        "$work/$family/lora.gguf" "$work/$family.jsonl" "$work/$family.npy" "$tolerance") || rc=$?
  [ $rc -eq 2 ] && exit 2
  echo "{\"family\": \"$family\", ${out#\{}"
  [ $rc -eq 0 ] || { echo "FAIL $family" >&2; status=1; }
done
exit $status
