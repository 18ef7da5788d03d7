# Shared set-up of the scripts that interrupt `tessera train` under mpirun
# (test_preemption.sh, test_rank_failure.sh, chaos_soak.sh). Source it from a script in scripts/:
# it moves to the repository root and defines
#   tessera data work bg mnt    the binary, the small chat data, a temp directory removed on exit,
#                               the pid of the background run (timeout → mpirun), a tmpfs to unmount
#   passed failed skipped pass fail skip_environment
#   now elapsed ranks_of last_step newest_checkpoint verify_checkpoint compare nothing_left
# The exit trap kills what the script left running (only processes whose --out is in $work),
# unmounts $mnt and removes $work.
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
tessera=$(realpath "${TESSERA:-.build/release/tessera}")
data=Tests/Fixtures/chat_small.jsonl
work=$(mktemp -d)
bg=
mnt=
cleanup() {
  [ -n "$bg" ] && kill -9 "$bg" 2>/dev/null
  local p
  for p in $(pgrep -f "^$tessera train .*--out $work/"); do kill -9 "$p" 2>/dev/null; done
  [ -n "$mnt" ] && umount "$mnt" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
passed=0
failed=0
skipped=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); }
skip_environment() { echo "skipped (environment): $1"; skipped=$((skipped + 1)); }
now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$2"; }
ranks_of() { pgrep -f "^$tessera train .*--out $1( |$)"; }   # the rank processes of one run (not mpirun)
nothing_left() { [ -z "$(ranks_of "$1")" ]; }
# The largest step in a metrics file (0 when it is missing or empty).
last_step() { python3 - "$1" <<'PY'
import json, sys
last = 0
try:
    for line in open(sys.argv[1]):
        try: last = max(last, json.loads(line)["step"])
        except Exception: pass
except OSError: pass
print(last)
PY
}
# Newest published checkpoint (step-NNNNNN with a manifest, as `--resume` picks it), or nothing.
newest_checkpoint() {
  local d
  for d in $(ls -1d "$1"/checkpoints/step-* 2>/dev/null | sort -r); do
    [ -f "$d/manifest.json" ] && { echo "$d"; return; }
  done
}
# Every file the manifest lists exists with its size and SHA-256 (hashlib, not Tessera's code).
verify_checkpoint() {
  python3 - "$1" <<'PY'
import hashlib, json, os, sys
d = sys.argv[1]
m = json.load(open(os.path.join(d, "manifest.json")))
assert m["files"], "empty manifest"
for rel, e in m["files"].items():
    p = os.path.join(d, rel)
    h = hashlib.sha256(open(p, "rb").read()).hexdigest()
    assert h == e["sha256"] and os.path.getsize(p) == e["bytes"], f"{rel}: checksum or size differs"
print(f"  {os.path.basename(d)}: {len(m['files'])} files verify")
PY
}
# compare reference-metrics other-metrics first-step: the losses of steps first..last (the
# reference's last step) equal bit for bit; where a step was logged more than once (a resumed
# run repeats the steps after its checkpoint) the last line counts.
compare() {
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys
ref, other = ({r["step"]: r["loss"] for r in map(json.loads, filter(str.strip, open(p)))} for p in sys.argv[1:3])
first, last = int(sys.argv[3]), max(ref)
steps = list(range(first, last + 1))
missing = [s for s in steps if s not in other]
if missing: print("  steps missing:", missing); sys.exit(1)
diff = [(s, ref[s], other[s]) for s in steps if ref[s] != other[s]]
for s, a, b in diff: print(f"  step {s}: {a!r} vs {b!r}")
print(f"  steps {first}-{last}: {len(steps) - len(diff)} of {len(steps)} losses equal bit for bit")
sys.exit(1 if diff else 0)
PY
}
