#!/usr/bin/env bash
# Tessera against the PyTorch + PEFT peer (scripts/peer/bench_peft.py) on the same LoRA training job, alternating
# peer, tessera, peer, tessera, ... in one run, then the mean tokens/s of each and the ratio. Not run by CI.
#
#   scripts/bench_peer.sh [--rounds N] [--batch B] [--seq T] [--r R] [--targets q_proj,v_proj] [--threads N]
#                         [--steps S] [--peer-quant none|nf4] [--tessera-base nf4|none]
#                         [--checkpointing full|selective|none] [--out FILE.jsonl]
#
# Defaults are the issue's target job: SmolLM2-135M, batch 4 x 256, LoRA r 16 (alpha 32) on q_proj,v_proj, one
# process with one thread each (OMP_NUM_THREADS / TESSERA_BLAS_THREADS = 1), peer fp32 base, Tessera NF4 base with
# selective activation checkpointing (the configuration in which Tessera's speed and memory targets hold together;
# the peer keeps every activation, as PEFT does without gradient checkpointing).
# Both use random token ids; both time forward + backward + AdamW per step after warm-up.
# PYTHON (default python3) must import torch, transformers and peft (install: scripts/peer/README.md); SMOLLM2_GGUF
# overrides the model path (default: models/SmolLM2-135M-Instruct.Q4_1.gguf, the file Tessera uses).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
peer_dir="$here/peer"     # the peer benchmark: scripts/peer/bench_peft.py

rounds=2 batch=4 seq=256 r=16 targets=q_proj,v_proj threads=1 steps=3 peer_quant=none tessera_base=nf4 out=""
checkpointing=selective
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --seq|--seq-len) seq=$2; shift 2 ;;
    --r) r=$2; shift 2 ;;
    --targets) targets=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --peer-quant) peer_quant=$2; shift 2 ;;
    --tessera-base) tessera_base=$2; shift 2 ;;
    --checkpointing) checkpointing=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench_peer.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
python=${PYTHON:-python3}

if ! "$python" -c "import torch, transformers, peft" >/dev/null 2>&1; then
  cat <<EOF
bench_peer.sh: the PyTorch + PEFT peer cannot run: '$python' cannot import torch, transformers and peft.
Install them from PyPI (in a virtual environment if you like), then run this script again:

    python3 -m venv ~/peer && . ~/peer/bin/activate
    pip install -r $peer_dir/requirements.txt

The default PyPI torch wheel for Linux is large: it pulls the CUDA libraries (about 6 GB on disk) even though
the peer runs on the CPU only. Point PYTHON=/path/to/python at the environment if it is not first on the PATH.
See $peer_dir/README.md. Skipping the comparison (this is not an error; CI does not run it).
EOF
  exit 0
fi

tessera="$repo/.build/release/tessera"
[ -x "$tessera" ] || { echo "bench_peer.sh: $tessera missing; build it with: swift build -c release --product tessera" >&2; exit 1; }
gguf=${SMOLLM2_GGUF:-$repo/models/SmolLM2-135M-Instruct.Q4_1.gguf}
[ -f "$gguf" ] || { echo "bench_peer.sh: no model at $gguf (run scripts/setup.sh, or set SMOLLM2_GGUF)" >&2; exit 1; }

export OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads MKL_NUM_THREADS=$threads TESSERA_BLAS_THREADS=$threads
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
results="$tmp/results.jsonl"
: >"$results"
load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || true)
echo "bench_peer: batch $batch x $seq, LoRA r $r (alpha $((2 * r))) on $targets, 1 process x $threads thread(s), $steps timed steps;"
echo "            peer base $peer_quant, tessera base $tessera_base ($checkpointing activation checkpointing); $rounds rounds; load average $load_before"

last_json() {  # the last JSON object in a log: a one-line {...} or a pretty-printed block
  "$python" - "$1" <<'EOF'
import json, sys
t = open(sys.argv[1]).read()
for line in reversed(t.splitlines()):
    line = line.strip()
    if line.startswith("{") and line.endswith("}"):
        try:
            print(json.dumps(json.loads(line))); sys.exit(0)
        except ValueError:
            pass
try:
    print(json.dumps(json.loads(t[t.rindex("\n{") + 1 if "\n{" in t else t.index("{"):t.rindex("}") + 1])))
except ValueError:
    sys.exit(1)
EOF
}

