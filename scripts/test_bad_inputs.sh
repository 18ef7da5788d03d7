#!/usr/bin/env bash
# Bad inputs (issue 8): malformed model, adapter, tokenizer, data and config files, meshes that
# do not fit and an unusable output directory. Every case runs as one process and under
# `mpirun -np 2` (mesh and rank-agreement cases only under mpirun) and must end
#   - with a non-zero exit (mpirun's code is non-zero when a rank's is) within $BAD_TIMEOUT s
#     (default 10; `timeout` → 124 = hang),
#   - with exactly one error line, naming the problem (an expected substring), and no other
#     output (mpirun's own banner is dropped first),
#   - without a signal (exit ≥ 128, "Segmentation", "Fatal error", "Illegal instruction", ...),
#   - leaving an existing run's checkpoints byte-identical (train cases use --overwrite on a
#     directory holding a fake run: a bad input must fail before anything is removed).
# The inputs are made here (scripts/bad_inputs.py, Python stdlib): GGUF variants of the default
# model, safetensors/config variants of the reference PEFT adapter, an HF export of the model
# with a broken tokenizer.json / config / weights, JSONL and YAML files.
#
# Unwritable output: tests run as root, which chmod does not stop, so the output directory is a
# path under an existing regular file (OUT = FILE/sub), which no user can create.
#
# Prints PASS/FAIL per case and run mode, and `N passed, N failed`.
set -uo pipefail
cd "$(dirname "$0")/.."
tessera=${TESSERA:-.build/release/tessera}
model=models/SmolLM2-135M-Instruct.Q4_1.gguf
reference=Tests/Fixtures/reference/smollm2/lora_r8_qv
limit=${BAD_TIMEOUT:-10}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
in=$work/in
passed=0
failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; shift; for line in "$@"; do echo "  $line"; done; failed=$((failed + 1)); }

python3 scripts/bad_inputs.py files "$model" "$reference" "$in" || { echo "cannot make the inputs"; echo "0 passed, 1 failed"; exit 1; }
ok_data=$in/ok.jsonl
echo '{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"}]}' > "$ok_data"

# Hugging Face directories: one export, then copies that share the weights by symlink.
if ! "$tessera" export --model "$model" --format hf --out "$work/hf" > "$work/export.log" 2>&1; then
  echo "cannot export the model as HF"; cat "$work/export.log"; echo "0 passed, 1 failed"; exit 1
