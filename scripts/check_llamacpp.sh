#!/usr/bin/env bash
# Checks Tessera's GGUF outputs against llama.cpp itself, through llama-cpp-python built from PyPI
# (pinned, CPU build with GGML_NATIVE=ON) in a scratch virtual environment. Not run by CI. It
#   - trains a small all-linear adapter (or takes ADAPTER_DIR) and writes
#     `tessera export --format gguf` (GGUF LoRA) and `tessera merge --format gguf` (f16 merged model);
#   - checks the GGUF LoRA's metadata and tensors with the gguf package's GGUFReader against what
#     llama.cpp's convert_lora_to_gguf.py writes: general.type = adapter, adapter.type = lora,
#     adapter.lora.alpha = the PEFT lora_alpha, general.architecture = the base's, one
#     `<gguf name>.lora_a` / `.lora_b` pair per PEFT module (names from gguf's TensorNameMap, as the
#     converter maps them), lora_a = A with shape [in, r], lora_b = B with shape [r, out] and the
#     q/k rows permuted to llama.cpp's RoPE order (the converter's LlamaModel.permute);
#   - compares next-token logits on a fixed chat (Tests/Fixtures/reference/smollm2/text.json, 91
#     token ids, fed as ids so tokenizers play no part): llama.cpp's scores (logits_all=True)
#     against `tessera eval --base-quant none --logits` ([91, 49152] each), by rms and largest
#     difference, mean KL, argmax agreement and the loss:
#       (a) the Q4_1 base GGUF alone. llama.cpp quantizes activations to Q8_1 for Q4_1 products
#           (logits rms about 0.3 measured), so this run sets the level: loss within q4_tolerance
#           (0.02), the same argmax at ≥ 95 % of positions;
#       (b) the Q4_1 base with the GGUF LoRA (Llama(model_path, lora_path)): held to (a)'s level
#           (rms and KL at most 1.25 × the base's). Tightly, an f16 base (Tessera's merge of a
#           zero adapter: the base rounded to f16), where llama.cpp rounds activations to f16 only:
#           alone rms ≤ f16_rms (0.03; 1.0e-2 measured) and loss within f16_tolerance (2e-3), and
#           with the GGUF LoRA held to 1.5 × that base's rms;
#       (c) the merged GGUF loaded alone, against `tessera eval` on the same file and against
#           `tessera eval --adapter` on the Q4_1 base: held to 1.5 × the f16 base's rms.
#     llama.cpp runs with an f32 KV cache (type_k = type_v = F32): with its default f16 cache the
#     Q4_1 losses moved by up to 1.7e-2;
#   - merges with --quant q8_0 and q4_k_m and computes, in llama.cpp, the perplexity of the
#     assistant answers of the demo's held-out conversations (examples/support/valid.jsonl, ids
#     and mask from `tessera tokenize --chat --json`): q8_0 within 1 % of the f16 merge's, q4_k_m
#     within 1 % of llama.cpp's own Q4_K_M of the same f16 merge (llama_model_quantize, as
#     llama-quantize), and the Q4_K_M-vs-f16 figure printed for both (on SmolLM2-135M both are
#     about +7.5 % after the demo's adapter); each file's llama.cpp loss also within q4_tolerance
#     of `tessera eval` on it.
# Prints PASS/FAIL lines and `N passed, N failed`.
#
#   scripts/check_llamacpp.sh [ADAPTER_DIR]
#
# Time on 2 cores (AMD EPYC): about 20 minutes from scratch: building llama-cpp-python about 16
# minutes (975 s measured), training the adapter 2.5 minutes, the checks 1 minute. LLAMACPP_VENV=DIR
# keeps the venv there (built if missing, reused if it has the pinned versions), so a rerun with it
# and ADAPTER_DIR takes about 1 minute (55 s); without it a temporary venv is built and removed.
# TESSERA overrides the binary.
set -uo pipefail
cd "$(dirname "$0")/.."
llama_cpp_python_version=0.3.36
gguf_version=0.19.0
f16_tolerance=2e-3
f16_rms=0.03
q4_tolerance=0.02
tessera=${TESSERA:-.build/release/tessera}
model=models/SmolLM2-135M-Instruct.Q4_1.gguf
reference=Tests/Fixtures/reference/smollm2/text.json
heldout=examples/support/valid.jsonl
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0 failed=0
pass() { echo "PASS $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit; }
tally() {  # NAME STATUS OUTPUT: print a Python block's PASS/FAIL lines and count them
  echo "$3"
  local p f
  p=$(grep -c '^PASS' <<< "$3") f=$(grep -c '^FAIL' <<< "$3")
  passed=$((passed + p)) failed=$((failed + f))
  [ "$2" -eq 0 ] || [ "$f" -gt 0 ] || fail "$1 (exit status $2)"
}
[ -x "$tessera" ] || { fail "no tessera binary at $tessera (swift build -c release --product tessera)"; finish; }

echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; python: $(python3 --version 2>&1)"
start=$(date +%s)
venv=${LLAMACPP_VENV:-$work/venv}
py=$venv/bin/python
if ! "$py" -c "import llama_cpp, gguf, importlib.metadata as m; assert llama_cpp.__version__ == '$llama_cpp_python_version' and m.version('gguf') == '$gguf_version'" 2>/dev/null; then
  echo "building llama-cpp-python $llama_cpp_python_version into $venv (about 16 minutes on 2 cores)"
  python3 -m venv "$venv" || { fail "python3 -m venv $venv"; finish; }
  if ! CMAKE_ARGS="-DGGML_NATIVE=ON" CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) "$py" -m pip install -q \
      "llama-cpp-python==$llama_cpp_python_version" "gguf==$gguf_version" numpy > "$work/pip.log" 2>&1; then
    grep -m3 -E 'ERROR|error:' "$work/pip.log"; fail "pip install llama-cpp-python==$llama_cpp_python_version gguf==$gguf_version"; finish
  fi
