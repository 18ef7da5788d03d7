#!/usr/bin/env bash
# Rank failure (issue 8, item 3): `kill -9` of one rank under `mpirun -np 2`.
#  a) in the middle of a step, after a checkpoint: the whole job ends within 30 s, no process of
#     the run is left, the latest checkpoint's manifest checksums verify, and --resume (same mesh)
#     gives per-step losses equal bit for bit to an uninterrupted run.
#  b) during checkpoint writes (--save-every 1, kills at random moments and as soon as a staging
#     directory appears): after every kill the newest published checkpoint verifies, and the
#     run, resumed after each kill, ends with all 12 losses equal bit for bit to the uninterrupted
#     run.
# Prints PASS/FAIL per check and `N passed, N failed`; exits non-zero on a failure.
set -uo pipefail
source "$(dirname "$0")/lib/train_fixture.sh"
job=(train --data "$data" --steps 12 --batch-size 2 --max-seq-len 64 --progress log)

start=$(now)
timeout 300 scripts/mpirun.sh -np 2 "$tessera" "${job[@]}" --save-every 3 --out "$work/full" > "$work/full.log" 2>&1 \
  || { echo "FAIL uninterrupted run"; tail -5 "$work/full.log"; echo "0 passed, 1 failed"; exit 1; }
echo "  uninterrupted 12-step run: $(elapsed "$start" "$(now)") s"

# a) kill -9 of rank 1 in the middle of a step after the step-3 checkpoint.
out=$work/a
scripts/mpirun.sh -np 2 "$tessera" "${job[@]}" --save-every 3 --out "$out" > "$out.log" 2>&1 &
bg=$!
for _ in $(seq 600); do
  [ -d "$out/checkpoints/step-000003" ] && [ "$(last_step "$out/metrics.jsonl")" -ge 4 ] && break   # step 5 is running
  kill -0 "$bg" 2>/dev/null || break
  sleep 0.1
done
pids=($(ranks_of "$out" | sort -n))
ckpt=$(newest_checkpoint "$out")
if [ "${#pids[@]}" -ne 2 ] || [ -z "$ckpt" ]; then
  fail "a) could not find the 2 ranks and a checkpoint mid-run (pids: ${pids[*]:-none})"; tail -5 "$out.log"
