#!/usr/bin/env bash
# Strong and weak scaling of `tessera bench train` over process meshes, with a CSV, a markdown table and SVG plots.
#
#   scripts/bench_scaling.sh [--hostfile FILE] [--max-np N] [--steps S] [--seq-len T] [--batch B]
#                            [--max-tp K] [--rounds R] [--out DIR] [-- extra bench-train flags, e.g. --base-quant none]
#
# For np = 1, 2, ... up to --max-np (default: nproc, or the sum of the hostfile's slots) it runs
#   strong scaling: global batch fixed at B;
#   weak scaling:   per-model-copy batch fixed at B, global batch = B x dp;
# on every mesh that fits: dp-only (tp 1 x dp np), tp-only (tp np x dp 1, only while np <= K, default 9, the
# attention heads of SmolLM2-135M) and mixed (tp x dp with 1 < tp < np, tp <= K, e.g. tp 2 x dp 2 at np 4). A dp-only run
# needs a batch that splits over dp; strong-scaling meshes where B % dp != 0 are skipped (and listed).
# One BLAS thread per rank (TESSERA_BLAS_THREADS=1, forwarded to remote hosts with mpirun -x).
# --rounds R (default 1) measures every mesh R times, round after round (the meshes alternate, so a slow spell of
# the machine hits them alike); tables then give the mean tokens/s, and the speedup's range over the rounds
# (each round's run against the same round's 1-rank run).
#
# Output, in bench/results/<YYYY-MM-DDTHHMM>/ (or --out DIR):
#   runs.jsonl    one line per run: the mesh/mode labels plus bench train's JSON
#   scaling.csv   mode, mesh, np, tp, dp, batch, seq_len, tokens_per_s, speedup, efficiency, mfu, RSS, sync ms,
#                 rounds, speedup range
#   scaling.md    the same as a markdown table, with the machine, its load average and the commands
#   *.svg         plots by scripts/plot_scaling.py
# Speedup = tokens/s over the 1-rank tokens/s (same seq_len, batch B); efficiency = speedup / np (for weak scaling
# this is the per-rank throughput relative to one rank, i.e. 1-rank step time / np-rank step time for dp meshes).
set -euo pipefail
cd "$(dirname "$0")/.."

hostfile="" max_np="" steps=2 seq_len=128 batch=4 max_tp=9 rounds=1 out="" extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --hostfile) hostfile=$2; shift 2 ;;
    --max-np) max_np=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --seq-len) seq_len=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --max-tp) max_tp=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench_scaling.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

tessera=.build/release/tessera
[ -x "$tessera" ] || { echo "bench_scaling.sh: $tessera missing; build it with: swift build -c release --product tessera" >&2; exit 1; }
command -v python3 >/dev/null || { echo "bench_scaling.sh: python3 is needed for the tables and plots" >&2; exit 1; }

# How many ranks: the hostfile's slots (a line without slots= counts 1), else the local cores.
if [ -n "$hostfile" ]; then
  [ -f "$hostfile" ] || { echo "bench_scaling.sh: no hostfile $hostfile" >&2; exit 1; }
  slots=$(awk '!/^[[:space:]]*(#|$)/ { n = 1; for (i = 2; i <= NF; i++) if ($i ~ /^(slots|max_slots)=/) { split($i, a, "="); n = a[2]; break } ; s += n } END { print s + 0 }' "$hostfile")
else
  slots=$(nproc)
fi
[ -n "$max_np" ] || max_np=$slots
[ "$max_np" -ge 1 ] || { echo "bench_scaling.sh: --max-np must be >= 1" >&2; exit 2; }
[ "$rounds" -ge 1 ] || { echo "bench_scaling.sh: --rounds must be >= 1" >&2; exit 2; }

[ -n "$out" ] || out="bench/results/$(date +%Y-%m-%dT%H%M)"
mkdir -p "$out"
runs="$out/runs.jsonl"
: >"$runs"
skipped="$out/.skipped"
: >"$skipped"

mpi=(scripts/mpirun.sh)
[ -n "$hostfile" ] && mpi+=(--hostfile "$hostfile")
mpi+=(-x TESSERA_BLAS_THREADS=1 -x OPENBLAS_NUM_THREADS=1 -x OMP_NUM_THREADS=1)
export TESSERA_BLAS_THREADS=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)
echo "bench_scaling: np 1..$max_np (slots $slots), steps $steps, seq $seq_len, batch $batch, rounds $rounds; load $load_before; -> $out"