fi
echo "llama-cpp-python $llama_cpp_python_version, gguf $gguf_version, $("$py" -c 'import numpy; print("numpy", numpy.__version__)'); venv ready in $(( $(date +%s) - start )) s"

adapter=${1:-}
if [ -z "$adapter" ]; then
  t0=$(date +%s)
  "$tessera" train --data examples/support/train.jsonl --mask-prompt --steps 20 --batch-size 4 --max-seq-len 128 --lr 2e-3 \
    --lora-r 8 --lora-targets all-linear --out "$work/run" --progress log > "$work/train.log" 2>&1 \
    || { tail -5 "$work/train.log"; fail "tessera train"; finish; }
  adapter=$work/run/adapter
  echo "trained $adapter (20 steps on the demo data, r 8, all-linear) in $(( $(date +%s) - t0 )) s"
fi

t0=$(date +%s)
"$tessera" export --adapter "$adapter" --format gguf --out "$work/lora.gguf" > "$work/export.log" 2>&1 \
  || { tail -3 "$work/export.log"; fail "tessera export --format gguf"; finish; }
"$tessera" merge --adapter "$adapter" --format gguf --out "$work/merged.gguf" >> "$work/export.log" 2>&1 \
  || { tail -3 "$work/export.log"; fail "tessera merge --format gguf"; finish; }
# An f16 copy of the base: the merge of the same adapter with every lora_B zeroed.
mkdir -p "$work/zero" && cp "$adapter/adapter_config.json" "$work/zero/"
python3 - "$adapter/adapter_model.safetensors" "$work/zero/adapter_model.safetensors" <<'EOF'
import json, struct, sys
data = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", data[:8])[0]
for name, t in json.loads(data[8:8 + n]).items():
    if name != "__metadata__" and ".lora_B." in name:
        b, e = t["data_offsets"]
        data[8 + n + b:8 + n + e] = bytes(e - b)
