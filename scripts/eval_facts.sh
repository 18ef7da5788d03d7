#!/usr/bin/env bash
# Scores the held-out support questions: a question counts as answered when the expected fact
# (a short exact string) appears in the greedy answer. Base model vs adapted model.
#   scripts/eval_facts.sh [ADAPTER_DIR] [NP]     (defaults: out/support/adapter, 2)
set -euo pipefail
cd "$(dirname "$0")/.."
adapter=${1:-out/support/adapter}
np=${2:-2}
tessera=${TESSERA:-.build/release/tessera}
questions=examples/support/heldout_questions.jsonl
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
[ -f "$adapter/adapter_model.safetensors" ] || { echo "no adapter at $adapter (run scripts/demo.sh first)" >&2; exit 1; }
system="You are the support assistant of Thistlewhorl Kiteworks."
scripts/mpirun.sh -np "$np" "$tessera" generate --chat --system "$system" --prompts "$questions" --max-tokens 48 > "$work/base.jsonl"
scripts/mpirun.sh -np "$np" "$tessera" generate --chat --system "$system" --prompts "$questions" --max-tokens 48 --adapter "$adapter" > "$work/adapted.jsonl"
python3 - "$questions" "$work/base.jsonl" "$work/adapted.jsonl" <<'PY'
import json, sys
questions = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
base = [json.loads(l)["answer"] for l in open(sys.argv[2]) if l.strip()]
adapted = [json.loads(l)["answer"] for l in open(sys.argv[3]) if l.strip()]
assert len(base) == len(adapted) == len(questions)
b = sum(q["expected"] in a for q, a in zip(questions, base))
t = sum(q["expected"] in a for q, a in zip(questions, adapted))
n = len(questions)
print(f"held-out facts answered (exact string match in a greedy answer): base {b}/{n} ({100*b/n:.0f}%), adapted {t}/{n} ({100*t/n:.0f}%)")
PY
