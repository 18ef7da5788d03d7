#!/usr/bin/env bash
# Checks Tessera's MLX export against mlx-lm itself (mlx[cpu] and mlx-lm from PyPI, pinned, in a
# scratch virtual environment). Not run by CI. It
#   - trains a small all-linear adapter (or takes ADAPTER_DIR), exports the base with
#     `tessera export --format hf` and the adapter with `tessera export --format mlx`;
#   - loads them with mlx_lm.load(hf_dir, adapter_path=mlx_dir) and checks that the loss of a fixed
#     chat (Tests/Fixtures/reference/smollm2/text.json, 91 tokens) matches
#     `tessera eval --adapter ADAPTER --base-quant none` within 1e-3;
#   - runs `python -m mlx_lm fuse` on the same pair and checks the fused model's loss the same way;
#   - checks the base alone (no adapter) the same way, so an adapter failure is not a base mismatch.
# Prints PASS/FAIL lines and `N passed, N failed[, N skipped]`. If mlx[cpu] does not install or run
# here, it prints `skipped (environment): ...` with the reason and exits 0.
#
#   scripts/check_mlx.sh [ADAPTER_DIR]
#
# Time on 2 cores (AMD EPYC): about 4.5 minutes from scratch (1 minute to install the venv, 2 to train
# the adapter, 1.5 for the checks); a rerun with MLX_VENV and ADAPTER_DIR takes about 1.5 minutes.
# MLX_VENV=DIR keeps the venv there (created if missing, reused if it already has the pinned
# versions); without it a temporary one is made and removed. TESSERA overrides the binary.
set -uo pipefail
cd "$(dirname "$0")/.."
mlx_version=0.32.4
mlx_lm_version=0.32.2
tolerance=1e-3
tessera=${TESSERA:-.build/release/tessera}
reference=Tests/Fixtures/reference/smollm2/text.json
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0 skipped=
pass() { echo "PASS $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
finish() { echo "$passed passed, $failed failed${skipped:+, $skipped skipped}"; [ "$failed" -eq 0 ]; exit; }
skip_env() { echo "skipped (environment): $*"; skipped=1; finish; }
[ -x "$tessera" ] || { echo "FAIL no tessera binary at $tessera (swift build -c release --product tessera)"; failed=1; finish; }

echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); python: $(python3 --version 2>&1)"
start=$(date +%s)
venv=${MLX_VENV:-$work/venv}
py=$venv/bin/python
if ! "$py" -c "import mlx.core as mx, mlx_lm, importlib.metadata as m; assert mx.__version__ == '$mlx_version' and m.version('mlx-lm') == '$mlx_lm_version'" 2>/dev/null; then
  python3 -m venv "$venv" || skip_env "python3 -m venv failed"
  if ! "$py" -m pip install -q "mlx[cpu]==$mlx_version" "mlx-lm==$mlx_lm_version" > "$work/pip.log" 2>&1; then
    reason=$(grep -m1 -E 'ERROR|error:' "$work/pip.log" || tail -1 "$work/pip.log")
    skip_env "pip install mlx[cpu]==$mlx_version mlx-lm==$mlx_lm_version failed on $(uname -m), $("$py" --version 2>&1): $reason"
  fi
fi
if ! probe=$("$py" -c "import mlx.core as mx; print(mx.default_device(), mx.sum(mx.ones(4)).item())" 2>&1); then
  skip_env "mlx[cpu]==$mlx_version installed but does not run: $(echo "$probe" | tail -1)"
fi
echo "mlx $mlx_version (device $(echo "$probe" | cut -d' ' -f1-2)), mlx-lm $mlx_lm_version, $("$py" -c 'import transformers; print("transformers", transformers.__version__)' 2>/dev/null); venv ready in $(( $(date +%s) - start )) s"

adapter=${1:-}
if [ -z "$adapter" ]; then
  t0=$(date +%s)
  "$tessera" train --data Tests/Fixtures/chat_small.jsonl --steps 20 --batch-size 4 --max-seq-len 128 --lr 2e-3 \
    --lora-r 8 --lora-targets all-linear --out "$work/run" --progress log > "$work/train.log" 2>&1 \
    || { tail -5 "$work/train.log"; fail "tessera train"; finish; }
  adapter=$work/run/adapter
  echo "trained $adapter (20 steps, r 8, all-linear) in $(( $(date +%s) - t0 )) s"