open(sys.argv[2], "wb").write(data)
EOF
"$tessera" merge --adapter "$work/zero" --format gguf --out "$work/base-f16.gguf" >> "$work/export.log" 2>&1 \
  || { tail -3 "$work/export.log"; fail "tessera merge (zero adapter, f16 base)"; finish; }
echo "exported and merged in $(( $(date +%s) - t0 )) s"

# 1. The GGUF LoRA's layout, against convert_lora_to_gguf.py's.
out=$("$py" - "$work/lora.gguf" "$adapter" "$model" 2>&1 <<'EOF'
import json, struct, sys
import numpy as np
import gguf
lora_path, adapter_dir, base_path = sys.argv[1:4]
def field(reader, key):
    f = reader.fields.get(key)
    return None if f is None else f.contents()
lora, base = gguf.GGUFReader(lora_path), gguf.GGUFReader(base_path)
config = json.load(open(f"{adapter_dir}/adapter_config.json"))
raw = open(f"{adapter_dir}/adapter_model.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
dtypes = {"F32": np.float32, "F16": np.float16}
peft = {k: np.frombuffer(raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]], dtype=dtypes[v["dtype"]])
        .reshape(v["shape"]).astype(np.float32) for k, v in header.items() if k != "__metadata__"}
arch = field(base, "general.architecture")
keys = {k: field(lora, k) for k in lora.fields if not k.startswith("GGUF.")}
print("  lora.gguf keys: " + ", ".join(f"{k} = {v!r}" for k, v in keys.items()))
problems = []
for key, want in [("general.architecture", arch), ("general.type", "adapter"), ("adapter.type", "lora")]:
    if keys.get(key) != want:
        problems.append(f"{key} is {keys.get(key)!r}, want {want!r}")
alpha_field = lora.fields.get("adapter.lora.alpha")
if alpha_field is None or alpha_field.types != [gguf.GGUFValueType.FLOAT32] or alpha_field.contents() != float(config["lora_alpha"]):
    problems.append(f"adapter.lora.alpha is {keys.get('adapter.lora.alpha')!r} "
                    f"({alpha_field.types if alpha_field else 'absent'}), want float32 {float(config['lora_alpha'])}")
print(("FAIL" if problems else "PASS") + f" GGUF LoRA metadata as convert_lora_to_gguf.py writes it "
      f"(general.type adapter, adapter.type lora, adapter.lora.alpha {keys.get('adapter.lora.alpha')}, "
      f"general.architecture {keys.get('general.architecture')})" + "".join(f"\n  {p}" for p in problems))
problems = []

# Expected tensors: the converter's names (TensorNameMap) and values (q/k B rows permuted as
# LlamaModel.permute does).
n_blocks = field(base, f"{arch}.block_count")
n_head, n_head_kv = field(base, f"{arch}.attention.head_count"), field(base, f"{arch}.attention.head_count_kv")
name_map = gguf.get_tensor_name_map(gguf.MODEL_ARCH[arch.upper()], n_blocks)
def permute(w, heads):
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)
expected = {}
for name, value in peft.items():
    base_name = name.replace("base_model.model.", "").replace(".lora_A.weight", ".weight").replace(".lora_B.weight", ".weight")
    mapped = name_map.get_name(base_name, try_suffixes=(".weight", ".bias"))
    if mapped is None:
        problems.append(f"gguf's TensorNameMap has no name for {base_name}")
        continue
    if ".lora_A." in name:
        expected[mapped + ".lora_a"] = value
    else:
        if base_name.endswith("q_proj.weight"):
            value = permute(value, n_head)
        elif base_name.endswith("k_proj.weight"):
            value = permute(value, n_head_kv)
        expected[mapped + ".lora_b"] = value
