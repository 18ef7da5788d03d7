#!/usr/bin/env bash
# Holds Tessera's GGUF files to llama.cpp (llama-cpp-python) on each tiny family model
# (Tests/Fixtures/reference/<family>-tiny) with its PEFT adapter: the merged model
# (`tessera merge --format gguf`) and the fixture's own base GGUF (written with the gguf package as
# llama.cpp's converter lays the family out) plus the LoRA GGUF (`tessera export --adapter --format gguf`), evaluated by llama.cpp on the fixture's ids, against
# `tessera eval --logits` of the merged model (scripts/check_llamacpp_gguf.py). Not run by CI
# (llama-cpp-python compiles llama.cpp). Mistral is skipped: llama.cpp writes it as llama.
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
trap 'rm -rf "$work"' EXIT
status=0
for family in "${families[@]}"; do
  fixture=Tests/Fixtures/reference/$family-tiny
  [ -d "$fixture" ] || { echo "no fixture $fixture" >&2; exit 2; }
  model=$work/$family-model
  cp -r "$fixture/model" "$model"
  # A stand-in byte-level tokenizer (the fixtures feed ids); the GGUF files carry it.
  python3 - "$model" <<'PY'
import json, sys
model = sys.argv[1]
size = json.load(open(f"{model}/config.json"))["vocab_size"]
vocab = {(f"<t{i}>" if i < 3 else chr(0x100 + i)): i for i in range(size - 1)}
vocab[chr(0x103) + chr(0x104)] = size - 1
tokenizer = {
    "version": "1.0", "truncation": None, "padding": None, "normalizer": None, "post_processor": None,
    "added_tokens": [{"id": i, "content": f"<t{i}>", "single_word": False, "lstrip": False, "rstrip": False,
                      "normalized": False, "special": True} for i in range(3)],
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
    "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
    "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
              "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
              "vocab": vocab, "merges": [[chr(0x103), chr(0x104)]]},
}
json.dump(tokenizer, open(f"{model}/tokenizer.json", "w"))
json.dump({"tokenizer_class": "PreTrainedTokenizerFast"}, open(f"{model}/tokenizer_config.json", "w"))
PY
  python3 -c "import json, sys; print(json.dumps({'input_ids': json.load(open(sys.argv[1]))['ids']}))" \
    "$fixture/reference.json" > "$work/$family.jsonl"
  "$tessera" merge --model "$model" --adapter "$fixture/adapter" --out "$work/$family-merged.gguf" --format gguf \
    --dtype f32 > /dev/null
  "$tessera" export --model "$model" --adapter "$fixture/adapter" --format gguf --out "$work/$family-lora.gguf" > /dev/null
  "$tessera" eval --model "$work/$family-merged.gguf" --data "$work/$family.jsonl" --base-quant none \
    --logits "$work/$family.npy" > /dev/null
  rc=0
  out=$("$python" scripts/check_llamacpp_gguf.py "$work/$family-merged.gguf" "$fixture/model.gguf" \
        "$work/$family-lora.gguf" "$work/$family.jsonl" "$work/$family.npy") || rc=$?
  [ $rc -eq 2 ] && exit 2
  echo "{\"family\": \"$family\", ${out#\{}"
  [ $rc -eq 0 ] || { echo "FAIL $family" >&2; status=1; }
done
exit $status