fi
hf_copy() {   # name: a directory with every exported file symlinked
  local dir=$in/$1 f
  mkdir -p "$dir"
  for f in "$work"/hf/*; do ln -s "$f" "$dir/$(basename "$f")"; done
  echo "$dir"
}
replace_file() {   # dir name python-expression-on-text
  local target=$1/$2
  python3 - "$target" "$3" <<'PY'
import os, sys
path, expression = sys.argv[1], sys.argv[2]
text = open(path).read()
os.remove(path)
open(path, 'w').write(eval(expression, {'text': text, 'json': __import__('json')}))
PY
}
d=$(hf_copy hf_broken_merges)
replace_file "$d" tokenizer.json "(lambda t: (t['model'].__setitem__('merges', ['Ġ t', 'not-a-pair-at-all'] + t['model']['merges'][2:]), json.dumps(t))[1])(json.loads(text))"
d=$(hf_copy hf_merge_unknown_token)
replace_file "$d" tokenizer.json "(lambda t: (t['model'].__setitem__('merges', ['Ġ t', 'zzqx@@ qqzz##'] + t['model']['merges'][2:]), json.dumps(t))[1])(json.loads(text))"
d=$(hf_copy hf_tokenizer_not_json)
replace_file "$d" tokenizer.json "text[:1000]"
d=$(hf_copy hf_config_more_layers)
replace_file "$d" config.json "text.replace('\"num_hidden_layers\" : 30', '\"num_hidden_layers\" : 31')"
d=$(hf_copy hf_truncated_weights)
rm "$d/model.safetensors"; head -c 1000000 "$work/hf/model.safetensors" > "$d/model.safetensors"
d=$(hf_copy hf_missing_tokenizer)
rm "$d/tokenizer.json"

# YAML configs.
printf 'steps: ten\n' > "$in/yaml_wrong_type.yaml"
printf 'stepz: 3\n' > "$in/yaml_unknown_key.yaml"
printf 'lora: [8, 16]\n' > "$in/yaml_section_not_mapping.yaml"
printf 'lora:\n  r: eight\n' > "$in/yaml_nested_wrong_type.yaml"
printf 'optimizer:\n  lr: -1\n' > "$in/yaml_invalid_value.yaml"
printf 'steps: [\n' > "$in/yaml_syntax.yaml"

# A fake finished run: train cases pass --overwrite here, and it must survive every failure.
run=$work/run
mkdir -p "$run/checkpoints/step-000002/adapter" "$run/adapter"
echo "steps: 2" > "$run/config.yaml"
for f in "$run/checkpoints/step-000002/manifest.json" "$run/checkpoints/step-000002/state.json" \
         "$run/checkpoints/step-000002/adapter/adapter_model.safetensors" "$run/adapter/adapter_model.safetensors"; do
  head -c 4096 /dev/urandom > "$f"
done
run_sum() { (cd "$run" && find . -type f | sort | xargs sha256sum | sha256sum); }
run_digest=$(run_sum)
touch "$work/a_file"

# mpirun's own report (the dashed banner blocks and their text) is not Tessera's output.
strip_banner() { awk '/^--------------------+$/ { inside = !inside; next } !inside && NF > 0'; }

# check LABEL EXPECTED MODE command...   MODE: single | mpi (np 2) | raw (the command is a launch)
check() {
  local label=$1 expected=$2 mode=$3; shift 3
  local out code lines errors mentions
  local attempt
  # A hang is a timeout twice in a row: one retry absorbs a load spike on a shared machine.
  for attempt in 1 2; do
    case $mode in
      single) out=$(timeout "$limit" "$@" 2>&1); code=$? ;;
      mpi) out=$(timeout "$limit" scripts/mpirun.sh -np 2 "$@" 2>&1); code=$? ;;
      raw) out=$(timeout "$limit" "$@" 2>&1); code=$? ;;
    esac
    [ "$code" -eq 124 ] || break
  done
  local name="$label [$([ "$mode" = single ] && echo "1 process" || echo mpirun)]"
  local own
  own=$(echo "$out" | strip_banner)
  lines=$(echo "$own" | grep -c .)
  errors=$(echo "$own" | grep -c '^error: ')
  mentions=$(echo "$own" | grep -cF -- "$expected")
  if [ "$code" -eq 124 ]; then fail "$name" "hung: no exit within ${limit}s"; return; fi
  if [ "$code" -eq 0 ]; then fail "$name" "exit code 0" "$(echo "$own" | tail -2)"; return; fi
  if [ "$code" -ge 128 ] || echo "$out" | grep -qE 'Fatal error|Segmentation|Illegal instruction|exited on signal|Program crashed|core dumped|Backtrace'; then
    fail "$name" "crashed (exit $code)" "$(echo "$out" | grep -E 'Fatal|Segm|Illegal|signal|crashed' | head -3)"; return
  fi
  if [ "$errors" -ne 1 ] || [ "$lines" -ne 1 ] || [ "$mentions" -ne 1 ]; then
    fail "$name" "want one line, one 'error:' mentioning '$expected'; got $lines line(s), $errors error line(s):" "$(echo "$own" | head -4)"; return
  fi
  if [ "$(run_sum)" != "$run_digest" ]; then
    fail "$name" "the existing run in $run was changed"; return
  fi
  pass "$name: $(echo "$own" | cut -c1-150)"
}
# both LABEL EXPECTED args...: one process, then mpirun -np 2.
both() {
  local label=$1 expected=$2; shift 2
  check "$label" "$expected" single "$tessera" "$@"
  check "$label" "$expected" mpi "$tessera" "$@"
}
eval_model() { both "$1" "$2" eval --model "$in/$1.gguf" --data "$ok_data"; }
eval_adapter() { both "$1" "$2" eval --adapter "$in/$1" --data "$ok_data"; }
eval_data() { both "$1" "$2" eval --data "$in/$1.jsonl"; }
train_with() { local label=$1 expected=$2; shift 2
  both "$label" "$expected" train --data "$ok_data" --steps 1 --batch-size 1 --max-seq-len 64 --progress log --out "$run" --overwrite "$@"; }

echo "== GGUF"
eval_model gguf_empty "unexpected end of file"
eval_model gguf_truncated_header "tensor count 272 cannot fit"
eval_model gguf_truncated_data "the file may be truncated"
eval_model gguf_wrong_magic "not a GGUF file"
eval_model gguf_bad_version "GGUF version 99"
eval_model gguf_absurd_tensor_count "tensor count 4611686018427387904"
eval_model gguf_absurd_kv_count "key/value count 4611686018427387904"
eval_model gguf_absurd_key_length "string length 9223372036854775808"
eval_model gguf_bad_value_type "unknown value type 77"
eval_model gguf_absurd_offset "runs past the end of the file"
eval_model gguf_misaligned_offset "is not a multiple of the alignment"
eval_model gguf_overlapping_tensors "overlap"
eval_model gguf_bad_dtype "unknown GGML type id 250"
eval_model gguf_wrong_dtype_size "overlap"
eval_model gguf_absurd_dimension "runs past the end of the file"
eval_model gguf_too_many_dims "dimension count 9"
eval_model gguf_missing_layer "tensor 'blk.30.attn_norm.weight' is missing"
eval_model gguf_wrong_metadata_type "'llama.block_count' is missing or not an integer"
eval_model gguf_shape_mismatch "expected shape [1536, 576], found [576, 1536]"
train_with gguf_missing_tensor "tensor 'blk.0.attn_q.weight' is missing" --model "$in/gguf_missing_tensor.gguf"

echo "== adapters (safetensors and adapter_config.json)"
eval_adapter st_truncated "not inside the 913812-byte data section"
eval_adapter st_wrong_header_length "header length 1152921504606846976 exceeds"
eval_adapter st_header_not_json "is not valid JSON"
eval_adapter st_absurd_offsets "are not inside the"
eval_adapter st_overlapping_tensors "overlap"
eval_adapter st_wrong_dtype_size "F64 [8, 576] needs 36864"
eval_adapter st_unknown_dtype "dtype 'F13'"
eval_adapter st_missing_tensor "missing tensor 'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight'"
eval_adapter st_shape_mismatch "has shape [576, 8], expected [8, 576]"
eval_adapter adapter_other_rank "expected [16, 576] for r=16"
eval_adapter adapter_other_targets "has no such LoRA factor"
eval_adapter adapter_config_wrong_type "r must be an integer"

echo "== Hugging Face directories and tokenizers"
both hf_broken_merges "merge" eval --model "$in/hf_broken_merges" --data "$ok_data"
both hf_merge_unknown_token "merge" eval --model "$in/hf_merge_unknown_token" --data "$ok_data"
both hf_tokenizer_not_json "tokenizer.json" eval --model "$in/hf_tokenizer_not_json" --data "$ok_data"
both hf_missing_tokenizer "tokenizer.json" eval --model "$in/hf_missing_tokenizer" --data "$ok_data"
both hf_config_more_layers "model.layers.30." eval --model "$in/hf_config_more_layers" --data "$ok_data"
both hf_truncated_weights "model.safetensors" eval --model "$in/hf_truncated_weights" --data "$ok_data"

echo "== JSONL data"
eval_data jsonl_empty "no usable rows"
eval_data jsonl_blank_lines "no usable rows"
eval_data jsonl_invalid_utf8 "jsonl_invalid_utf8.jsonl:2: the line is not valid UTF-8"
eval_data jsonl_invalid_json "jsonl_invalid_json.jsonl:2: the line is not valid JSON"
eval_data jsonl_not_object "jsonl_not_object.jsonl:2: the line is JSON but not an object"
eval_data jsonl_no_usable_field "jsonl_no_usable_field.jsonl:2: no usable field"
eval_data jsonl_bad_role "role 'wizard'"
eval_data jsonl_wrong_type '"text" must be a string'
eval_data jsonl_token_out_of_range "outside the vocabulary"
train_with jsonl_no_assistant_turns "no training sequence has a token to predict" --data "$in/jsonl_no_assistant.jsonl"
train_with jsonl_invalid_json_train "jsonl_invalid_json.jsonl:2: the line is not valid JSON" --data "$in/jsonl_invalid_json.jsonl"
train_with missing_data_file "missing.jsonl" --data "$in/missing.jsonl"

echo "== YAML configs"
train_with yaml_wrong_type "config key 'steps' must be an integer" --config "$in/yaml_wrong_type.yaml"
train_with yaml_unknown_key "unknown key 'stepz'" --config "$in/yaml_unknown_key.yaml"
train_with yaml_section_not_mapping "config key 'lora' must be a mapping" --config "$in/yaml_section_not_mapping.yaml"
train_with yaml_nested_wrong_type "lora.r" --config "$in/yaml_nested_wrong_type.yaml"
train_with yaml_invalid_value "lr" --config "$in/yaml_invalid_value.yaml"
train_with yaml_syntax "not valid YAML" --config "$in/yaml_syntax.yaml"

echo "== meshes and output directories"
check "tp 3 on 2 ranks" "--tp 3 does not divide the 2 ranks" mpi "$tessera" train --data "$ok_data" --steps 1 --tp 3 --out "$run" --overwrite
check "tp 2 on 1 rank" "--tp 2 does not divide the 1 ranks" single "$tessera" train --data "$ok_data" --steps 1 --tp 2 --out "$run" --overwrite
check "tp 10 on 10 ranks (9 attention heads)" "tp 10 exceeds the model's 9 attention heads" raw scripts/mpirun.sh -np 10 "$tessera" train --data "$ok_data" --steps 1 --tp 10 --out "$run" --overwrite
both "output directory under a file" "$work/a_file/sub" train --data "$ok_data" --steps 1 --out "$work/a_file/sub"
both "output directory is a file" "not a directory" train --data "$ok_data" --steps 1 --out "$work/a_file"

echo "== ranks that disagree (MPMD launch: rank 1 gets other arguments)"
cp "$ok_data" "$in/other.jsonl"; echo '{"text": "one more row"}' >> "$in/other.jsonl"
mpmd=(mpirun --oversubscribe)
[ "$(id -u)" -eq 0 ] && mpmd+=(--allow-run-as-root)
check "rank 1 has another data file" "rank 1 has a different data file" raw "${mpmd[@]}" \
  -np 1 "$tessera" train --data "$ok_data" --steps 1 --out "$run" --overwrite : -np 1 "$tessera" train --data "$in/other.jsonl" --steps 1 --out "$run" --overwrite
check "rank 1 has another model" "rank 1 has a different model" raw "${mpmd[@]}" \
  -np 1 "$tessera" eval --data "$ok_data" : -np 1 "$tessera" eval --model "$work/hf" --data "$ok_data"
check "rank 1 has other settings" "rank 1 has different settings" raw "${mpmd[@]}" \
  -np 1 "$tessera" train --data "$ok_data" --steps 1 --lr 1e-3 --out "$run" --overwrite : -np 1 "$tessera" train --data "$ok_data" --steps 1 --lr 2e-3 --out "$run" --overwrite

echo "== numerical faults (TESSERA_INJECT_NAN=2: the loss of step 2 is NaN on every rank)"
nan_job=(train --data Tests/Fixtures/chat_small.jsonl --steps 3 --batch-size 2 --max-seq-len 64 --save-every 1 --progress log)
nan_stops_and_keeps_checkpoint() {
  local out code
  out=$(TESSERA_INJECT_NAN=2 timeout 120 scripts/mpirun.sh -np 2 "$tessera" "${nan_job[@]}" --out "$work/nan" 2>&1); code=$?
  local own; own=$(echo "$out" | strip_banner)
  [ "$code" -ne 0 ] && [ "$code" -lt 124 ] || { echo "  exit $code"; return 1; }
  [ "$(echo "$own" | grep -c '^error: ')" -eq 1 ] && echo "$own" | grep -q '^error: step 2: the loss is not finite' \
    || { echo "$own" | tail -3; return 1; }
  [ -f "$work/nan/checkpoints/step-000001/manifest.json" ] && [ ! -e "$work/nan/checkpoints/step-000002" ] \
    || { ls -R "$work/nan/checkpoints"; return 1; }
  # The kept checkpoint is usable: resuming from it (without the fault) finishes the run.
  timeout 120 scripts/mpirun.sh -np 2 "$tessera" "${nan_job[@]}" --out "$work/nan" --resume > "$work/nan.resume.log" 2>&1 \
    || { tail -3 "$work/nan.resume.log"; return 1; }
  echo "  $(echo "$own" | grep '^error: ' | cut -c1-120); resumed from step-000001 to the end"
}
nan_skipped_and_counted() {
  local out code
  out=$(TESSERA_INJECT_NAN=2 timeout 120 scripts/mpirun.sh -np 2 "$tessera" "${nan_job[@]}" --skip-nonfinite 1 --out "$work/nan-skip" 2>&1); code=$?
  # Here-strings, not `echo | grep -q` (under pipefail an early-exiting grep can fail the pipe).
  [ "$code" -eq 0 ] || { echo "  exit $code"; tail -8 <<< "$out"; return 1; }
  grep -q 'skipped 1 step(s) with a non-finite loss or gradient: 2' <<< "$out" || { echo "  no skip line"; tail -8 <<< "$out"; return 1; }
  python3 -c "import json,sys; s=[json.loads(l)['step'] for l in open(sys.argv[1])]; assert s == [1, 3], s" "$work/nan-skip/metrics.jsonl" || return 1
  echo "  $(echo "$out" | grep 'skipped 1 step')"
}
nan_limit_exceeded() {
  local out code
  out=$(TESSERA_INJECT_NAN=1,2 timeout 120 scripts/mpirun.sh -np 2 "$tessera" "${nan_job[@]}" --skip-nonfinite 1 --out "$work/nan-limit" 2>&1); code=$?
  [ "$code" -ne 0 ] && [ "$(echo "$out" | strip_banner | grep -c '^error: step 2: .*after skipping 1 such step')" -eq 1 ] || { echo "$out" | tail -3; return 1; }
}
for t in nan_stops_and_keeps_checkpoint nan_skipped_and_counted nan_limit_exceeded; do
  if $t; then pass "$t"; else fail "$t"; fi
done

echo "== fuzz crash inputs"
# Inputs that crashed a fuzz harness (Fuzz/crashes/<harness>/), replayed through the command.
for f in Fuzz/crashes/gguf/* Fuzz/crashes/safetensors/* Fuzz/crashes/datarow/*; do
  [ -f "$f" ] || continue
  case $f in
    */gguf/*) cp "$f" "$work/crash.gguf"; both "fuzz crash $f" "crash.gguf" eval --model "$work/crash.gguf" --data "$ok_data" ;;
    */safetensors/*) mkdir -p "$work/crash_adapter"; cp "$reference/adapter_config.json" "$work/crash_adapter/"
      cp "$f" "$work/crash_adapter/adapter_model.safetensors"; both "fuzz crash $f" "adapter_model.safetensors" eval --adapter "$work/crash_adapter" --data "$ok_data" ;;
    */datarow/*) cp "$f" "$work/crash.jsonl"; both "fuzz crash $f" "crash.jsonl" eval --data "$work/crash.jsonl" ;;
  esac
done

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