# One measurement per distinct (np, tp, global batch); strong/weak rows that share a configuration reuse it.
declare -A done_json
run() {  # mode mesh np tp batch
  local mode=$1 mesh=$2 np=$3 tp=$4 b=$5 key="$3/$4/$5" json log
  if [ -z "${done_json[$key]:-}" ]; then
    log="$out/.run-np$np-tp$tp-b$b.log"
    echo "  round $round  np $np  tp $tp  dp $((np / tp))  batch $b ..." >&2
    if "${mpi[@]}" -np "$np" "$tessera" bench train --json --tp "$tp" --batch-size "$b" --seq-len "$seq_len" \
         --steps "$steps" ${extra[@]+"${extra[@]}"} >"$log" 2>&1; then
      json=$(python3 -c 'import sys, json; t = open(sys.argv[1]).read(); print(json.dumps(json.loads(t[t.index("{"):t.rindex("}") + 1])))' "$log" 2>/dev/null || true)
    else
      json=""
    fi
    if [ -z "$json" ]; then
      echo "    failed (log: $log):" >&2; tail -5 "$log" | sed 's/^/      /' >&2
      json='{"error": "run failed"}'
    else
      rm -f "$log"
      python3 -c 'import sys, json; j = json.loads(sys.argv[1]); print("    %.1f tokens/s, MFU %.1f%%" % (j["tokens_per_s"], 100 * j["mfu"]))' "$json" >&2
    fi
    done_json[$key]=$json
  fi
  printf '{"round": %d, "mode": "%s", "mesh": "%s", "np": %d, "tp_requested": %d, "global_batch": %d, "result": %s}\n' \
    "$round" "$mode" "$mesh" "$np" "$tp" "$b" "${done_json[$key]}" >>"$runs"
}

for ((round = 1; round <= rounds; round++)); do
: >"$skipped"
done_json=()
for ((np = 1; np <= max_np; np++)); do
  for ((tp = 1; tp <= np; tp++)); do
    [ $((np % tp)) -eq 0 ] || continue
    [ "$tp" -le "$max_tp" ] || continue
    dp=$((np / tp))
    if [ "$np" -eq 1 ]; then mesh=single; elif [ "$tp" -eq 1 ]; then mesh=dp; elif [ "$dp" -eq 1 ]; then mesh=tp; else mesh=mixed; fi
    if [ $((batch % dp)) -eq 0 ]; then run strong "$mesh" "$np" "$tp" "$batch"
    else echo "strong np $np tp $tp dp $dp: batch $batch does not split over dp $dp" >>"$skipped"; fi
    run weak "$mesh" "$np" "$tp" $((batch * dp))
  done
done
done

load_after=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)
cmdline="scripts/bench_scaling.sh${hostfile:+ --hostfile $hostfile} --max-np $max_np --steps $steps --seq-len $seq_len --batch $batch$([ "$rounds" -gt 1 ] && echo " --rounds $rounds")${extra[*]:+ -- ${extra[*]}}"

python3 - "$out" "$load_before" "$load_after" "$cmdline" "$slots" "${hostfile:-}" <<'EOF'
import csv, json, os, platform, subprocess, sys
out, load_before, load_after, cmdline, slots, hostfile = sys.argv[1:7]
runs = [json.loads(l) for l in open(os.path.join(out, "runs.jsonl")) if l.strip()]
# Rounds: the same (mode, mesh, np, tp, batch) measured once per round; rows show the mean over the rounds
# that succeeded, and the range of the per-round speedup (against the same round's 1-rank run).
bases = {r.get("round", 1): r["result"] for r in runs if r["np"] == 1 and "tokens_per_s" in r["result"]}
groups = {}
for r in runs:
    groups.setdefault((r["mode"], r["mesh"], r["np"], r["tp_requested"], r["global_batch"]), []).append(r)
