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
#   - compares the mean next-token loss of a fixed chat (Tests/Fixtures/reference/smollm2/text.json,
#     91 token ids, fed as ids so tokenizers play no part) from llama.cpp's logits (logits_all=True)
#     with `tessera eval --base-quant none` (Tessera prints no logits, so the loss is compared):
#       (a) the Q4_1 base GGUF alone. llama.cpp quantizes activations to Q8_1 for Q4_1 products, so
#           it is held to q4_tolerance (0.02; about 1e-2 measured) and its difference d_base is the level
#           the adapter run on this base is held to;
#       (b) the Q4_1 base with the GGUF LoRA (Llama(model_path, lora_path)): |d_lora - d_base| <= q4_tolerance;
#           and, tightly, an f16 base (Tessera's merge of a zero adapter, i.e. the base rounded to
#           f16) alone and with the GGUF LoRA against `tessera eval --model that.gguf [--adapter]`:
#           <= f16_tolerance (2e-3; llama.cpp rounds activations to f16 for f16 products, up to 7e-4 measured);
#       (c) the merged GGUF loaded alone, against `tessera eval --model merged.gguf` (same weights)
#           and against `tessera eval --adapter` on the Q4_1 base (f16 rounding of the merged
#           weights included): <= f16_tolerance.
#     llama.cpp runs with an f32 KV cache (type_k = type_v = F32): with its default f16 cache the
#     Q4_1 runs moved by up to 1.7e-2 and |d_lora - d_base| was 1.9e-2 (3.3e-3 with f32).
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
q4_tolerance=0.02
tessera=${TESSERA:-.build/release/tessera}
model=models/SmolLM2-135M-Instruct.Q4_1.gguf
reference=Tests/Fixtures/reference/smollm2/text.json
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
  "$tessera" train --data Tests/Fixtures/chat_small.jsonl --steps 20 --batch-size 4 --max-seq-len 128 --lr 2e-3 \
    --lora-r 8 --lora-targets all-linear --out "$work/run" --progress log > "$work/train.log" 2>&1 \
    || { tail -5 "$work/train.log"; fail "tessera train"; finish; }
  adapter=$work/run/adapter
  echo "trained $adapter (20 steps, r 8, all-linear) in $(( $(date +%s) - t0 )) s"
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

# 2. Losses.
python3 -c "import json; print(json.dumps({'input_ids': json.load(open('$reference'))['input_ids']}))" > "$work/ids.jsonl"
tessera_loss() {
  "$tessera" eval --data "$work/ids.jsonl" --base-quant none --json "$@" | python3 -c "import json, sys; print(json.load(sys.stdin)['loss'])"
}
t0=$(date +%s)
t_base=$(tessera_loss) && t_adapter=$(tessera_loss --adapter "$adapter") && t_f16=$(tessera_loss --model "$work/base-f16.gguf") \
  && t_f16_adapter=$(tessera_loss --model "$work/base-f16.gguf" --adapter "$adapter") && t_merged=$(tessera_loss --model "$work/merged.gguf") \
  || { fail "tessera eval"; finish; }
echo "tessera eval: 5 runs in $(( $(date +%s) - t0 )) s"
t0=$(date +%s)
"$py" - "$reference" "$model" "$work/lora.gguf" "$work/base-f16.gguf" "$work/merged.gguf" > "$work/llama.json" 2> "$work/llama.err" <<'EOF'
import json, sys
import numpy as np
from llama_cpp import Llama, GGML_TYPE_F32
ids = json.load(open(sys.argv[1]))["input_ids"]
base, lora, base_f16, merged = sys.argv[2:6]
def loss(model_path, lora_path=None):
    llm = Llama(model_path=model_path, lora_path=lora_path, n_ctx=256, n_batch=256, n_ubatch=256, n_threads=2,
                logits_all=True, type_k=GGML_TYPE_F32, type_v=GGML_TYPE_F32, seed=0, verbose=False)
    llm.eval(ids)
    s = np.asarray(llm.scores[:len(ids)], dtype=np.float64)
    m = s.max(axis=1)
    lse = m + np.log(np.exp(s - m[:, None]).sum(axis=1))
    return float(np.mean(lse[:-1] - s[np.arange(len(ids) - 1), ids[1:]]))
print(json.dumps({"base": loss(base), "lora": loss(base, lora), "f16": loss(base_f16),
                  "f16_lora": loss(base_f16, lora), "merged": loss(merged)}))
EOF
[ $? -eq 0 ] || { tail -5 "$work/llama.err"; fail "llama-cpp-python could not load or run the models"; finish; }
echo "llama.cpp: 5 runs in $(( $(date +%s) - t0 )) s"
out=$(python3 - "$work/llama.json" "$t_base" "$t_adapter" "$t_f16" "$t_f16_adapter" "$t_merged" "$f16_tolerance" "$q4_tolerance" <<'EOF'
import json, sys
l = json.load(open(sys.argv[1]))
t_base, t_adapter, t_f16, t_f16_adapter, t_merged, tol, q4_tol = map(float, sys.argv[2:9])
failed = 0
def check(ok, text):
    global failed
    failed += not ok
    print(("PASS " if ok else "FAIL ") + text)
d_base, d_lora = l["base"] - t_base, l["lora"] - t_adapter
print(f"  adapter effect: tessera {t_adapter - t_base:+.5f}, llama.cpp {l['lora'] - l['base']:+.5f} (Q4_1 base), "
      f"{l['f16_lora'] - l['f16']:+.5f} (f16 base)")
check(abs(d_base) <= q4_tol, f"(a) Q4_1 base alone: llama.cpp {l['base']:.6f} vs tessera {t_base:.6f}: "
      f"d_base {d_base:+.2e} (tolerance {q4_tol:g}; llama.cpp's Q8_1 activations)")
check(abs(d_lora - d_base) <= q4_tol, f"(b) Q4_1 base + GGUF LoRA: llama.cpp {l['lora']:.6f} vs tessera --adapter "
      f"{t_adapter:.6f}: d_lora {d_lora:+.2e}, |d_lora - d_base| {abs(d_lora - d_base):.2e} (tolerance {q4_tol:g})")
d_f16 = l["f16"] - t_f16
check(abs(d_f16) <= tol, f"(b) f16 base alone: llama.cpp {l['f16']:.6f} vs tessera {t_f16:.6f}: {d_f16:+.2e} (tolerance {tol:g})")
d = l["f16_lora"] - t_f16_adapter
check(abs(d) <= tol, f"(b) f16 base + GGUF LoRA: llama.cpp {l['f16_lora']:.6f} vs tessera --adapter {t_f16_adapter:.6f}: "
      f"{d:+.2e}, minus the f16 base's {d - d_f16:+.2e} (tolerance {tol:g})")
d = l["merged"] - t_merged
check(abs(d) <= tol, f"(c) merged GGUF (f16) alone: llama.cpp {l['merged']:.6f} vs tessera on the same file {t_merged:.6f}: "
      f"{d:+.2e} (tolerance {tol:g})")
d = l["merged"] - t_adapter
check(abs(d) <= tol, f"(c) merged GGUF (f16) alone: llama.cpp {l['merged']:.6f} vs tessera --adapter on the Q4_1 base "
      f"{t_adapter:.6f}: {d:+.2e} (tolerance {tol:g}; includes the f16 rounding of the merged weights)")
EOF
); tally "loss comparison" $? "$out"
echo "total $(( $(date +%s) - start )) s"
finish