fi

python3 -c "import json; print(json.dumps({'input_ids': json.load(open('$reference'))['input_ids']}))" > "$work/ids.jsonl"
"$tessera" export --format hf --out "$work/hf" > "$work/export.log" 2>&1 || { tail -3 "$work/export.log"; fail "tessera export --format hf"; finish; }
"$tessera" export --adapter "$adapter" --format mlx --out "$work/mlx" >> "$work/export.log" 2>&1 \
  || { tail -3 "$work/export.log"; fail "tessera export --format mlx"; finish; }
tessera_loss() {  # [--adapter DIR]
  "$tessera" eval --data "$work/ids.jsonl" --base-quant none "$@" --json | python3 -c "import json, sys; print(json.load(sys.stdin)['loss'])"
}
base_loss=$(tessera_loss) || { fail "tessera eval (base)"; finish; }
adapter_loss=$(tessera_loss --adapter "$adapter") || { fail "tessera eval --adapter"; finish; }

t0=$(date +%s)
fuse_ok=1
"$py" -m mlx_lm fuse --model "$work/hf" --adapter-path "$work/mlx" --save-path "$work/fused" > "$work/fuse.log" 2>&1 || fuse_ok=0
if [ $fuse_ok = 1 ]; then pass "python -m mlx_lm fuse accepted the adapter ($(( $(date +%s) - t0 )) s)"
else tail -5 "$work/fuse.log"; fail "python -m mlx_lm fuse --model HF --adapter-path MLX"; fi

cat > "$work/loss.py" <<'EOF'
import json, sys
import mlx.core as mx
import mlx.nn as nn
from mlx_lm import load
ids = json.load(open(sys.argv[1]))["input_ids"]
model_dir, adapter_dir = sys.argv[2], (sys.argv[3] or None)
model, _ = load(model_dir, adapter_path=adapter_dir)
if adapter_dir:  # the adapter must actually be in the model: count LoRA layers
    n = sum(1 for name, m in model.named_modules() if type(m).__name__ == "LoRALinear")
    print(f"lora_layers {n}", file=sys.stderr)
x = mx.array([ids])
logits = model(x[:, :-1]).astype(mx.float32)
loss = nn.losses.cross_entropy(logits, x[:, 1:], reduction="mean")
dtype = str(model.model.embed_tokens.weight.dtype).replace("mlx.core.", "")
print(json.dumps({"loss": loss.item(), "dtype": dtype}))
EOF
compare() {  # NAME TESSERA_LOSS MODEL_DIR [ADAPTER_DIR]
  local name=$1 ref=$2 out
  if ! out=$("$py" "$work/loss.py" "$reference" "$3" "${4:-}" 2> "$work/mlx.err"); then
    tail -3 "$work/mlx.err"; fail "$name: mlx_lm could not load or run it"; return
  fi
  grep -h lora_layers "$work/mlx.err" | sed 's/^/  /'
  python3 - "$name" "$ref" "$out" "$tolerance" <<'EOF'
import json, sys
name, ref, out, tol = sys.argv[1], float(sys.argv[2]), json.loads(sys.argv[3]), float(sys.argv[4])
d = abs(out["loss"] - ref)
print(f"{'PASS' if d <= tol else 'FAIL'} {name}: mlx-lm loss {out['loss']:.6f} ({out['dtype']}) vs tessera {ref:.6f}: "
      f"difference {d:.2e} (tolerance {tol:g})")
sys.exit(0 if d <= tol else 1)
EOF
  if [ $? -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}
compare "base (hf export, no adapter)" "$base_loss" "$work/hf"
compare "mlx_lm.load(hf, adapter_path=mlx)" "$adapter_loss" "$work/hf" "$work/mlx"
[ $fuse_ok = 1 ] && compare "fused model (mlx_lm fuse)" "$adapter_loss" "$work/fused"
python3 -c "print(f'adapter moves the tessera loss by {$adapter_loss - $base_loss:+.4f} ($base_loss -> $adapter_loss)')"
echo "total $(( $(date +%s) - start )) s"
finish