for ((round = 1; round <= rounds; round++)); do
  log="$tmp/peer$round.log"
  echo -n "round $round  peer    ... "
  if "$python" "$peer_dir/bench_peft.py" --gguf "$gguf" --quant "$peer_quant" --threads "$threads" \
        --batch "$batch" --seq "$seq" --r "$r" --alpha $((2 * r)) --targets "$targets" --steps "$steps" \
        --tag "bench_peer round $round" >"$log" 2>&1 && j=$(last_json "$log"); then
    echo "{\"who\": \"peer\", \"round\": $round, \"result\": $j}" >>"$results"
    "$python" -c 'import json, sys; j = json.loads(sys.argv[1]); print("%.1f tokens/s, peak RSS %.0f MB" % (j["tokens_per_s"], j["peak_rss_MiB"] * 1.048576))' "$j"
  else
    echo "failed:"; tail -15 "$log"; exit 1
  fi

  log="$tmp/tessera$round.log"
  echo -n "round $round  tessera ... "
  if "$repo/scripts/mpirun.sh" -np 1 -x TESSERA_BLAS_THREADS -x OMP_NUM_THREADS -x OPENBLAS_NUM_THREADS \
        "$tessera" bench train --json --model "$gguf" --base-quant "$tessera_base" --batch-size "$batch" --seq-len "$seq" \
        --lora-r "$r" --lora-alpha $((2 * r)) --lora-targets "$targets" --steps "$steps" \
        --activation-checkpointing "$checkpointing" >"$log" 2>&1 \
      && j=$(last_json "$log"); then
    echo "{\"who\": \"tessera\", \"round\": $round, \"result\": $j}" >>"$results"
    "$python" -c 'import json, sys; j = json.loads(sys.argv[1]); print("%.1f tokens/s, peak RSS %.0f MB, MFU %.1f%%" % (j["tokens_per_s"], max(j["peak_rss_bytes_per_rank"]) / 1e6, 100 * j["mfu"]))' "$j"
  else
    echo "failed:"; tail -15 "$log"; exit 1
  fi
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || true)

"$python" - "$results" "$load_before" "$load_after" "$out" <<'EOF'
import json, statistics, sys, time
path, before, after, out = sys.argv[1:5]
rows = [json.loads(l) for l in open(path) if l.strip()]
peer = [r["result"] for r in rows if r["who"] == "peer"]
tess = [r["result"] for r in rows if r["who"] == "tessera"]
pt = statistics.mean(j["tokens_per_s"] for j in peer)
tt = statistics.mean(j["tokens_per_s"] for j in tess)
prss = max(j["peak_rss_MiB"] * 1048576 for j in peer)
trss = max(max(j["peak_rss_bytes_per_rank"]) for j in tess)
print()
print("| | tokens/s (each round) | mean tokens/s | peak RSS MB |")
print("|---|---|---|---|")
print(f"| PyTorch + PEFT | {', '.join('%.1f' % j['tokens_per_s'] for j in peer)} | {pt:.1f} | {prss / 1e6:.0f} |")
print(f"| Tessera | {', '.join('%.1f' % j['tokens_per_s'] for j in tess)} | {tt:.1f} | {trss / 1e6:.0f} |")
print()
print(f"ratio tessera / peer: {tt / pt:.2f}x tokens/s, {trss / prss:.1%} of the peer's peak RSS")
print(f"load average before {before}, after {after}")
if out:
    with open(out, "a") as f:
        f.write(json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "load_before": before, "load_after": after,
                            "peer_tokens_per_s": pt, "tessera_tokens_per_s": tt, "ratio": tt / pt,
                            "peer_peak_rss_bytes": prss, "tessera_peak_rss_bytes": trss, "runs": rows}) + "\n")
EOF