got = {t.name: t for t in lora.tensors}
missing, extra = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
if missing: problems.append(f"{len(missing)} missing tensors, e.g. {missing[:3]}")
if extra: problems.append(f"{len(extra)} unexpected tensors, e.g. {extra[:3]}")
worst, types = 0.0, set()
for name in sorted(set(expected) & set(got)):
    t, want = got[name], expected[name]
    types.add(t.tensor_type.name)
    ne = [int(x) for x in t.shape]  # GGUF order: ne[0] is the row length
    if ne != list(want.shape[::-1]):
        problems.append(f"{name}: GGUF shape {ne}, want {list(want.shape[::-1])}")
        continue
    if t.tensor_type.name not in ("F32", "F16", "BF16", "Q8_0"):
        problems.append(f"{name}: type {t.tensor_type.name} (the converter writes F32, F16, BF16 or Q8_0)")
        continue
    value = np.asarray(t.data, dtype=np.float32).reshape(want.shape) if t.tensor_type.name in ("F32", "F16") else \
        gguf.dequantize(t.data, t.tensor_type).reshape(want.shape)
    worst = max(worst, float(np.max(np.abs(value - want)) / (np.max(np.abs(want)) or 1)))
limit = 0.0 if types <= {"F32"} else 1e-2
if worst > limit: problems.append(f"largest difference from the PEFT factors (q/k permuted) {worst:.2e} > {limit:g}")
example = next((k for k in sorted(got) if k.startswith("blk.0.attn_q")), "none")
print(("FAIL" if problems else "PASS") +
      f" GGUF LoRA tensors: {len(got)} ({len(expected)} expected from {len(peft)} PEFT tensors, e.g. {example} "
      f"{[int(x) for x in got[example].shape] if example in got else ''}), types {sorted(types)}, "
      f"values vs PEFT A / permuted B: largest relative difference {worst:.1e}"
      + "".join(f"\n  {p}" for p in problems))
EOF
); tally "GGUF LoRA layout check" $? "$out"

# 2. Logits and losses on the fixed chat: Tessera's `eval --logits` against llama.cpp's scores.
python3 -c "import json; print(json.dumps({'input_ids': json.load(open('$reference'))['input_ids']}))" > "$work/ids.jsonl"
tessera_eval() {  # NAME DATA [eval options]: prints the loss; t_NAME.npy gets the logits unless NAME is -
  local name=$1 data=$2; shift 2
  local logits=()
  [ "$name" = - ] || logits=(--logits "$work/t_$name.npy")
  "$tessera" eval --data "$data" --base-quant none --json "${logits[@]}" "$@" | python3 -c "import json, sys; print(json.load(sys.stdin)['loss'])"
}
t0=$(date +%s)
t_base=$(tessera_eval base "$work/ids.jsonl") && t_adapter=$(tessera_eval lora "$work/ids.jsonl" --adapter "$adapter") \
  && t_f16=$(tessera_eval f16 "$work/ids.jsonl" --model "$work/base-f16.gguf") \
  && t_f16_adapter=$(tessera_eval f16_lora "$work/ids.jsonl" --model "$work/base-f16.gguf" --adapter "$adapter") \
  && t_merged=$(tessera_eval merged "$work/ids.jsonl" --model "$work/merged.gguf") \
  || { fail "tessera eval"; finish; }
echo "tessera eval: 5 runs in $(( $(date +%s) - t0 )) s"
t0=$(date +%s)
"$py" - "$reference" "$model" "$work" 2> "$work/llama.err" <<'PY'
import json, sys
import numpy as np
from llama_cpp import Llama, GGML_TYPE_F32
ids = json.load(open(sys.argv[1]))["input_ids"]
base, work = sys.argv[2:4]
lora = f"{work}/lora.gguf"
for name, model_path, lora_path in [("base", base, None), ("lora", base, lora), ("f16", f"{work}/base-f16.gguf", None),
                                    ("f16_lora", f"{work}/base-f16.gguf", lora), ("merged", f"{work}/merged.gguf", None)]:
    llm = Llama(model_path=model_path, lora_path=lora_path, n_ctx=256, n_batch=256, n_ubatch=256, n_threads=2,
                logits_all=True, type_k=GGML_TYPE_F32, type_v=GGML_TYPE_F32, seed=0, verbose=False)
    llm.eval(ids)
    np.save(f"{work}/l_{name}.npy", np.asarray(llm.scores[:len(ids)], dtype=np.float32))
