#!/usr/bin/env bash
# Collectives and training steps across two hosts over a shaped link, against the α-β model of
# `tessera plan` calibrated from the same link (issue 19, item 5; docs/scaling.md).
#
#   scripts/shaped_link_bench.sh [--rates "none 10gbit 1gbit"] [--out DIR]
#
# Two hosts on one machine (network namespaces joined by a veth pair, scripts/lib/two_hosts.sh).
# For each rate, both ends of the veth pair get a token-bucket qdisc (`tc qdisc replace dev veth-X
# root tbf rate R burst B latency 400ms`; "none" leaves the link as veth is), then:
#   1. `bench collectives` (1 K to 16 M floats) with one rank per host (np 2): α is half the 1 K-float
#      allReduce time (a 2-rank ring pays 2 latencies), β the bandwidth of the largest allReduce
#      once 2α is taken off; every size is then predicted by `CapacityPlanner.ringAllReduceSeconds` and compared;
#   2. `bench train` with dp 2 across the hosts (np 2) and with tp 2 inside each host × dp 2 across
#      (np 4), LoRA r 64 on all linears (a 78 MB gradient, so the link matters), batch 2 × 128, 4 steps,
#      the DP allReduce not overlapped (`--no-overlap-reduction`) so its time is measured alone;
#      compared with `tessera plan --nodes 2 ... --network-gbps β --latency-us α`'s data-parallel
#      seconds (at tp 2 the measured sync also holds the small gradA allReduce inside a host).
# Writes DIR/{collectives,collectives-gradient,train-np2,train-np4,plan-np2,plan-np4}-RATE.json and
# DIR/summary.md
# (default DIR: bench/results/DATE-shaped-links). Needs root, sshd and tc; takes 5-10 minutes.
# The kernel must have the tbf qdisc; a delay (netem) is not used: it is missing in some kernels
# (this project's CI machines among them), and α is measured rather than set.
set -uo pipefail
skip() { echo "cannot run ($1): $2"; exit 1; }
source "$(dirname "$0")/lib/two_hosts.sh"
command -v tc > /dev/null || skip set-up "no tc (iproute2)"

