#!/usr/bin/env bash
# oneDNN suitability check for Tessera's frozen linears (issue 22: bf16 through Intel AMX). Builds
# scripts/bench/onednn_matmul.c against the system oneDNN 2.x (dnnl.h, libdnnl) with cc into a temporary
# directory and runs it on one thread: f32 dst [M,N] = bf16 src [M,K] x bf16 weights [K,N], M = 1024, at the
# SmolLM2-135M shapes (K,N) = (576,576) q/o, (576,192) k/v, (576,1536) gate/up, (1536,576) down and
# (576,49152) head in column tiles of 1820. Per shape it prints the implementation oneDNN picked
# (impl_info_str, e.g. brg:avx512_core_amx_bf16), whether its preferred weight layout is blocked, and GFLOP/s of:
#   (a)  the matmul alone, weights already bf16 in oneDNN's preferred layout (weights format_tag any);
#   (b)  the fp32 weight reordered into that layout on every call, then the matmul (Tessera's data flow: the NF4
#        weight is dequantized afresh each step, so the layout conversion is paid every call), from W stored
#        [N,K] row-major (out x in, GGUF/PyTorch), and (b') from [K,N] row-major;
#   (c)  (b) plus converting the fp32 activations to bf16;
#   f32  oneDNN's fp32 matmul, for reference.
#
#   scripts/bench_onednn.sh [--m M] [--tile T] [--seconds S] [--rounds R] [K N ...]   (arguments go to the benchmark)
#
# Each number is the best over R (default 3) rounds that interleave the variants, each round 5 groups of calls of
# at least S / 5 seconds (default S 0.3), to keep bursts of load from other tenants out of the comparison;
# "[rounds xF]" after each number is the slowest round over the best: F well above 1 means the host was busy.
# On a 2-core VM shared with other work, single runs moved the bf16 numbers by 2x or more: compare several runs.
#
# Threads: OMP_NUM_THREADS (default 1; this oneDNN build uses the OpenMP CPU runtime). CC (default cc).
# Without oneDNN's headers it says how to install them (Debian/Ubuntu: apt-get install libdnnl-dev) and exits 0.
# Not run by CI.
set -euo pipefail
case "${1:-}" in
  -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
src="$here/bench/onednn_matmul.c"
cc=${CC:-cc}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#include <dnnl.h>\nint main(void) { return dnnl_version()->major < 3 ? 0 : 3; }\n' >"$tmp/probe.c"
if ! "$cc" -o "$tmp/probe" "$tmp/probe.c" -ldnnl >/dev/null 2>&1; then
  cat <<EOF
bench_onednn.sh: cannot build against oneDNN: '$cc' finds no dnnl.h or libdnnl.
Install the oneDNN 2.x development package, then run this script again:

    apt-get install -y libdnnl-dev        # Debian 12 / Ubuntu: oneDNN 2.6

Skipping the benchmark (this is not an error; CI does not run it).
EOF
  exit 0
fi
if ! "$tmp/probe"; then
  echo "bench_onednn.sh: the system oneDNN is 3.x or newer; $src uses the oneDNN 2.x C API (dnnl_matmul_desc_init)." >&2
  echo "Install oneDNN 2.x (Debian 12: apt-get install libdnnl-dev) or port the benchmark to the 3.x API." >&2
  exit 1
fi
"$cc" -O2 -std=gnu11 -Wall -Wextra -o "$tmp/onednn_matmul" "$src" -ldnnl

export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//'),"\
     "AMX flags: $(grep -o 'amx[a-z0-9_]*' /proc/cpuinfo 2>/dev/null | sort -u | tr '\n' ' ')"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || true)"
"$tmp/onednn_matmul" "$@"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || true) (other work on the host's cores makes these numbers vary by 2x or more: compare runs)"
