#!/usr/bin/env bash
# mpirun with the flags this project always needs: --allow-run-as-root when root, and
# --oversubscribe when asking for more ranks than cores. Usage: scripts/mpirun.sh -np N cmd...
set -euo pipefail
flags=()
[ "$(id -u)" -eq 0 ] && flags+=(--allow-run-as-root)
np=1
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  if [ "${args[$i]}" = "-np" ] || [ "${args[$i]}" = "-n" ]; then np=${args[$((i + 1))]}; fi
done
[ "$np" -gt "$(nproc)" ] && flags+=(--oversubscribe)
exec mpirun "${flags[@]}" "$@"
