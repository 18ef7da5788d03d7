#!/usr/bin/env bash
# TensorBoard logs (issue 20, item 4): `tessera train` writes event files in OUT/tensorboard; the
# `tensorboard` package's own reader (EventAccumulator, from PyPI in a scratch virtual
# environment) reads them back, and every scalar equals metrics.jsonl (as float32). Also after a
# stop and --resume: the event files are rewritten, so each step appears once. Prints PASS/FAIL and
# `N passed, N failed[, N skipped]`. About 1 minute (most of it the pip install).
set -uo pipefail
cd "$(dirname "$0")/.."
tessera=${TESSERA:-.build/release/tessera}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
venv=${TENSORBOARD_VENV:-$work/venv}
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import tensorboard" 2> /dev/null; then
  if ! { python3 -m venv "$venv" && "$venv/bin/pip" install --quiet --disable-pip-version-check tensorboard==2.20.0; } > "$work/pip.log" 2>&1; then
    echo "skipped (environment): cannot install tensorboard from PyPI: $(tail -1 "$work/pip.log")"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
  fi
fi
passed=0
failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
model=$work/model
source scripts/lib/tiny_sentencepiece_model.sh
make_tiny_sentencepiece_model "$model" mistral-7b-instruct-v0.2 --kv-heads 2
job=(train --model "$model" --data Tests/Fixtures/chat_small.jsonl --steps 6 --batch-size 4 --max-seq-len 64 --lr 1e-2
     --lora-r 4 --eval-every 2 --progress log --compute fp32)
compare() {   # run directory: every scalar equals metrics.jsonl, steps 1..6 once each
  "$venv/bin/python" - "$1" <<'PY'
import json, sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
run = sys.argv[1]
rows = [json.loads(l) for l in open(run + "/metrics.jsonl") if l.strip()]
ea = EventAccumulator(run + "/tensorboard")
ea.Reload()
tags = {"loss": "train/loss", "lr": "train/learning_rate", "grad_norm": "train/grad_norm",
        "tokens_per_s": "train/tokens_per_s", "epoch": "train/epoch", "eval_loss": "eval/loss"}
for key, tag in tags.items():
    expected = [(r["step"], r[key]) for r in rows if key in r]
    got = [(e.step, e.value) for e in ea.Scalars(tag)]
    assert [s for s, _ in got] == [s for s, _ in expected], (tag, got, expected)
    for (_, a), (_, b) in zip(got, expected):
        assert abs(a - b) <= 1e-6 * max(1.0, abs(b)), (tag, a, b)
assert [r["step"] for r in rows] == list(range(1, 7)), [r["step"] for r in rows]
print(f"  {len(rows)} steps, {sum(len(ea.Scalars(t)) for t in tags.values())} scalars equal metrics.jsonl")
PY
}
if "$tessera" "${job[@]}" --out "$work/run" > "$work/run.log" 2>&1 && compare "$work/run"; then
  pass "tensorboard reads every scalar of a run, equal to metrics.jsonl"
else
  fail "a run's event files: $(tail -3 "$work/run.log")"
fi
if "$tessera" "${job[@]}" --out "$work/resumed" --stop-after 3 > "$work/resumed.log" 2>&1 \
   && "$tessera" "${job[@]}" --out "$work/resumed" --resume >> "$work/resumed.log" 2>&1 && compare "$work/resumed" \
   && [ "$(ls "$work/resumed/tensorboard" | wc -l)" -eq 1 ]; then
  pass "after a stop and --resume: one event file, each step once"
else
  fail "resumed run's event files: $(tail -3 "$work/resumed.log")"
fi
if "$tessera" "${job[@]}" --steps 2 --out "$work/off" --report-to none > /dev/null 2>&1 && [ ! -e "$work/off/tensorboard" ]; then
  pass "--report-to none writes no event files"
else
  fail "--report-to none"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