rates="none 10gbit 1gbit"
out=bench/results/$(date -u +%Y-%m-%dT%H%M)-shaped-links
while [ $# -gt 0 ]; do
  case "$1" in
    --rates) rates=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: $0 [--rates \"none 10gbit 1gbit\"] [--out DIR]"; exit 2 ;;
  esac
done
mkdir -p "$out"
two_hosts_up || exit 1
printf '%s slots=1\n%s slots=1\n' "$addr_a" "$addr_b" > "$work/hostfile2"
printf '%s slots=2\n%s slots=2\n' "$addr_a" "$addr_b" > "$work/hostfile4"
model=models/SmolLM2-135M-Instruct.Q4_1.gguf
job=(--model "$model" --batch-size 2 --seq-len 128 --lora-r 64 --lora-targets all-linear --steps 4 --peak-seconds 0.1)

shape() {   # rate: both directions of the link
  local side ns
  for side in a b; do
    ns=$na; [ "$side" = b ] && ns=$nb
    if [ "$1" = none ]; then ip netns exec "$ns" tc qdisc del dev "veth-$side" root 2> /dev/null || true
    else
      # Burst: 1 ms of the rate, at least 64 KB (a whole TCP segment train fits).
      local burst
      burst=$(python3 -c "import re, sys; n, u = re.fullmatch(r'([0-9.]+)([kmg]?)bit', sys.argv[1]).groups(); print(max(65536, int(float(n) * {'': 1, 'k': 1e3, 'm': 1e6, 'g': 1e9}[u] / 8 / 1000)))" "$1") \
        || { echo "rate '$1': use tc's form, e.g. 10gbit, 500mbit"; return 1; }
      # Queue: 400 ms of traffic. With 50 ms, tbf dropped TCP segments of large messages and the
      # backoff made a 74.5 MiB allReduce at 1 Gbit/s take 1.0 s against 0.67 s (linear in size
      # from 64 MiB) with the deeper queue: the α-β model is about bandwidth, not about loss.
      ip netns exec "$ns" tc qdisc replace dev "veth-$side" root tbf rate "$1" burst "$burst" latency 400ms || return 1
    fi
  done
}

for rate in $rates; do
  echo "== link: $rate"
  shape "$rate" || { echo "tc could not shape the link to $rate"; exit 1; }
  mpi_across 2 "$work/hostfile2"
  ip netns exec "$na" timeout 600 "${mpi[@]}" "$tessera" bench collectives --max-floats 16777216 --json - \
    > "$out/collectives-$rate.json" 2> "$work/err" || { tail "$work/err"; exit 1; }
  read -r alpha beta < <(python3 - "$out/collectives-$rate.json" <<'PY'
import json, sys
rows = [r for r in json.load(open(sys.argv[1]))["results"] if r["operation"] == "allReduce"]
small, large = min(rows, key=lambda r: r["floats"]), max(rows, key=lambda r: r["floats"])
alpha = small["latency_us"] / 2 * 1e-6                     # 2 ranks: 2(p-1) = 2 latencies
beta = large["bytes"] / (large["latency_us"] * 1e-6 - 2 * alpha)   # 2(p-1)/p = 1 of the bytes
print(alpha, beta)
PY
)
  echo "  alpha $alpha s, beta $beta B/s"
  ip netns exec "$na" timeout 900 "${mpi[@]}" "$tessera" bench train "${job[@]}" --no-overlap-reduction --json \
    > "$out/train-np2-$rate.json" 2> "$work/err" || { tail "$work/err"; exit 1; }
  mpi_across 4 "$work/hostfile4"
  ip netns exec "$na" timeout 900 "${mpi[@]}" "$tessera" bench train "${job[@]}" --tp 2 --no-overlap-reduction --json \
    > "$out/train-np4-$rate.json" 2> "$work/err" || { tail "$work/err"; exit 1; }
  gbps=$(python3 -c "print($beta * 8 / 1e9)") us=$(python3 -c "print($alpha * 1e6)")
  for np in 2 4; do
    tp=$((np / 2))
    "$tessera" plan --model "$model" --nodes 2 --ranks-per-node "$tp" --tp "$tp" --cores-per-rank 1 \
      --batch-size 2 --seq-len 128 --lora-r 64 --lora-targets all-linear --network-gbps "$gbps" --latency-us "$us" \
      --gflops-per-core "$(python3 -c "import json; print(json.load(open('$out/train-np$np-$rate.json'))['peak_gflops_per_rank'])")" \
      --json > "$out/plan-np$np-$rate.json" || exit 1
  done
  # The gradient's own allReduce alone (np 2, one rank per host), to tell the collective's time
  # from what a step adds to it (waiting for the other rank's backward).
  mpi_across 2 "$work/hostfile2"
  floats=$(python3 -c "import json; print(int(json.load(open('$out/plan-np2-$rate.json'))['plan']['step']['dp_bytes']) // 4)") || exit 1
  ip netns exec "$na" timeout 600 "${mpi[@]}" "$tessera" bench collectives --min-floats "$floats" --max-floats "$floats" --json - \
    > "$out/collectives-gradient-$rate.json" 2> "$work/err" || { tail "$work/err"; exit 1; }
done
shape none

python3 - "$out" $rates > "$out/summary.md" <<'PY'
import json, sys
out, rates = sys.argv[1], sys.argv[2:]
def ring(bytes_, p, alpha, beta): return 2 * (p - 1) * alpha + 2 * (p - 1) / p * bytes_ / beta
lines = ["# Collectives and training steps over a shaped link, against the planner's α-β model", ""]
tr = json.load(open(f"{out}/train-np2-{rates[0]}.json"))
lines += [f"CPU: `{tr['cpu']}`, kernel path `{tr['kernels']}`. Two hosts = two network namespaces on one machine, "
          "joined by a veth pair shaped with tbf; every message between ranks over TCP. "
          "Command: `scripts/shaped_link_bench.sh --rates \"" + " ".join(rates) + "\"`.", ""]
lines += ["## allReduce between the two hosts (np 2), measured against α-β calibrated from the same run", "",
          "| link | α (µs) | β (Gb/s) | floats | measured (µs) | α-β model (µs) | difference |", "|---|---|---|---|---|---|---|"]
for rate in rates:
    rows = [r for r in json.load(open(f"{out}/collectives-{rate}.json"))["results"] if r["operation"] == "allReduce"]
    small, large = min(rows, key=lambda r: r["floats"]), max(rows, key=lambda r: r["floats"])
    alpha = small["latency_us"] / 2 * 1e-6
    beta = large["bytes"] / (large["latency_us"] * 1e-6 - 2 * alpha)
    for r in rows:
        model = ring(r["bytes"], 2, alpha, beta) * 1e6
        lines.append(f"| {rate} | {alpha * 1e6:.1f} | {beta * 8 / 1e9:.2f} | {r['floats']:,} | {r['latency_us']:.0f} | {model:.0f} | {100 * (r['latency_us'] / model - 1):+.1f} % |")
lines += ["", "## Training steps: the gradient allReduce left after the backward, against `tessera plan`", "",
          "| link | mesh | step (s) | plan step (s) | gradient sync in the step (s) | the gradient's allReduce alone (s) | plan: DP allReduce (s) | sync against plan |",
          "|---|---|---|---|---|---|---|---|"]
for rate in rates:
    for np in (2, 4):
        t = json.load(open(f"{out}/train-np{np}-{rate}.json"))
        p = json.load(open(f"{out}/plan-np{np}-{rate}.json"))["plan"]
        step = p["step"]
        predicted = step["dp_seconds"]
        sync = t["gradient_sync_seconds_per_step"]
        mesh = f"tp {t['tp']} × dp {t['dp']}"
        alone = ""
        if np == 2:
            g = [r for r in json.load(open(f"{out}/collectives-gradient-{rate}.json"))["results"] if r["operation"] == "allReduce"][0]
            alone = f"{g['latency_us'] / 1e6:.3f} ({100 * (g['latency_us'] / 1e6 / predicted - 1):+.1f} %)"
        lines.append(f"| {rate} | {mesh} | {t['seconds_per_step']:.2f} | {step['total_seconds']:.2f} | {sync:.3f} | {alone} | {predicted:.3f} | {100 * (sync / predicted - 1):+.1f} % |")
print("\n".join(lines))
PY
cat "$out/summary.md"
