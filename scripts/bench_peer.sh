#!/usr/bin/env bash
# Tessera against the PyTorch + PEFT peer (scripts/peer/bench_peft.py) on the same LoRA training job, alternating
# in each round the peer in each --peer-autocast configuration and then tessera, then the mean tokens/s of each
# and the ratio of Tessera against the best peer configuration. Not run by CI.
#
#   scripts/bench_peer.sh [--rounds N] [--batch B] [--seq T] [--r R] [--targets q_proj,v_proj] [--threads N]
#                         [--steps S] [--peer-quant none|nf4] [--peer-autocast none|bf16|both]
#                         [--tessera-base nf4|none] [--tessera-compute fp32|bf16]
#                         [--checkpointing full|selective|none] [--out FILE.jsonl]
#
# Defaults are the issue's target job: SmolLM2-135M, batch 4 x 256, LoRA r 16 (alpha 32) on q_proj,v_proj, one
# process with one thread each (OMP_NUM_THREADS / TESSERA_BLAS_THREADS = 1), peer fp32 base, Tessera NF4 base with
# selective activation checkpointing (the configuration in which Tessera's speed and memory targets hold together;
# the peer keeps every activation, as PEFT does without gradient checkpointing).
# --peer-autocast: none = the peer computes in fp32, bf16 = under torch.autocast("cpu", bfloat16), both (default) =
# each of the two in every round (peer fp32, peer bf16, tessera). The ratio line compares Tessera with the peer
# configuration of the highest mean tokens/s, in tokens/s and in peak RSS.
# --tessera-compute is passed to tessera as --compute (fp32 sgemm or bf16 frozen linears); without it tessera
# uses its own default.
# In round 1 each peer configuration also runs one untimed step under oneDNN verbose and torch.profiler
# (bench_peft.py --kernels): the oneDNN primitives that ran (e.g. matmul brg_matmul:avx10_1_512_amx under bf16;
# none in fp32, where the linears run on MKL sgemm) and the top ops are printed after the table.
# --out appends one JSON line: the configuration, the means and ratios, and every run's full JSON result
# (the peers' oneDNN and profiler summaries included).
# Both use random token ids; both time forward + backward + AdamW per step after warm-up.
# PYTHON (default python3) must import torch, transformers and peft (install: scripts/peer/README.md); SMOLLM2_GGUF
# overrides the model path (default: models/SmolLM2-135M-Instruct.Q4_1.gguf, the file Tessera uses).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
peer_dir="$here/peer"     # the peer benchmark: scripts/peer/bench_peft.py

rounds=2 batch=4 seq=256 r=16 targets=q_proj,v_proj threads=1 steps=3 peer_quant=none tessera_base=nf4 out=""
checkpointing=selective peer_autocast=both tessera_compute=""
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
    --peer-autocast) peer_autocast=$2; shift 2 ;;
    --tessera-base) tessera_base=$2; shift 2 ;;
    --tessera-compute) tessera_compute=$2; shift 2 ;;
    --checkpointing) checkpointing=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench_peer.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$peer_autocast" in
  none|bf16) peer_configs=("$peer_autocast") ;;
  both) peer_configs=(none bf16) ;;
  *) echo "bench_peer.sh: --peer-autocast must be none, bf16 or both" >&2; exit 2 ;;
esac
case "$tessera_compute" in
  "") compute_args=() ;;
  fp32|bf16) compute_args=(--compute "$tessera_compute") ;;
  *) echo "bench_peer.sh: --tessera-compute must be fp32 or bf16" >&2; exit 2 ;;
esac
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
echo "            peer base $peer_quant, autocast ${peer_configs[*]}; tessera base $tessera_base, compute ${tessera_compute:-default}"
echo "            ($checkpointing activation checkpointing); $rounds rounds; load average $load_before"

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
  kernels=--no-kernels
  [ "$round" = 1 ] && kernels=--kernels   # the oneDNN/profiler step once per peer configuration is enough
  for ac in "${peer_configs[@]}"; do
    log="$tmp/peer-$ac-$round.log"
    label=$([ "$ac" = none ] && echo "peer fp32" || echo "peer bf16")
    echo -n "round $round  $label ... "
    if "$python" "$peer_dir/bench_peft.py" --gguf "$gguf" --quant "$peer_quant" --autocast "$ac" --threads "$threads" \
          --batch "$batch" --seq "$seq" --r "$r" --alpha $((2 * r)) --targets "$targets" --steps "$steps" $kernels \
          --tag "bench_peer round $round" >"$log" 2>&1 && j=$(last_json "$log"); then
      echo "{\"who\": \"peer\", \"autocast\": \"$ac\", \"round\": $round, \"result\": $j}" >>"$results"
      "$python" -c 'import json, sys; j = json.loads(sys.argv[1]); print("%.1f tokens/s, peak RSS %.0f MB" % (j["tokens_per_s"], j["peak_rss_MiB"] * 1.048576))' "$j"
    else
      echo "failed:"; tail -15 "$log"; exit 1
    fi
  done

  log="$tmp/tessera$round.log"
  echo -n "round $round  tessera   ... "
  if "$repo/scripts/mpirun.sh" -np 1 -x TESSERA_BLAS_THREADS -x OMP_NUM_THREADS -x OPENBLAS_NUM_THREADS \
        "$tessera" bench train --json --model "$gguf" --base-quant "$tessera_base" --batch-size "$batch" --seq-len "$seq" \
        --lora-r "$r" --lora-alpha $((2 * r)) --lora-targets "$targets" --steps "$steps" \
        --activation-checkpointing "$checkpointing" ${compute_args[@]+"${compute_args[@]}"} >"$log" 2>&1 \
      && j=$(last_json "$log"); then
    echo "{\"who\": \"tessera\", \"round\": $round, \"result\": $j}" >>"$results"
    "$python" -c 'import json, sys; j = json.loads(sys.argv[1]); print("%.1f tokens/s, peak RSS %.0f MB, MFU %.1f%%" % (j["tokens_per_s"], max(j["peak_rss_bytes_per_rank"]) / 1e6, 100 * j["mfu"]))' "$j"
  else
    echo "failed:"; tail -15 "$log"; exit 1
  fi
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || true)