else
  echo "  killing pid ${pids[1]} at step $(( $(last_step "$out/metrics.jsonl") + 1 )) (checkpoint $(basename "$ckpt"))"
  killed=$(now)
  kill -9 "${pids[1]}"
  for _ in $(seq 300); do kill -0 "$bg" 2>/dev/null || break; sleep 0.1; done
  took=$(elapsed "$killed" "$(now)")
  if kill -0 "$bg" 2>/dev/null; then
    fail "a) mpirun still running 30 s after kill -9 of one rank"; kill -9 "$bg"
  else
    wait "$bg"; code=$?
    if [ "$code" -ne 0 ]; then pass "a) kill -9 of one rank ends the whole job in $took s (mpirun exit $code)"
    else fail "a) mpirun exited 0 after a rank was killed"; fi
  fi
  bg=
  sleep 0.5
  left=$(ranks_of "$out")
  if [ -z "$left" ]; then pass "a) no process of the run is left"; else fail "a) processes left: $left"; kill -9 $left; fi
  ckpt=$(newest_checkpoint "$out")
  if verify_checkpoint "$ckpt"; then pass "a) the latest checkpoint ($(basename "$ckpt")) verifies against its manifest"
  else fail "a) the latest checkpoint does not verify"; fi
  first=$(( 10#${ckpt##*step-} + 1 ))
  if timeout 300 scripts/mpirun.sh -np 2 "$tessera" "${job[@]}" --save-every 3 --out "$out" --resume >> "$out.log" 2>&1 \
     && compare "$work/full/metrics.jsonl" "$out/metrics.jsonl" "$first"; then
    pass "a) --resume completes the run with the losses of steps $first-12 equal to the uninterrupted run"
  else fail "a) --resume after the kill differs from the uninterrupted run"; tail -5 "$out.log"; fi
fi

# b) kills during checkpoint writes: --save-every 1, four kills, alternately as soon as a staging
# directory (.step-NNNNNN.partial) appears and after a random delay; a random rank each time.
out=$work/b
RANDOM=$$
ok_b=1
kills=0
in_write=0
finished=0
for try in 1 2 3 4; do
  extra=(--overwrite); [ "$try" -gt 1 ] && extra=(--resume)
  [ "$try" -gt 1 ] && [ -z "$(newest_checkpoint "$out")" ] && extra=(--overwrite)
  scripts/mpirun.sh -np 2 "$tessera" "${job[@]}" --save-every 1 --out "$out" "${extra[@]}" >> "$out.log" 2>&1 &
  bg=$!
  base=$(last_step "$out/metrics.jsonl")
  # Wait until the ranks are past set-up and at least one more step ran (set-up time varies).
  for _ in $(seq 600); do [ "$(last_step "$out/metrics.jsonl")" -gt "$base" ] && break; kill -0 "$bg" 2>/dev/null || break; sleep 0.05; done
  if [ $((try % 2)) -eq 1 ]; then
    for _ in $(seq 2000); do compgen -G "$out/checkpoints/.step-*.partial" > /dev/null && break; kill -0 "$bg" 2>/dev/null || break; sleep 0.005; done
  else
    sleep "0.$((RANDOM % 10))$((RANDOM % 10))"; sleep $((RANDOM % 2))
  fi
  pids=($(ranks_of "$out"))
  staging=no; compgen -G "$out/checkpoints/.step-*.partial" > /dev/null && staging=yes
  if [ "${#pids[@]}" -eq 0 ]; then echo "  try $try: the run ended before the kill"; wait "$bg"; bg=; finished=1; break; fi
  victim=${pids[$((RANDOM % ${#pids[@]}))]}
  kill -9 "$victim"; kills=$((kills + 1)); [ "$staging" = yes ] && in_write=$((in_write + 1))
  for _ in $(seq 300); do kill -0 "$bg" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$bg" 2>/dev/null; then ok_b=0; echo "  try $try: mpirun still running 30 s after the kill"; kill -9 "$bg"; fi
  wait "$bg" 2>/dev/null; bg=
  sleep 0.3
  left=$(ranks_of "$out"); [ -n "$left" ] && { ok_b=0; echo "  try $try: processes left: $left"; kill -9 $left; }
  ckpt=$(newest_checkpoint "$out")
  echo "  try $try: killed pid $victim after step $(last_step "$out/metrics.jsonl") (staging directory present: $staging); newest published: $(basename "${ckpt:-none}")"
  if [ -n "$ckpt" ] && ! verify_checkpoint "$ckpt"; then ok_b=0; echo "  try $try: $(basename "$ckpt") does not verify"; fi
done
if [ "$ok_b" -eq 1 ]; then pass "b) $kills kills ($in_write during a checkpoint write): the job ended each time, nothing left, the newest published checkpoint always verified"
else fail "b) a kill during checkpoint writes left a bad state"; fi
extra=(--resume); [ -z "$(newest_checkpoint "$out")" ] && extra=(--overwrite)
# A run that reached its last step between kills has nothing left to resume (resuming it is refused).
resume() { [ "$finished" -eq 1 ] || timeout 300 scripts/mpirun.sh -np 2 "$tessera" "${job[@]}" --save-every 1 --out "$out" "${extra[@]}" >> "$out.log" 2>&1; }
if resume && verify_checkpoint "$out/checkpoints/step-000012" && compare "$work/full/metrics.jsonl" "$out/metrics.jsonl" 1; then
  pass "b) resumed after every kill, the run ends with all 12 losses equal to the uninterrupted run"
else fail "b) the run resumed after kills differs from the uninterrupted run"; tail -5 "$out.log"; fi

echo "  total $(elapsed "$start" "$(now)") s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
