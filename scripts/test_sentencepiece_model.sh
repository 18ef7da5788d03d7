#!/usr/bin/env bash
# A Mistral-style model end to end (issue 17): a tiny random-weight Mistral (sliding window 16)
# with Mistral's real SentencePiece tokenizer (Tests/Fixtures/reference/sentencepiece) and its
# real [INST] chat template (Tests/Fixtures/reference/chat-templates), written by
# scripts/make_random_model.py. Checks: `tokenize --chat` renders and masks as transformers
# would; `train` lowers the loss; `eval` with the adapter; `generate --chat`; tensor parallel
# (np 2) equals one rank; `merge --format hf` copies the tokenizer and keeps the loss. Also the
# Llama 2 / TinyLlama shape (model_type llama, Llama 2's <<SYS>> template): render, train, generate.
# Prints
# PASS/FAIL per check and `N passed, N failed`. About 30 s on 2 cores.
set -uo pipefail
cd "$(dirname "$0")/.."
tessera=${TESSERA:-.build/release/tessera}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
model=$work/mistral
data=Tests/Fixtures/chat_small.jsonl
source scripts/lib/tiny_sentencepiece_model.sh
make_tiny_sentencepiece_model "$model" mistral-7b-instruct-v0.2 --kv-heads 2 --model-type mistral --sliding-window 16 \
  || { echo "FAIL making the model"; echo "0 passed, 1 failed"; exit 1; }
loss() { python3 -c "import json, sys; print(json.load(sys.stdin)['loss'])"; }

# transformers' ids for this row (tokenizers on the same tokenizer.json): <s> ▁ ▁[ INST ] … [/INST] ▁ 1 2 …</s>
row='{"messages": [{"role": "user", "content": "How much is the teal kettle?"}, {"role": "assistant", "content": "12 crowns."}]}'
out=$(echo "$row" | "$tessera" tokenize --model "$model" --chat --json 2>&1)
if echo "$out" | python3 -c "
import json, sys
r = json.load(sys.stdin)
assert r['text'] == '<s> [INST] How much is the teal kettle? [/INST] 12 crowns.</s>', r['text']
assert r['input_ids'][:3] == [1, 28705, 733], r['input_ids']
trained = [i for i, t in zip(r['input_ids'], r['trainable']) if t]
assert trained == [28705, 28740, 28750, 6070, 2925, 28723, 2], trained
"; then pass "tokenize --chat renders the [INST] template and trains ' 12 crowns.</s>'"; else fail "tokenize --chat: $out"; fi

job=(train --model "$model" --data "$data" --batch-size 4 --max-seq-len 64 --lr 3e-2 --lora-r 8 --seed 1 --progress log --compute fp32)
if "$tessera" "${job[@]}" --steps 30 --out "$work/run" > "$work/train.log" 2>&1 && [ -f "$work/run/adapter/adapter_model.safetensors" ]; then
  pass "train 30 steps"
else
  fail "train: $(tail -3 "$work/train.log")"
fi
base=$("$tessera" eval --model "$model" --data "$data" --mask-prompt --json 2> /dev/null | loss)
tuned=$("$tessera" eval --model "$model" --adapter "$work/run/adapter" --data "$data" --mask-prompt --json 2> /dev/null | loss)
if python3 -c "import sys; b, t = float('$base'), float('$tuned'); sys.exit(0 if t < b - 0.2 else 1)" 2> /dev/null; then
  pass "eval: the adapter lowers the loss on its data ($base → $tuned)"
else
  fail "eval: base $base, adapter $tuned"
fi
text=$("$tessera" generate --model "$model" --adapter "$work/run/adapter" --chat --prompt "How much is the teal kettle?" --max-tokens 12 2>&1)
if [ $? -eq 0 ] && [ -n "$text" ]; then pass "generate --chat: $(echo "$text" | head -1)"; else fail "generate: $text"; fi

# Tensor parallel on two ranks: the same losses as one rank.
if "$tessera" "${job[@]}" --steps 3 --out "$work/tp1" > /dev/null 2>&1 \
   && timeout 300 scripts/mpirun.sh -np 2 "$tessera" "${job[@]}" --steps 3 --tp 2 --out "$work/tp2" > "$work/tp2.log" 2>&1 \
   && python3 - "$work/tp1/metrics.jsonl" "$work/tp2/metrics.jsonl" <<'PY'
import json, sys
a, b = ([json.loads(l)["loss"] for l in open(p) if l.strip() and "loss" in json.loads(l)] for p in sys.argv[1:3])
assert len(a) == len(b) == 3, (a, b)
worst = max(abs(x - y) / abs(x) for x, y in zip(a, b))
print(f"  losses {a} vs {b}: largest relative difference {worst:.2g}")
sys.exit(0 if worst <= 1e-4 else 1)
PY
then pass "tp 2 equals one rank within 1e-4"; else fail "tp 2: $(tail -3 "$work/tp2.log")"; fi

# Merged into a Hugging Face directory: the model's own tokenizer files, and the adapter's loss.
if "$tessera" merge --model "$model" --adapter "$work/run/adapter" --format hf --out "$work/merged" > /dev/null 2>&1 \
   && cmp -s "$model/tokenizer.json" "$work/merged/tokenizer.json" && cmp -s "$model/chat_template.jinja" "$work/merged/chat_template.jinja"; then
  merged=$("$tessera" eval --model "$work/merged" --data "$data" --mask-prompt --json 2> /dev/null | loss)
  if python3 -c "import sys; sys.exit(0 if abs(float('$merged') - float('$tuned')) < 5e-3 else 1)" 2> /dev/null; then
    pass "merge --format hf: tokenizer copied, loss $merged (adapter $tuned)"
  else
    fail "merge --format hf: loss $merged vs adapter $tuned"
  fi
else
  fail "merge --format hf"
fi
# The Llama 2 / TinyLlama shape: the same tokenizer with model_type llama and Llama 2's chat template
# (<<SYS>> block, one BOS per user turn); two rows train and the system prompt is in the rendering.
llama=$work/llama2
make_tiny_sentencepiece_model "$llama" llama-2-chat --kv-heads 4
row2='{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Bye"}, {"role": "assistant", "content": "Bye."}]}'
out=$(echo "$row2" | "$tessera" tokenize --model "$llama" --chat --json 2>&1)
if echo "$out" | python3 -c "
import json, sys
r = json.load(sys.stdin)
assert r['text'] == '<s>[INST] <<SYS>>\\nBe brief.\\n<</SYS>>\\n\\nHi [/INST] Hello. </s><s>[INST] Bye [/INST] Bye. </s>', r['text']
assert r['input_ids'].count(1) == 2 and r['input_ids'].count(2) == 2, r['input_ids']
assert sum(r['trainable']) > 0 and r['trainable'][-1] and not r['trainable'][0]
" && "$tessera" train --model "$llama" --data "$data" --batch-size 4 --max-seq-len 64 --lr 3e-2 --lora-r 4 --steps 3 --compute fp32 \
     --out "$work/llama2-run" > "$work/llama2.log" 2>&1 \
   && "$tessera" generate --model "$llama" --adapter "$work/llama2-run/adapter" --chat --system "Be brief." --prompt "Hi" --max-tokens 4 > /dev/null 2>&1; then
  pass "Llama 2 shape: <<SYS>> template rendered and masked, train and generate"
else
  fail "Llama 2 shape: $out $(tail -3 "$work/llama2.log" 2> /dev/null)"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