"$python" - "$results" "$load_before" "$load_after" "$out" "$tessera_compute" <<'EOF'
import json, statistics, sys, time
path, before, after, out, tcompute = sys.argv[1:6]
rows = [json.loads(l) for l in open(path) if l.strip()]
names = {"none": "PyTorch + PEFT, fp32", "bf16": "PyTorch + PEFT, bf16 autocast"}
peers = {}                                      # autocast -> summary, in the order the configurations ran
for r in rows:
    if r["who"] == "peer":
        peers.setdefault(r["autocast"], {"results": []})["results"].append(r["result"])
for ac, p in peers.items():
    p["tokens_per_s"] = statistics.mean(j["tokens_per_s"] for j in p["results"])
    p["peak_rss_bytes"] = max(j["peak_rss_MiB"] * 1048576 for j in p["results"])
    k = next((j for j in p["results"] if "onednn_primitives" in j), None)
    p["kernels"] = None if k is None else {key: k.get(key) for key in
                                          ("onednn_primitives", "onednn_top_shapes", "onednn_version", "onednn_isa",
                                           "onednn_note", "top_ops", "profiled_step_ms")}
tess = [r["result"] for r in rows if r["who"] == "tessera"]
tt = statistics.mean(j["tokens_per_s"] for j in tess)
trss = max(max(j["peak_rss_bytes_per_rank"]) for j in tess)
best = max(peers, key=lambda ac: peers[ac]["tokens_per_s"])
bp = peers[best]
tname = "Tessera" + (f", compute {tcompute}" if tcompute else "")
print()
print("| | tokens/s (each round) | mean tokens/s | peak RSS MB | Tessera / this, tokens/s |")
print("|---|---|---|---|---|")
for ac, p in peers.items():
    print(f"| {names[ac]} | {', '.join('%.1f' % j['tokens_per_s'] for j in p['results'])} | {p['tokens_per_s']:.1f} "
          f"| {p['peak_rss_bytes'] / 1e6:.0f} | {tt / p['tokens_per_s']:.2f}x |")
print(f"| {tname} | {', '.join('%.1f' % j['tokens_per_s'] for j in tess)} | {tt:.1f} | {trss / 1e6:.0f} | |")
print()
print(f"ratio tessera / best peer ({names[best]}): {tt / bp['tokens_per_s']:.2f}x tokens/s, "
      f"{trss / bp['peak_rss_bytes']:.1%} of that peer's peak RSS")
for ac, p in peers.items():
    k = p["kernels"]
    if k is None:
        continue
    prims = k["onednn_primitives"] or {}
    desc = ", ".join(f"{n} x{c}" for n, c in prims.items()) if prims else "none (linears on MKL/BLAS sgemm)"
    top = ", ".join(f"{n} {ms:.0f} ms" for n, ms, _ in (k["top_ops"] or [])[:4])
    print(f"{names[ac]}: oneDNN {desc}; top ops (self CPU, one step) {top}")
print(f"load average before {before}, after {after}")
if out:
    with open(out, "a") as f:
        f.write(json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "load_before": before, "load_after": after,
                            "tessera_compute": tcompute or "default", "best_peer_autocast": best,
                            # peer_* and ratio: the best peer configuration (the only one before --peer-autocast)
                            "peer_tokens_per_s": bp["tokens_per_s"], "tessera_tokens_per_s": tt,
                            "ratio": tt / bp["tokens_per_s"], "peer_peak_rss_bytes": bp["peak_rss_bytes"],
                            "tessera_peak_rss_bytes": trss, "rss_ratio": trss / bp["peak_rss_bytes"],
                            "peers": {ac: {"tokens_per_s": p["tokens_per_s"], "peak_rss_bytes": p["peak_rss_bytes"],
                                           "ratio": tt / p["tokens_per_s"], "kernels": p["kernels"]}
                                      for ac, p in peers.items()},
                            "runs": rows}) + "\n")
EOF