base_runs = [b for b in bases.values()]
base = dict(base_runs[0], tokens_per_s=sum(b["tokens_per_s"] for b in base_runs) / len(base_runs)) if base_runs else None
rows = []
for group in groups.values():
    r = group[0]
    good = [g for g in group if "tokens_per_s" in g["result"]]
    j = dict(good[0]["result"]) if good else r["result"]
    ok = bool(good)
    if ok:
        for key in ("tokens_per_s", "mfu", "seconds_per_step", "gradient_sync_seconds_per_step"):
            if all(key in g["result"] for g in good):
                j[key] = sum(g["result"][key] for g in good) / len(good)
    tps = j.get("tokens_per_s")
    speedup = tps / base["tokens_per_s"] if ok and base else None
    per_round = [g["result"]["tokens_per_s"] / bases[g.get("round", 1)]["tokens_per_s"]
                 for g in good if g.get("round", 1) in bases]
    rss = j.get("peak_rss_bytes_per_rank") or []
    sync = j.get("gradient_sync_seconds_per_step")
    tp = j.get("tp", r["tp_requested"])
    rows.append({
        "mode": r["mode"], "mesh": r["mesh"], "np": r["np"], "tp": tp, "dp": j.get("dp", r["np"] // tp),
        "batch": r["global_batch"], "seq_len": j.get("seq_len", ""),
        "tokens_per_s": f"{tps:.2f}" if ok else "",
        "speedup": f"{speedup:.3f}" if speedup is not None else "",
        "efficiency": f"{speedup / r['np']:.3f}" if speedup is not None else "",
        "mfu": f"{j['mfu']:.4f}" if ok else "",
        "peak_rss_mb_max": f"{max(rss) / 1e6:.1f}" if rss else "",
        "peak_rss_mb_min": f"{min(rss) / 1e6:.1f}" if rss else "",
        "sync_ms": f"{1000 * sync:.2f}" if sync is not None else "",
        "seconds_per_step": f"{j['seconds_per_step']:.3f}" if ok else "",
        "status": "ok" if ok else "failed",
        "rounds": len(good),
        "speedup_min": f"{min(per_round):.3f}" if per_round else "",
        "speedup_max": f"{max(per_round):.3f}" if per_round else "",
    })
fields = list(rows[0].keys()) if rows else []
with open(os.path.join(out, "scaling.csv"), "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=fields)
    w.writeheader()
    w.writerows(rows)

def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:
        return ""
cpu = sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-").strip() or platform.processor()
commit = sh("git rev-parse --short HEAD")


def checkpointing(value):
    """bench train reports the mode's name (older runs: true / false)."""
    return {True: "full", False: "none"}.get(value, value) if isinstance(value, bool) else str(value)


first = base or {}
lines = [
    f"# Tessera scaling, {os.path.basename(out.rstrip('/'))}",
    "",
    f"- machine: {platform.node()}, {os.cpu_count()} cores ({cpu}), "
    + (f"hostfile `{hostfile}` ({slots} slots)" if hostfile else "one host"),
    f"- load average (1/5/15 min) before: {load_before}; after: {load_after}",
    f"- tessera {commit}, base {first.get('base', '?')}, activation checkpointing "
    f"{checkpointing(first.get('activation_checkpointing', 'full'))}, one BLAS thread per rank "
    f"(BLAS core {first.get('blas_core', '?')}, element-wise kernels {first.get('kernels', '?')}), "
    f"sgemm peak {first.get('peak_gflops_per_rank', 0):.0f} GFLOP/s per rank",
    f"- command: `{cmdline}`",
    "- strong: global batch fixed; weak: batch per model copy fixed (global = batch × dp). "
    "speedup = tokens/s ÷ 1-rank tokens/s; efficiency = speedup ÷ ranks. RSS = peak per rank (max / min over ranks); "
    "sync = gradient reduction left after the backward (TP partial + DP allReduce) per step."
    + (f" Rounds: {max(r['rounds'] for r in rows)}, the meshes alternating; tokens/s, MFU and sync are means, "
       "the speedup is mean over mean with its range over the rounds (each against the same round's 1 rank)."
       if rows and max(r["rounds"] for r in rows) > 1 else ""),
    "",
    "| mode | mesh | ranks | tp × dp | batch × seq | tokens/s | speedup | efficiency | MFU | peak RSS MB max / min | sync ms |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
]
for r in rows:
    if r["status"] != "ok":
        lines.append(f"| {r['mode']} | {r['mesh']} | {r['np']} | {r['tp']} × {r['dp']} | {r['batch']} × {r['seq_len']} | failed | | | | | |")
        continue
    lines.append(
        f"| {r['mode']} | {r['mesh']} | {r['np']} | {r['tp']} × {r['dp']} | {r['batch']} × {r['seq_len']} "
        f"| {float(r['tokens_per_s']):.1f} | {float(r['speedup']):.2f}×"
        + (f" ({float(r['speedup_min']):.2f}–{float(r['speedup_max']):.2f})" if r["rounds"] > 1 and r["speedup_min"] else "")
        + f" | {100 * float(r['efficiency']):.0f}% "
        f"| {100 * float(r['mfu']):.1f}% | {r['peak_rss_mb_max']} / {r['peak_rss_mb_min']} | {r['sync_ms'] or '–'} |")
skipped = [l.strip() for l in open(os.path.join(out, ".skipped")) if l.strip()]
if skipped:
    lines += ["", "Skipped: " + "; ".join(skipped) + "."]
lines += ["", "Plots: `tokens_per_s.svg`, `efficiency.svg`, `memory_vs_tp.svg` (scripts/plot_scaling.py)."]
open(os.path.join(out, "scaling.md"), "w").write("\n".join(lines) + "\n")
EOF
rm -f "$skipped"

python3 scripts/plot_scaling.py "$out/scaling.csv" "$out"
echo "bench_scaling: load after $load_after"
cat "$out/scaling.md"
