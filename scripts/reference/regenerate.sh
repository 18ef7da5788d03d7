#!/usr/bin/env bash
# Recreates the golden reference set from transformers + PEFT + bitsandbytes and compares it with
# the committed one (Tests/Fixtures/reference/smollm2). Not run by CI: torch is a large install.
#
#   scripts/reference/regenerate.sh [--venv DIR] [--write]
#
# --venv DIR  the scratch virtual environment (default .venv-reference, made and filled from
#             scripts/reference/requirements.txt when missing)
# --write     replace the committed fixtures with the new set (then review `git diff --stat`)
#
# Takes about 2 minutes on 2 cores once the environment exists (the install is about 6 GB).
# To hold the Swift code to a fresh set without replacing the committed one:
#   TESSERA_REFERENCE=<the printed directory> swift test ...
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.venv-reference write=0
while [ $# -gt 0 ]; do
  case "$1" in
    --venv) venv=$2; shift 2 ;;
    --write) write=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "regenerate.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
fixtures=Tests/Fixtures/reference/smollm2
model=models/SmolLM2-135M-Instruct.Q4_1.gguf
[ -f "$model" ] || SKIP_BUILD=1 scripts/setup.sh
if [ ! -x "$venv/bin/python" ]; then
  echo "[reference] making $venv (pinned versions, about 6 GB)"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/reference/requirements.txt
fi
out=$(mktemp -d)
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1   # everything is local; no hub look-ups
echo "[reference] generating into $out"
"$venv/bin/python" scripts/reference/make_reference.py --gguf "$model" --out "$out" 2>&1 \
  | grep -E '^\[make_reference\]|Error|error' || true
[ -f "$out/versions.json" ] || { echo "[reference] the generator failed"; exit 1; }
echo "[reference] comparing with $fixtures"
status=0
python3 scripts/reference/compare.py "$fixtures" "$out" || status=$?
if [ "$write" = 1 ]; then
  # Keep the hand-written READMEs; replace every generated file.
  find "$fixtures" -type f ! -name README.md -delete
  (cd "$out" && find . -type f ! -name README.md) | while read -r f; do
    mkdir -p "$fixtures/$(dirname "$f")"; cp "$out/$f" "$fixtures/$f"
  done
  echo "[reference] wrote $fixtures"
  exit 0
fi
echo "[reference] new set kept in $out"
exit $status