PY
[ $? -eq 0 ] || { tail -5 "$work/llama.err"; fail "llama-cpp-python could not load or run the models"; finish; }
echo "llama.cpp: 5 runs in $(( $(date +%s) - t0 )) s"
out=$(python3 - "$work" "$reference" "$t_base" "$t_adapter" "$t_f16" "$t_f16_adapter" "$t_merged" "$f16_tolerance" "$q4_tolerance" "$f16_rms" <<'PY'
import json, sys
import numpy as np
work, reference = sys.argv[1:3]
t_base, t_adapter, t_f16, t_f16_adapter, t_merged, tol, q4_tol, f16_rms = map(float, sys.argv[3:11])
ids = json.load(open(reference))["input_ids"]
failed = 0
def check(ok, text):
    global failed
    failed += not ok
    print(("PASS " if ok else "FAIL ") + text)
def log_softmax(x):
    x = x.astype(np.float64)
    m = x.max(axis=1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=1, keepdims=True))
def loss(logits):
    return float(-np.mean(log_softmax(logits)[np.arange(len(ids) - 1), ids[1:]]))
def compare(name, tessera_name=None):
    """llama.cpp's logits of case `name` against Tessera's (case `tessera_name`, by default the same)."""
    l, t = np.load(f"{work}/l_{name}.npy"), np.load(f"{work}/t_{tessera_name or name}.npy")
    assert l.shape == t.shape and l.shape[0] == len(ids), (l.shape, t.shape)
    d = l.astype(np.float64) - t
    lp_t, lp_l = log_softmax(t), log_softmax(l)
    kl = np.sum(np.exp(lp_t) * (lp_t - lp_l), axis=1)  # KL(tessera || llama.cpp) per position
    return {"rms": float(np.sqrt(np.mean(d * d))), "max": float(np.abs(d).max()), "kl": float(kl.mean()),
            "top1": float(np.mean(l.argmax(1) == t.argmax(1))), "loss_l": loss(l), "loss_t": loss(t)}
def show(r):
    return (f"logits [{len(ids)}, vocab]: rms {r['rms']:.2e}, max {r['max']:.2e}, mean KL {r['kl']:.1e}, "
            f"same argmax {100 * r['top1']:.1f} %; loss llama.cpp {r['loss_l']:.6f} vs tessera {r['loss_t']:.6f}")
effect = np.load(f"{work}/t_f16_lora.npy").astype(np.float64) - np.load(f"{work}/t_f16.npy")
print(f"  the adapter moves Tessera's logits by rms {np.sqrt(np.mean(effect ** 2)):.2f} (max {np.abs(effect).max():.1f}) "
      f"and the loss by {t_adapter - t_base:+.5f}")
# The logits files are the forward whose loss `eval` printed.
for name, printed in [("base", t_base), ("lora", t_adapter), ("f16", t_f16), ("f16_lora", t_f16_adapter), ("merged", t_merged)]:
    from_file = loss(np.load(f"{work}/t_{name}.npy"))
    check(abs(from_file - printed) <= 1e-5, f"tessera eval --logits ({name}): the file's loss {from_file:.6f}, printed {printed:.6f}")
# (a) The Q4_1 base: llama.cpp rounds activations to Q8_1 for Q4_1 products, which sets the level.
base = compare("base")
check(abs(base["loss_l"] - base["loss_t"]) <= q4_tol and base["top1"] >= 0.95,
      f"(a) Q4_1 base alone: {show(base)} (llama.cpp's Q8_1 activations; loss within {q4_tol:g}, same argmax ≥ 95 %)")
