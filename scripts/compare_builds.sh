#!/usr/bin/env bash
# Behaviour-preserving changes (docs/architecture.md): the same training jobs with two builds of
# tessera must give the same per-step losses (train and eval, metrics.jsonl), byte-identical
# adapters and the same `eval --adapter` loss, on every mesh given.
#   scripts/compare_builds.sh OLD_TESSERA NEW_TESSERA ["np tp" ...]   (default meshes: 1 1, 2 2, 3 3, 2 1, 4 2, 3 1)
# Build the old one from a worktree: git worktree add ../old REV && (cd ../old && swift build -c release --product tessera)
# Prints one line per mesh and `N passed, N failed`.
set -uo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: $0 OLD_TESSERA NEW_TESSERA [\"np tp\" ...]" >&2; exit 2; }
old=$1 new=$2
shift 2
meshes=("$@")
[ ${#meshes[@]} -eq 0 ] && meshes=("1 1" "2 2" "3 3" "2 1" "4 2" "3 1")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
data=Tests/Fixtures/chat_small.jsonl
job=(train --data "$data" --steps 4 --batch-size 6 --max-seq-len 64 --lr 1e-3 --lora-r 4
     --lora-targets q_proj,k_proj,v_proj,o_proj,down_proj,gate_proj --seed 3 --schedule constant
     --eval-every 2 --progress log --overwrite)
passed=0 failed=0
for mesh in "${meshes[@]}"; do
  set -- $mesh
  np=$1 tp=$2 ok=1
  for which in old new; do
    bin=${!which} out="$work/$which-$np-$tp"
    scripts/mpirun.sh -np "$np" "$bin" "${job[@]}" --tp "$tp" --out "$out" > "$out.log" 2>&1 \
      || { echo "FAIL np $np tp $tp: $which build's training failed"; tail -3 "$out.log"; ok=0; }
    scripts/mpirun.sh -np "$np" "$bin" eval --data "$data" --adapter "$out/adapter" --json > "$out.eval.json" 2>/dev/null \
      || { echo "FAIL np $np tp $tp: $which build's eval failed"; ok=0; }
  done
  if [ "$ok" = 1 ] && python3 - "$work/old-$np-$tp" "$work/new-$np-$tp" "$np" "$tp" <<'PY'
import hashlib, json, os, sys
a, b, np_, tp = sys.argv[1:]
def losses(d):
    return [(r.get("step"), r.get("loss"), r.get("eval_loss")) for r in map(json.loads, open(os.path.join(d, "metrics.jsonl")))]
def digest(d):
    return hashlib.sha256(open(os.path.join(d, "adapter", "adapter_model.safetensors"), "rb").read()).hexdigest()
ea, eb = (json.load(open(d + ".eval.json"))["loss"] for d in (a, b))
same = losses(a) == losses(b) and digest(a) == digest(b) and ea == eb
print(f"{'PASS' if same else 'FAIL'} np {np_} tp {tp}: losses {'identical' if losses(a) == losses(b) else 'differ'}, "
      f"adapter {'identical' if digest(a) == digest(b) else 'differs'}, eval --adapter {ea!r} vs {eb!r}")
sys.exit(0 if same else 1)
PY
  then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
