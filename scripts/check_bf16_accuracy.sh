#!/usr/bin/env bash
# bf16 against fp32 on the demo job (examples/support.yaml): trains the same adapter twice, with
# --compute fp32 and --compute bf16 (AMX where present, else AVX512-BF16), and checks that every
# step's loss and the final held-out eval loss (examples/support/valid.jsonl, prompts masked, each
# adapter evaluated in its own precision) stay within 0.5% of fp32. Prints the worst differences,
# PASS/FAIL lines and `N passed, N failed[, N skipped]`.
#
#   scripts/check_bf16_accuracy.sh [--steps 50] [--np 2]
#
# A CPU with neither AMX nor AVX512-BF16 has no bf16 products: the check says so and is skipped.
set -uo pipefail
cd "$(dirname "$0")/.."
tessera=${TESSERA:-.build/release/tessera}
steps=50 np=2
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) steps=$2; shift 2 ;;
    --np) np=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "check_bf16_accuracy.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
amx=$("$tessera" info --json | python3 -c "import json, sys; print(json.load(sys.stdin)['amx'])") || exit 1
if [ "$amx" != True ] && ! grep -q avx512_bf16 /proc/cpuinfo 2>/dev/null; then
  echo "skipped (environment): bf16 accuracy: this CPU has neither AMX nor AVX512-BF16"
  echo "0 passed, 0 failed, 1 skipped"
  exit 0
fi
kernel=AVX512-BF16; [ "$amx" = True ] && kernel=AMX
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); bf16 products on $kernel; demo job, $steps steps, np $np"
for compute in fp32 bf16; do
  start=$(date +%s)
  timeout 3600 scripts/mpirun.sh -np "$np" "$tessera" train --config examples/support.yaml --steps "$steps" --eval-every "$steps" \
    --save-every "$steps" --compute "$compute" --progress log --out "$work/$compute" --overwrite > "$work/$compute.log" 2>&1 \
    || { echo "FAIL training with --compute $compute"; tail -5 "$work/$compute.log"; echo "0 passed, 1 failed"; exit 1; }
  scripts/mpirun.sh -np "$np" "$tessera" eval --data examples/support/valid.jsonl --mask-prompt --adapter "$work/$compute/adapter" \
    --compute "$compute" --json > "$work/$compute.eval.json" 2> "$work/$compute.eval.log" \
    || { echo "FAIL eval with --compute $compute"; tail -5 "$work/$compute.eval.log"; echo "0 passed, 1 failed"; exit 1; }
  echo "  $compute: $(( $(date +%s) - start )) s"
done
python3 - "$work" "$steps" <<'PY'
import json, sys
work, steps = sys.argv[1], int(sys.argv[2])
def losses(c):
    return {r["step"]: r["loss"] for r in map(json.loads, filter(str.strip, open(f"{work}/{c}/metrics.jsonl"))) if "loss" in r}
f, b = losses("fp32"), losses("bf16")
missing = [s for s in range(1, steps + 1) if s not in f or s not in b]
rel = {s: abs(b[s] - f[s]) / abs(f[s]) for s in range(1, steps + 1) if s in f and s in b}
worst = max(rel, key=rel.get)
mean = sum(rel.values()) / len(rel)
ef, eb = (json.load(open(f"{work}/{c}.eval.json"))["loss"] for c in ("fp32", "bf16"))
erel = abs(eb - ef) / ef
print(f"  step losses: first {f[1]:.4f} / {b[1]:.4f}, last {f[steps]:.4f} / {b[steps]:.4f} (fp32 / bf16); "
      f"worst relative difference {rel[worst]:.2e} at step {worst}, mean {mean:.2e}")
print(f"  held-out eval loss: fp32 {ef:.5f}, bf16 {eb:.5f} ({100 * (eb - ef) / ef:+.3f}%)")
ok1 = not missing and rel[worst] <= 0.005
ok2 = erel <= 0.005
print(("PASS" if ok1 else "FAIL") + f" every step's bf16 loss within 0.5% of fp32 ({steps} steps)")
print(("PASS" if ok2 else "FAIL") + " final held-out eval loss within 0.5% of fp32")
n = ok1 + ok2
print(f"{n} passed, {2 - n} failed")
sys.exit(0 if n == 2 else 1)
PY