# (b) The GGUF LoRA on that base, held to the base's own level.
lora = compare("lora")
check(lora["rms"] <= 1.25 * base["rms"] and lora["kl"] <= 1.25 * base["kl"]
      and abs((lora["loss_l"] - lora["loss_t"]) - (base["loss_l"] - base["loss_t"])) <= q4_tol,
      f"(b) Q4_1 base + GGUF LoRA: {show(lora)} (held to the base alone: rms ≤ {1.25 * base['rms']:.2e}, "
      f"KL ≤ {1.25 * base['kl']:.1e})")
# An f16 base (Tessera's merge of a zero adapter): llama.cpp rounds activations to f16 only.
f16 = compare("f16")
check(f16["rms"] <= f16_rms and abs(f16["loss_l"] - f16["loss_t"]) <= tol,
      f"(b) f16 base alone: {show(f16)} (rms ≤ {f16_rms:g}, loss within {tol:g})")
level = 1.5 * f16["rms"]
for name, tessera_name, what in [("f16_lora", None, "(b) f16 base + GGUF LoRA"),
                                 ("merged", None, "(c) merged GGUF (f16), tessera on the same file"),
                                 ("merged", "lora", "(c) merged GGUF (f16) vs tessera --adapter on the Q4_1 base")]:
    r = compare(name, tessera_name)
    check(r["rms"] <= level and abs(r["loss_l"] - r["loss_t"]) <= tol,
          f"{what}: {show(r)} (held to the f16 base: rms ≤ {level:.2e}, loss within {tol:g})")
sys.exit(1 if failed else 0)
PY
); tally "logit comparison" $? "$out"

# 3. The quantized merges (--quant q8_0, q4_k_m) in llama.cpp: perplexity of the assistant answers
# of the demo's held-out conversations (examples/support/valid.jsonl, rendered and masked by
# `tessera tokenize --chat --json`, the tokens `eval --mask-prompt` counts) against the f16 merge.
t0=$(date +%s)
for quant in q8_0 q4_k_m; do
  "$tessera" merge --adapter "$adapter" --format gguf --quant $quant --out "$work/merged-$quant.gguf" >> "$work/export.log" 2>&1 \
    || { tail -3 "$work/export.log"; fail "tessera merge --quant $quant"; finish; }
done
while IFS= read -r row; do
  printf '%s' "$row" | "$tessera" tokenize --chat --json \
    | python3 -c "import json, sys; d = json.load(sys.stdin); print(json.dumps({'input_ids': d['input_ids'], 'labels': d['labels']}))" \
    || { fail "tessera tokenize --chat on $heldout"; finish; }
done < "$heldout" > "$work/heldout.jsonl"
t_q=()
for file in merged merged-q8_0 merged-q4_k_m; do
  loss=$(tessera_eval - "$work/heldout.jsonl" --model "$work/$file.gguf") || { fail "tessera eval $file.gguf"; finish; }
  t_q+=("$loss")
done
"$py" - "$work" > "$work/llama-ppl.json" 2> "$work/llama.err" <<'PY'
import ctypes, json, sys
import numpy as np
import llama_cpp
from llama_cpp import Llama, GGML_TYPE_F32
work = sys.argv[1]
rows = [json.loads(line) for line in open(f"{work}/heldout.jsonl")]
# llama.cpp's own Q4_K_M of the f16 merge (what llama-quantize writes), the yardstick for ours.
params = llama_cpp.llama_model_quantize_default_params()
params.ftype, params.nthread = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M, 2
if llama_cpp.llama_model_quantize(f"{work}/merged.gguf".encode(), f"{work}/llama-q4_k_m.gguf".encode(), ctypes.byref(params)) != 0:
    sys.exit("llama_model_quantize failed")
