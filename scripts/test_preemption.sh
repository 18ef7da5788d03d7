#!/usr/bin/env bash
# Preemption (issue 21; docs/preemption.md), np 2 under scripts/mpirun.sh:
#  1. graceful stop: SIGUSR1 to mpirun (which forwards it), SIGTERM to one rank, SIGINT to rank 0
#     with --exit-code-on-signal: every rank stops after the current step, that step is a
#     checkpoint that verifies, rank 0 prints one "stopped at step N, checkpoint PATH" line, exit 0
#     (130 with the flag), nothing is left running; --resume then gives losses of the remaining
#     steps and an adapter equal bit for bit to an uninterrupted run. The time from the signal to
#     mpirun's exit is printed. A second signal exits at once (128 + signal) and the newest
#     published checkpoint still verifies (resume again equals the uninterrupted run). SIGTERM to
#     mpirun is not graceful (mpirun SIGKILLs the ranks ~1 s later): the job ends and the newest
#     checkpoint verifies.
#  3. damaged checkpoints: a bit flip in the newest and a truncation in the next are reported on
#     one line and --resume falls back to the newest that verifies (losses equal bit for bit);
#     when none verifies, or --resume-from names a damaged one, resume is refused.
#  2. disk full (tmpfs mounted here; skipped where mount is not permitted): a failing checkpoint
#     write stops every rank with exit 1 and one line naming the file and the error, the previous
#     checkpoint verifies, the staging directory is gone; with --on-save-error continue the run
#     warns, goes on and saves once space is back.
# Prints PASS/FAIL per check and `N passed, N failed, N skipped`; exits non-zero on a failure.
set -uo pipefail
source "$(dirname "$0")/lib/train_fixture.sh"
job=(train --data "$data" --steps 12 --batch-size 2 --max-seq-len 64 --progress log --log-every 1)
# Starts a run in the background (bg = timeout's pid; mpirun is its child); log in $work.
start() {   # out extra-args...
  local out=$1; shift
  timeout 300 scripts/mpirun.sh -np 2 "$tessera" "${job[@]}" --out "$out" "$@" >> "$work/$(basename "$out").log" 2>&1 &
  bg=$!
}
wait_for_step() {   # out step: until metrics reach `step` (or the run ended)
  for _ in $(seq 1200); do
    [ "$(last_step "$1/metrics.jsonl")" -ge "$2" ] && return 0
    kill -0 "$bg" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}
target_pid() {   # out mpirun|rank0|rank1
  case $2 in
    mpirun) pgrep -P "$bg" -x mpirun ;;
    rank0) ranks_of "$1" | sort -n | head -1 ;;
    rank1) ranks_of "$1" | sort -n | tail -1 ;;
  esac
}
# Sends `sig` to `target` (once, or twice `gap` s apart) and waits for the job; sets code, took.
signal_and_wait() {   # out target sig [gap]
  local pid; pid=$(target_pid "$1" "$2")
  [ -z "$pid" ] && { echo "  no $2 process found"; code=255; took=0; return; }
  local sent; sent=$(now)
  kill -"$3" "$pid"
  [ -n "${4:-}" ] && { sleep "$4"; kill -"$3" "$pid" 2>/dev/null; }
  wait "$bg"; code=$?
  took=$(elapsed "$sent" "$(now)")
  bg=
  sleep 0.3
}

