#!/usr/bin/env python3
"""Compares two reference sets (say, the committed fixtures and a fresh run of make_reference.py):
every number in every JSON file, every tensor in every safetensors file, every adapter file.

    compare.py EXPECTED_DIR ACTUAL_DIR [--rtol 1e-5]

Prints one line per file: identical, or the largest relative difference and where it is. Text
that only describes how a file was made (notes, versions) is not compared. Exits 1 when a file
is missing, a key or shape differs, an id or a string differs, or a number is off by more than
--rtol (relative, with an absolute floor of rtol for values near zero).
Needs only numpy (safetensors files are read directly).
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

DESCRIPTIVE = {"note", "notes", "_note", "_about", "init", "what", "compute_path", "avx512_bf16_caveat", "versions",
               "call", "prompt", "stop_rule", "optimizer", "tokenizer", "encode", "decode", "digit_split_note",
               "how_made", "calls", "backend", "generation_config", "transformers_version", "input",
               "special_tokens_in_text"}

DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "U8": np.uint8, "I8": np.int8,
          "I32": np.int32, "I64": np.int64, "BF16": np.uint16}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        tensors[name] = np.frombuffer(data[start:end], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
    return tensors


class Diff:
    def __init__(self, rtol):
        self.rtol, self.worst, self.where, self.errors = rtol, 0.0, "", []

    def number(self, a, b, path):
        if a == b:
            return
        if a is None or b is None or isinstance(a, bool) or isinstance(b, bool):
            self.errors.append(f"{path}: {a!r} != {b!r}")
            return
        rel = abs(a - b) / max(abs(a), abs(b), self.rtol)
        if rel > self.worst:
            self.worst, self.where = rel, f"{path} ({a!r} vs {b!r})"

    def value(self, a, b, path, integers_exact):
        if isinstance(a, dict) and isinstance(b, dict):
            keys_a = {k for k in a if k not in DESCRIPTIVE}
            keys_b = {k for k in b if k not in DESCRIPTIVE}
            if keys_a != keys_b:
                self.errors.append(f"{path}: keys differ: only expected {sorted(keys_a - keys_b)}, "
                                   f"only actual {sorted(keys_b - keys_a)}")
            for k in sorted(keys_a & keys_b):
                self.value(a[k], b[k], f"{path}.{k}", integers_exact or k.endswith("ids") or k == "ids")
        elif isinstance(a, list) and isinstance(b, list):
            if path.endswith("target_modules"):  # PEFT writes a set: its order is arbitrary
                a, b = sorted(a), sorted(b)
            if len(a) != len(b):
                self.errors.append(f"{path}: length {len(a)} != {len(b)}")
                return
            for i, (x, y) in enumerate(zip(a, b)):
                self.value(x, y, f"{path}[{i}]", integers_exact)
        elif isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
            if integers_exact and isinstance(a, int) and isinstance(b, int):
                if a != b:
                    self.errors.append(f"{path}: {a} != {b}")
            else:
                self.number(float(a), float(b), path)
        elif a != b:
            self.errors.append(f"{path}: {str(a)[:80]!r} != {str(b)[:80]!r}")

    def tensors(self, a, b, path):
        if set(a) != set(b):
            self.errors.append(f"{path}: tensor names differ: {sorted(set(a) ^ set(b))[:6]}")
        for name in sorted(set(a) & set(b)):
            x, y = a[name], b[name]
            if x.shape != y.shape or x.dtype != y.dtype:
                self.errors.append(f"{path}:{name}: {x.dtype}{list(x.shape)} != {y.dtype}{list(y.shape)}")
            elif x.dtype.kind in "ui":
                if not np.array_equal(x, y):
                    self.errors.append(f"{path}:{name}: {int((x != y).sum())} of {x.size} integers differ")
            else:
                xd, yd = x.astype(np.float64), y.astype(np.float64)
                if np.array_equal(xd, yd, equal_nan=True):
                    continue
                scale = np.maximum(np.maximum(np.abs(xd), np.abs(yd)), self.rtol)
                rel = np.abs(xd - yd) / scale
                i = int(np.nanargmax(rel))
                if rel.flat[i] > self.worst:
                    self.worst, self.where = float(rel.flat[i]), f"{path}:{name}[{i}] ({xd.flat[i]!r} vs {yd.flat[i]!r})"


def files(root):
    found = []
    for d, _, names in os.walk(root):
        for n in names:
            if n.endswith((".json", ".safetensors")) and n != "versions.json":
                found.append(os.path.relpath(os.path.join(d, n), root))
    return sorted(found)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("expected")
    parser.add_argument("actual")
    parser.add_argument("--rtol", type=float, default=1e-5)
    args = parser.parse_args()
    bad = False
    for rel in files(args.expected):
        a_path, b_path = os.path.join(args.expected, rel), os.path.join(args.actual, rel)
        if not os.path.exists(b_path):
            print(f"MISSING   {rel}")
            bad = True
            continue
        diff = Diff(args.rtol)
        if rel.endswith(".json"):
            diff.value(json.load(open(a_path, encoding="utf-8")), json.load(open(b_path, encoding="utf-8")), rel, False)
        else:
            diff.tensors(read_safetensors(a_path), read_safetensors(b_path), rel)
        if diff.errors:
            bad = True
            print(f"DIFFERENT {rel}")
            for e in diff.errors[:8]:
                print(f"    {e}")
        elif diff.worst > args.rtol:
            bad = True
            print(f"DIFFERENT {rel}: max relative difference {diff.worst:.2e} at {diff.where}")
        elif diff.worst > 0:
            print(f"close     {rel}: max relative difference {diff.worst:.2e} at {diff.where}")
        else:
            print(f"identical {rel}")
    for rel in files(args.actual):
        if not os.path.exists(os.path.join(args.expected, rel)):
            print(f"EXTRA     {rel}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
