#!/usr/bin/env python3
"""Holds Tessera's GGUF files to llama.cpp itself (through llama-cpp-python): the merged model
and the base + LoRA adapter pair, on the same ids, against Tessera's own logits.

usage: check_llamacpp_gguf.py MERGED_GGUF BASE_GGUF LORA_GGUF IDS_JSON TESSERA_LOGITS_NPY [TOLERANCE]
MERGED_GGUF is `tessera merge --format gguf --dtype f32` of a model and an adapter, BASE_GGUF
the model alone as GGUF (the merge of the adapter with B zeroed), LORA_GGUF `tessera export --adapter
--format gguf` of the adapter, IDS_JSON a JSON object with "input_ids", TESSERA_LOGITS_NPY
`tessera eval --logits` of the merged model on those ids. llama.cpp evaluates the ids (no BOS
added) with every position's logits kept; the check is the largest logit difference and the
mean next-token loss of each, against TOLERANCE (default 1e-3 on the logits). Prints one line of
JSON; exits 1 when a check fails, 2 when llama-cpp-python or numpy is missing."""
import json
import math
import sys

try:
    import numpy as np
    from llama_cpp import Llama
except ImportError as error:
    print(f"check_llamacpp_gguf.py needs llama-cpp-python and numpy: {error}", file=sys.stderr)
    sys.exit(2)

merged, base, lora, ids_path, ours_path = sys.argv[1:6]
tolerance = float(sys.argv[6]) if len(sys.argv) > 6 else 1e-3
ids = json.load(open(ids_path))["input_ids"]
ours = np.load(ours_path)


def logits(model_path, lora_path=None):
    # An f32 KV cache: llama.cpp's default f16 one rounds k and v (scripts/check_llamacpp.sh).
    llm = Llama(model_path=model_path, lora_path=lora_path, n_ctx=max(64, len(ids)), n_batch=64, n_ubatch=64,
                logits_all=True, n_threads=2, type_k=0, type_v=0, verbose=False, seed=0)   # 0: GGML_TYPE_F32
    llm.eval(ids)
    return np.array(llm.scores[: len(ids)], dtype=np.float64)


def loss(values):
    total = 0.0
    for t in range(len(ids) - 1):
        row = values[t]
        top = row.max()
        total += math.log(np.exp(row - top).sum()) + top - row[ids[t + 1]]
    return float(total / (len(ids) - 1))


result = {"tokens": len(ids), "tessera_loss": loss(ours)}
ok = True
for name, values in [("merged", logits(merged)), ("base_plus_lora", logits(base, lora))]:
    difference = float(np.abs(values - ours).max())
    result[f"{name}_max_logit_difference"] = difference
    result[f"{name}_loss"] = loss(values)
    ok = ok and difference <= tolerance
print(json.dumps(result))
sys.exit(0 if ok else 1)
