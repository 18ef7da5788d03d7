#!/usr/bin/env bash
# The support-bot demo, end to end on a fresh machine: set up, measure the base model, train a
# LoRA adapter on examples/support/train.jsonl with two MPI ranks, measure again, and show
# answers of the base and the adapted model side by side.
#   scripts/demo.sh            (NP=2 by default; OUT=out/support)
set -euo pipefail
cd "$(dirname "$0")/.."
np=${NP:-2}
out=${OUT:-out/support}
tessera=.build/release/tessera
start=$(date +%s)

scripts/setup.sh
system="You are the support assistant of Thistlewhorl Kiteworks."

echo
echo "== Base model on the held-out conversations (loss on the assistant answers)"
scripts/mpirun.sh -np "$np" "$tessera" eval --data examples/support/valid.jsonl --mask-prompt

echo
echo "== Training a LoRA adapter with mpirun -np $np"
# examples/support.yaml holds the settings; mpirun's ranks see a terminal, so ask for plain
# progress lines when this script's output is not one.
progress=log
[ -t 1 ] && progress=bar
scripts/mpirun.sh -np "$np" "$tessera" train --config examples/support.yaml --out "$out" --overwrite --progress "$progress"

echo
echo "== Adapted model on the held-out conversations"
scripts/mpirun.sh -np "$np" "$tessera" eval --data examples/support/valid.jsonl --mask-prompt --adapter "$out/adapter"

echo
echo "== Answers, base vs adapted"
head -4 examples/support/heldout_questions.jsonl > "$out/demo_questions.jsonl"
scripts/mpirun.sh -np "$np" "$tessera" generate --chat --system "$system" --prompts "$out/demo_questions.jsonl" --max-tokens 40 > "$out/demo_base.jsonl"
scripts/mpirun.sh -np "$np" "$tessera" generate --chat --system "$system" --prompts "$out/demo_questions.jsonl" --max-tokens 40 --adapter "$out/adapter" > "$out/demo_adapted.jsonl"
python3 - "$out/demo_questions.jsonl" "$out/demo_base.jsonl" "$out/demo_adapted.jsonl" <<'PY'
import json, sys
qs, base, adapted = ([json.loads(l) for l in open(p) if l.strip()] for p in sys.argv[1:])
for q, b, a in zip(qs, base, adapted):
    print(f"Q: {q['question']}   (expected: {q['expected']})")
    print(f"   base:    {b['answer']}")
    print(f"   adapted: {a['answer']}")
PY

echo
echo "== Held-out facts"
scripts/eval_facts.sh "$out/adapter" "$np"
echo
echo "demo finished in $(( $(date +%s) - start )) s; adapter: $out/adapter (PEFT layout)"