start=$(now)
timeout 300 scripts/mpirun.sh -np 2 "$tessera" "${job[@]}" --save-every 3 --out "$work/full" > "$work/full.log" 2>&1 \
  || { echo "FAIL uninterrupted run"; tail -5 "$work/full.log"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
step_time=$(python3 -c "import json; r=[json.loads(l) for l in open('$work/full/metrics.jsonl')]; print(f'{sum(x[\"seconds\"] for x in r)/len(r):.2f}')")
echo "  uninterrupted 12-step run: $(elapsed "$start" "$(now)") s, mean step $step_time s"
ref=$work/full/metrics.jsonl

# --- 1. Graceful stop -------------------------------------------------------------------------
graceful() {   # name target sig expected-code extra-args...
  local name=$1 target=$2 sig=$3 expected=$4; shift 4
  local out=$work/$name
  start "$out" --save-every 5 "$@"
  if ! wait_for_step "$out" 2; then fail "$name: the run did not reach step 2"; tail -5 "$out.log"; return 1; fi
  signal_and_wait "$out" "$target" "$sig"
  local line; line=$(grep -E '^stopped at step [0-9]+, checkpoint ' "$out.log")
  local count; count=$(grep -cE '^stopped at step' "$out.log")
  local n; n=$(echo "$line" | sed -nE 's/^stopped at step ([0-9]+), checkpoint ([^ ]+).*/\1/p')
  local dir; dir=$(echo "$line" | sed -nE 's/^stopped at step ([0-9]+), checkpoint ([^ ]+).*/\2/p')
  echo "  $name: SIG$sig to $target → exit $code after $took s (mean step $step_time s): ${line:-no stop line}"
  if [ "$code" -eq "$expected" ] && [ "$count" -eq 1 ] && [ -n "$n" ] && [ "$n" -eq "$(last_step "$out/metrics.jsonl")" ] \
     && [ "$dir" = "$out/checkpoints/$(printf 'step-%06d' "$n")" ] && verify_checkpoint "$dir" && nothing_left "$out"; then
    pass "$name: SIG$sig to $target stops every rank after step $n in $took s, exit $code, one stop line, checkpoint verifies, nothing left"
    stopped_at=$n
  else
    fail "$name: SIG$sig to $target did not stop cleanly (exit $code, expected $expected; $count stop lines)"; tail -8 "$out.log"; return 1
  fi
}

stopped_at=0
if graceful usr1 mpirun USR1 0; then
  if timeout 300 scripts/mpirun.sh -np 2 "$tessera" "${job[@]}" --save-every 5 --out "$work/usr1" --resume >> "$work/usr1.log" 2>&1 \
     && compare "$ref" "$work/usr1/metrics.jsonl" $((stopped_at + 1)) \
     && cmp -s "$work/full/adapter/adapter_model.safetensors" "$work/usr1/adapter/adapter_model.safetensors"; then
    pass "usr1: --resume after the stop gives the losses of steps $((stopped_at + 1))-12 and the adapter of the uninterrupted run bit for bit"
  else fail "usr1: --resume after the stop differs from the uninterrupted run"; tail -5 "$work/usr1.log"; fi
fi
graceful term-rank1 rank1 TERM 0
graceful int-rank0 rank0 INT 130 --exit-code-on-signal

# A second signal while stopping: out at once, 128 + signal; the newest checkpoint verifies and
# resuming from it still reproduces the uninterrupted run.
# Signalled right after step 3 is logged: step 4 runs (next save at 4), and the second signal
# lands while the ranks are still finishing it.
out=$work/twice
start "$out" --save-every 2
if wait_for_step "$out" 3; then
  signal_and_wait "$out" mpirun USR1 0.3
  ckpt=$(newest_checkpoint "$out")
  echo "  twice: SIGUSR1 twice to mpirun → exit $code after $took s; newest published: $(basename "${ckpt:-none}")"
  if [ "$code" -eq 138 ] && grep -q "second SIGUSR1 while stopping" "$out.log" && nothing_left "$out" \
     && [ -n "$ckpt" ] && verify_checkpoint "$ckpt"; then
    pass "twice: a second SIGUSR1 exits at once (138), nothing left, the newest checkpoint ($(basename "$ckpt")) verifies"
  else fail "twice: a second signal did not end the job cleanly (exit $code)"; tail -8 "$out.log"; fi
  first=$(( 10#${ckpt##*step-} + 1 ))
  if timeout 300 scripts/mpirun.sh -np 2 "$tessera" "${job[@]}" --save-every 2 --out "$out" --resume >> "$out.log" 2>&1 \
     && compare "$ref" "$out/metrics.jsonl" "$first"; then
    pass "twice: --resume completes the run with the losses of steps $first-12 equal to the uninterrupted run"
  else fail "twice: --resume after the second signal differs"; tail -5 "$out.log"; fi
else fail "twice: the run did not reach step 3"; tail -5 "$out.log"; fi

# SIGTERM to mpirun: mpirun sends SIGTERM and ~1 s later SIGKILL to the ranks (OpenMPI's
# odls_base_sigkill_timeout); no graceful stop is possible, but nothing is harmed.
out=$work/term-mpirun
start "$out" --save-every 1
if wait_for_step "$out" 3; then
  signal_and_wait "$out" mpirun TERM
  ckpt=$(newest_checkpoint "$out")
  if [ "$code" -ne 0 ] && nothing_left "$out" && [ -n "$ckpt" ] && verify_checkpoint "$ckpt"; then
    pass "term-mpirun: SIGTERM to mpirun ends the job in $took s (exit $code; mpirun kills the ranks), nothing left, $(basename "$ckpt") verifies"
  else fail "term-mpirun: SIGTERM to mpirun left a bad state (exit $code)"; tail -5 "$out.log"; fi
else fail "term-mpirun: the run did not reach step 3"; tail -5 "$out.log"; fi

# --- 3. Damaged checkpoints -------------------------------------------------------------------
out=$work/damaged
if timeout 300 scripts/mpirun.sh -np 2 "$tessera" "${job[@]}" --save-every 2 --stop-after 6 --out "$out" > "$out.log" 2>&1; then
  python3 - "$out/checkpoints/step-000006/optimizer-tp0-of-1.safetensors" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[len(b) // 2] ^= 0x04; open(p, "wb").write(b)
PY
  truncate -s -1000 "$out/checkpoints/step-000004/adapter/adapter_model.safetensors"
  log=$work/damaged.resume.log
  timeout 300 scripts/mpirun.sh -np 2 "$tessera" "${job[@]}" --save-every 2 --out "$out" --resume > "$log" 2>&1; code=$?
  note=$(grep -E '^warning: step-000006, step-000004 do not verify \(.*\); resuming from step-000002, the newest checkpoint that does$' "$log")
  echo "  ${note:-no fallback line}"
  if [ "$code" -eq 0 ] && [ "$(grep -c 'do not verify' "$log")" -eq 1 ] && echo "$note" | grep -q "SHA-256" \
     && grep -q "resuming from $out/checkpoints/step-000002 at step 2" "$log" && compare "$ref" "$out/metrics.jsonl" 3; then
    pass "damaged: a bit flip (step 6) and a truncation (step 4) are named on one line; --resume falls back to step 2 and reproduces steps 3-12 bit for bit"
  else fail "damaged: resume did not fall back cleanly (exit $code)"; tail -5 "$log"; fi
  # Nothing verifies: refused, every rank exits.
  for d in "$out"/checkpoints/step-*; do printf 'x' | dd of="$d/state.json" bs=1 seek=5 conv=notrunc status=none; done
  msg=$(timeout 120 scripts/mpirun.sh -np 2 "$tessera" "${job[@]}" --out "$out" --resume 2>&1); code=$?
  msg2=$(timeout 120 scripts/mpirun.sh -np 2 "$tessera" "${job[@]}" --out "$out" --resume-from "$(newest_checkpoint "$out")" 2>&1); code2=$?
  if [ "$code" -ne 0 ] && [ "$code" -ne 124 ] && echo "$msg" | grep -q "no checkpoint verifies" \
     && [ "$code2" -ne 0 ] && [ "$code2" -ne 124 ] && echo "$msg2" | grep -q "checkpoint is damaged" && nothing_left "$out"; then
    pass "damaged: with no checkpoint that verifies --resume is refused ($(echo "$msg" | grep -o 'no checkpoint verifies: [^(]*')), and so is --resume-from a damaged one"
  else fail "damaged: resume from damaged checkpoints was not refused (exit $code / $code2)"; echo "$msg" | tail -3; echo "$msg2" | tail -3; fi
else fail "damaged: the 6-step run failed"; tail -5 "$out.log"; fi

# --- 2. Disk full -----------------------------------------------------------------------------
# LoRA r 2 on q_proj, v_proj: a checkpoint is ~1.4 MB (adapter 0.46 MB + AdamW moments 0.92 MB);
# a 4 MB tmpfs holds two, so the third save (step 6) runs out of space.
small=(--lora-r 2 --steps 8 --save-every 2)
mnt=$work/tmpfs
mkdir -p "$mnt"
if ! mount -t tmpfs -o size=4m tmpfs "$mnt" 2>"$work/mount.err"; then
  echo "skipped (environment): cannot mount a tmpfs ($(head -1 "$work/mount.err")); the disk-full checks need root and mount permission"
  skipped=$((skipped + 1))
  mnt=
else
  out=$mnt/stop
  msg=$(timeout 300 scripts/mpirun.sh -np 2 "$tessera" "${job[@]}" "${small[@]}" --out "$out" --metrics "$work/stop.metrics.jsonl" 2>&1); code=$?
  line=$(echo "$msg" | grep -E '^error: checkpoint of step [0-9]+ not saved: ')
  echo "  checkpoint size: $(du -sk "$out/checkpoints/step-000002" | cut -f1) KiB; tmpfs 4096 KiB"
  echo "  ${line:-no error line}"
  intact=$(echo "$line" | sed -nE 's/.*; newest intact checkpoint: (.*)$/\1/p')
  if [ "$code" -ne 0 ] && [ "$code" -ne 124 ] && [ "$(echo "$msg" | grep -c '^error:')" -eq 1 ] && echo "$line" | grep -q "No space left on device" \
     && echo "$line" | grep -q "$out/checkpoints/" && [ -n "$intact" ] && [ "$intact" = "$(newest_checkpoint "$out")" ] \
     && verify_checkpoint "$intact" && ! compgen -G "$out/checkpoints/.step-*" > /dev/null && nothing_left "$out"; then
    pass "disk full: a save fails, every rank exits $code with one line naming the file and ENOSPC, the previous checkpoint ($(basename "$intact")) verifies, no staging left"
  else fail "disk full: the failing save did not stop cleanly (exit $code)"; echo "$msg" | tail -5; ls -la "$out/checkpoints"; fi
  umount "$mnt" && mount -t tmpfs -o size=4m tmpfs "$mnt"
  out=$mnt/continue
  start "$out" "${small[@]}" --on-save-error continue --metrics "$work/continue.metrics.jsonl"
  # After the first failed save, give the file system room; the next save must succeed.
  for _ in $(seq 1200); do grep -q "training continues (--on-save-error continue)" "$work/continue.log" 2>/dev/null && break; kill -0 "$bg" 2>/dev/null || break; sleep 0.05; done
  mount -o remount,size=64m "$mnt"
  wait "$bg"; code=$?; bg=
  warn=$(grep -E '^warning: checkpoint of step [0-9]+ not saved: .*training continues' "$work/continue.log" | head -1)
  echo "  ${warn:-no warning line}"
  if [ "$code" -eq 0 ] && [ -n "$warn" ] && echo "$warn" | grep -q "No space left on device" && verify_checkpoint "$out/checkpoints/step-000008" \
     && [ -f "$out/adapter/adapter_model.safetensors" ] && [ "$(last_step "$work/continue.metrics.jsonl")" -eq 8 ] && nothing_left "$out"; then
    pass "disk full, --on-save-error continue: the run warns once per failed save, continues, saves again once space is back, ends with exit 0"
  else fail "disk full, --on-save-error continue did not recover (exit $code)"; tail -8 "$work/continue.log"; fi
  umount "$mnt"; mnt=
fi

echo "  total $(elapsed "$start" "$(now)") s"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