result = {}
for file in ["merged", "merged-q8_0", "merged-q4_k_m", "llama-q4_k_m"]:
    llm = Llama(model_path=f"{work}/{file}.gguf", n_ctx=max(len(r["input_ids"]) for r in rows) + 16, n_batch=512,
                n_ubatch=512, n_threads=2, logits_all=True, type_k=GGML_TYPE_F32, type_v=GGML_TYPE_F32, seed=0, verbose=False)
    total, count = 0.0, 0
    for r in rows:
        ids, labels = r["input_ids"], r["labels"]
        llm.reset()
        llm.eval(ids)
        s = np.asarray(llm.scores[:len(ids)], dtype=np.float64)
        m = s.max(axis=1)
        lse = m + np.log(np.exp(s - m[:, None]).sum(axis=1))
        for i in range(len(ids) - 1):
            if labels[i + 1] != -100:
                total += lse[i] - s[i, labels[i + 1]]
                count += 1
    result[file] = {"loss": total / count, "tokens": count}
print(json.dumps(result))
PY
[ $? -eq 0 ] || { tail -5 "$work/llama.err"; fail "llama-cpp-python could not run the quantized merges"; finish; }
echo "quantized merges: merged, tokenized and evaluated in tessera and llama.cpp in $(( $(date +%s) - t0 )) s"
out=$(python3 - "$work/llama-ppl.json" "${t_q[@]}" "$q4_tolerance" <<'PY'
import json, math, sys
l = json.load(open(sys.argv[1]))
files = ["merged", "merged-q8_0", "merged-q4_k_m"]
tessera = dict(zip(files, map(float, sys.argv[2:5])))
q4_tol = float(sys.argv[5])
failed = 0
def check(ok, text):
    global failed
    failed += not ok
    print(("PASS " if ok else "FAIL ") + text)
f16 = math.exp(l["merged"]["loss"])
print(f"  {l['merged']['tokens']} held-out assistant tokens; llama.cpp perplexity of the f16 merge {f16:.4f} "
      f"(tessera {math.exp(tessera['merged']):.4f})")
q8 = math.exp(l["merged-q8_0"]["loss"])
check(abs(q8 / f16 - 1) <= 0.01, f"merged-q8_0.gguf in llama.cpp: perplexity {q8:.4f}, {100 * (q8 / f16 - 1):+.2f} % "
      f"from the f16 merge (bound ±1 %; tessera on the file: {math.exp(tessera['merged-q8_0']):.4f})")
# Q4_K_M is held to llama.cpp's own quantization of the same f16 merge: how far Q4_K_M itself is
# from f16 depends on the model (small models lose more), which Tessera does not choose.
q4, own = math.exp(l["merged-q4_k_m"]["loss"]), math.exp(l["llama-q4_k_m"]["loss"])
check(abs(q4 / own - 1) <= 0.01, f"merged-q4_k_m.gguf in llama.cpp: perplexity {q4:.4f}, {100 * (q4 / own - 1):+.2f} % from "
      f"llama.cpp's own Q4_K_M of the f16 merge ({own:.4f}; bound ±1 %); tessera on the file: {math.exp(tessera['merged-q4_k_m']):.4f}")
print(f"  Q4_K_M vs f16: Tessera's {100 * (q4 / f16 - 1):+.2f} %, llama.cpp's own {100 * (own / f16 - 1):+.2f} % "
      f"({'within' if abs(q4 / f16 - 1) <= 0.05 else 'beyond'} ±5 %)")
for file in files:
    d = l[file]["loss"] - tessera[file]
    check(abs(d) <= q4_tol, f"{file}.gguf: llama.cpp loss {l[file]['loss']:.6f} vs tessera eval on the same file "
          f"{tessera[file]:.6f}: {d:+.2e} (tolerance {q4_tol:g}; llama.cpp quantizes activations for quantized products)")
sys.exit(1 if failed else 0)
PY
); tally "quantized merge perplexity" $? "$out"
echo "total $(( $(date +%s) - start )) s"
finish
