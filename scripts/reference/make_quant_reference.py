#!/usr/bin/env python3
"""Writes the GGML block-quantization reference set in Tests/Fixtures/reference/quant from the
`gguf` package's numpy implementations (numpy + gguf only, no torch):

  q8_0.json, q5_0.json  input blocks, the bytes gguf.quants quantizes them to (its Q8_0 and Q5_0
                        quantizers are written to be bit-exact with ggml's reference ones) and
                        gguf's dequantization of those bytes;
  kquants.json          input super-blocks (float32 little-endian, hex) for the Q4_K / Q6_K
                        quantizers with the bytes llama.cpp's own reference quantizers give
                        (`quantize_row_q4_K_ref` / `quantize_row_q6_K_ref`, run through the small
                        driver that build_ggml_quant_driver.sh compiles from the llama.cpp copy in
                        the llama-cpp-python sdist: gguf 0.19.0 has no K-quant quantizer), plus
                        seeded random Q4_K / Q6_K / Q5_0 block bytes with gguf's dequantization,
                        which holds Tessera's dequantizers (the reader side of a quantized export)
                        to gguf's.

    scripts/reference/build_ggml_quant_driver.sh DRIVER_DIR    # prints the driver's path
    python make_quant_reference.py --ggml-driver DRIVER_DIR/driver --out Tests/Fixtures/reference/quant

Every block list mixes seeded normal values with edge cases: all zeros, constant rows
(positive and negative), one large outlier, negative-only, tiny (subnormal-scale) values.
"""
import argparse
import importlib.metadata
import json
import os
import subprocess

import numpy as np

import gguf
from gguf import GGMLQuantizationType as T
from gguf import quants


def edge_blocks(n, rng):
    """Edge-case blocks of n values, then seeded normal ones."""
    blocks = [
        np.zeros(n),
        np.full(n, 0.75),
        np.full(n, -2.5),
        np.where(np.arange(n) == n // 3, 1000.0, rng.normal(size=n)),
        -np.abs(rng.normal(size=n)),
        rng.normal(size=n) * 1e-30,
        np.linspace(-1.0, 1.0, n),
        rng.normal(size=n) * 0.02,  # the scale of trained LLM weights
    ]
    blocks += [rng.normal(size=n) * s for s in (0.05, 1.0, 3.0, 0.01)]
    return np.array(blocks, dtype=np.float32)


def floats(a):
    # float32 -> the exact decimal of its double: parses back to the same float32.
    return [[float(v) for v in row] for row in np.asarray(a, dtype=np.float32)]


def legacy(qtype, rng):
    x = edge_blocks(32, rng)
    q = quants.quantize(x, qtype)
    y = quants.dequantize(q, qtype)
    return {"type": qtype.name, "inputs": floats(x), "bytes": [bytes(r).hex() for r in q],
            "dequantized": floats(y)}


def random_blocks(qtype, count, rng):
    """Random block bytes with a sane fp16 scale (d, dmin) so values stay finite."""
    size = gguf.GGML_QUANT_SIZES[qtype][1]
    raw = rng.integers(0, 256, size=(count, size), dtype=np.uint8)
    half_offsets = {T.Q4_K: (0, 2), T.Q6_K: (size - 2,), T.Q5_0: (0,)}[qtype]
    for off in half_offsets:
        raw[:, off:off + 2] = (rng.normal(size=count) * 0.01).astype(np.float16).view(np.uint8).reshape(count, 2)
    y = quants.dequantize(raw, qtype).reshape(count, -1)
    return {"type": qtype.name, "bytes": [bytes(r).hex() for r in raw], "dequantized": floats(y)}


def kquants(driver, rng):
    x = edge_blocks(256, rng)
    x = np.concatenate([x, (rng.normal(size=(12, 256)) * rng.choice([0.005, 0.02, 0.1, 1.0], size=(12, 1)))
                        .astype(np.float32)])
    n = len(x)
    out = subprocess.run([driver, str(n)], input=x.astype("<f4").tobytes(), capture_output=True, check=True).stdout
    if len(out) != n * (144 + 210):
        raise SystemExit(f"{driver} wrote {len(out)} bytes, expected {n * (144 + 210)}")
    q4, q6 = out[:144 * n], out[144 * n:]
    return {
        "inputs_f32le": [row.astype("<f4").tobytes().hex() for row in x],
        "q4_K": [q4[144 * i:144 * (i + 1)].hex() for i in range(n)],
        "q6_K": [q6[210 * i:210 * (i + 1)].hex() for i in range(n)],
        "random_blocks": [random_blocks(t, 4, rng) for t in (T.Q4_K, T.Q6_K, T.Q5_0)],
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--ggml-driver", required=True,
                        help="the driver build_ggml_quant_driver.sh compiles (reads float32 super-blocks "
                             "on stdin, writes ggml's Q4_K then Q6_K bytes)")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    files = {
        "q8_0.json": legacy(T.Q8_0, rng),
        "q5_0.json": legacy(T.Q5_0, rng),
        "kquants.json": kquants(args.ggml_driver, rng),
    }
    for name, content in files.items():
        with open(os.path.join(args.out, name), "w") as f:
            json.dump(content, f, separators=(",", ":"))
            f.write("\n")
    with open(os.path.join(args.out, "versions.json"), "w") as f:
        json.dump({"gguf": importlib.metadata.version("gguf"), "numpy": np.__version__,
                   "seed": args.seed, "k_quant_bytes": "llama.cpp ggml/src/ggml-quants.c from the "
                   "llama-cpp-python 0.3.36 sdist, quantize_row_q4_K_ref / quantize_row_q6_K_ref, gcc -O2"},
                  f, indent=1)
        f.write("\n")
    print(f"[make_quant_reference] wrote {', '.join(files)} to {args.out}")


if __name__ == "__main__":
    main()
