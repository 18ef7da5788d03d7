#!/usr/bin/env bash
# Scores the held-out support questions with `tessera eval --facts`: a question counts as
# answered when the expected fact (a short exact string) appears in the greedy answer (48 tokens).
# Base model vs adapted model.
#   scripts/eval_facts.sh [ADAPTER_DIR] [NP]     (defaults: out/support/adapter, 2)
set -euo pipefail
cd "$(dirname "$0")/.."
adapter=${1:-out/support/adapter}
np=${2:-2}
tessera=${TESSERA:-.build/release/tessera}
questions=examples/support/heldout_questions.jsonl
[ -f "$adapter/adapter_model.safetensors" ] || { echo "no adapter at $adapter (run scripts/demo.sh first)" >&2; exit 1; }
system="You are the support assistant of Thistlewhorl Kiteworks."
count() {
  scripts/mpirun.sh -np "$np" "$tessera" eval --facts "$questions" --system "$system" --max-tokens 48 --json "$@" |
    python3 -c "import json, sys; d = json.load(sys.stdin); print(d['correct'], d['total'])"
}
base=$(count)
adapted=$(count --adapter "$adapter")
read -r b n <<< "$base"
read -r t _ <<< "$adapted"
python3 -c 'import sys; b, t, n = map(int, sys.argv[1:]); print(f"held-out facts answered (exact string match in a greedy answer): base {b}/{n} ({100*b/n:.0f}%), adapted {t}/{n} ({100*t/n:.0f}%)")' "$b" "$t" "$n"
