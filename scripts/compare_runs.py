#!/usr/bin/env python3
"""Compares training runs of the same job on different meshes (no third-party packages).

usage: compare_runs.py REFERENCE_DIR OTHER_DIR [--tolerance 1e-4] [--adapter-tolerance T]
Checks every step's loss (metrics.jsonl) and every adapter tensor
(adapter/adapter_model.safetensors, relative L2 error) against the reference run.
Prints one line per check and exits 1 on any mismatch."""
import argparse, array, json, math, struct, sys


def losses(run, key="loss"):
    with open(f"{run}/metrics.jsonl") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [row[key] for row in rows if key in row]


def tensors(run):
    path = f"{run}/adapter/adapter_model.safetensors"
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    base = 8 + length
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", (name, info["dtype"])
        begin, end = info["data_offsets"]
        values = array.array("f")
        values.frombytes(data[base + begin:base + end])
        out[name] = values
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("reference")
    parser.add_argument("other")
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--adapter-tolerance", type=float, default=None,
                        help="relative L2 error allowed per adapter tensor (default: --tolerance)")
    args = parser.parse_args()
    adapter_tolerance = args.tolerance if args.adapter_tolerance is None else args.adapter_tolerance
    ok = True
    ref_losses, other_losses = losses(args.reference), losses(args.other)
    if len(ref_losses) != len(other_losses):
        print(f"  steps differ: {len(ref_losses)} vs {len(other_losses)}")
        ok = False
    worst_loss = 0.0
    for step, (a, b) in enumerate(zip(ref_losses, other_losses), 1):
        relative = abs(a - b) / abs(a)
        worst_loss = max(worst_loss, relative)
        if relative > args.tolerance:
            print(f"  step {step}: loss {b} vs {a} (relative {relative:.2e})")
            ok = False
    ref_eval, other_eval = losses(args.reference, "eval_loss"), losses(args.other, "eval_loss")
    if len(ref_eval) != len(other_eval):
        print(f"  eval points differ: {len(ref_eval)} vs {len(other_eval)}")
        ok = False
    for a, b in zip(ref_eval, other_eval):
        if abs(a - b) > args.tolerance * abs(a):
            print(f"  eval loss {b} vs {a}")
            ok = False
    ref_tensors, other_tensors = tensors(args.reference), tensors(args.other)
    if set(ref_tensors) != set(other_tensors):
        print("  adapter keys differ")
        ok = False
    worst_tensor = (0.0, "")
    for name, ref in ref_tensors.items():
        other = other_tensors.get(name)
        if other is None or len(other) != len(ref):
            ok = False
            continue
        diff = math.sqrt(sum((x - y) ** 2 for x, y in zip(ref, other)))
        norm = math.sqrt(sum(x * x for x in ref)) or 1.0
        if diff / norm > worst_tensor[0]:
            worst_tensor = (diff / norm, name)
        if diff / norm > adapter_tolerance:
            print(f"  {name}: relative L2 error {diff / norm:.2e}")
            ok = False
    print(f"  {len(ref_losses)} step losses, worst relative difference {worst_loss:.2e}; {len(ref_eval)} eval losses; "
          f"{len(ref_tensors)} adapter tensors, worst relative L2 error {worst_tensor[0]:.2e} ({worst_tensor[1]})")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
