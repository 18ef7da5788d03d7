#!/usr/bin/env python3
"""The two halves of scripts/quality_table.sh.

  quality_table.py row RUN CONFIG SEED   one run's result.json (stdout), from RUN/train.log,
                                         RUN/train/metrics.jsonl, RUN/eval.json, RUN/facts.json
  quality_table.py table OUT             the Markdown table over OUT/runs/*/result.json

A configuration's cell is the mean over the seeds with the smallest and largest value, so a
difference between two rows is only claimed where their seed ranges do not overlap.
"""
import glob
import json
import os
import re
import statistics
import sys

ORDER = ["fp32", "stored", "nf4", "nf4-dq", "nf4-dq-bf16", "r4", "r64", "qv"]
LABELS = {
    "fp32": "base fp32 (`--base-quant none`)",
    "nf4": "NF4, no double quantization",
    "nf4-dq": "NF4 + DQ (default: r 16, all seven projections)",
    "nf4-dq-bf16": "NF4 + DQ, bf16 products",
    "stored": "the GGUF's stored blocks (`--base-quant stored`)",
    "r4": "NF4 + DQ, r 4",
    "r64": "NF4 + DQ, r 64",
    "qv": "NF4 + DQ, q_proj + v_proj only",
}


def row(run, config, seed):
    log = open(os.path.join(run, "train.log"), encoding="utf-8").read()
    trainable = re.search(r"trainable params: ([\d,]+)", log)
    peaks = re.search(r"peak RSS per rank: (.*)", log)
    if not trainable or not peaks:
        sys.exit(f"{run}/train.log lacks the trainable-parameter or peak-RSS line")
    steps = [json.loads(l) for l in open(os.path.join(run, "train", "metrics.jsonl")) if l.strip()]
    steps = [s for s in steps if "tokens" in s and "seconds" in s]
    evaluation = json.load(open(os.path.join(run, "eval.json")))
    facts = json.load(open(os.path.join(run, "facts.json")))
    return json.dumps({
        "config": config, "seed": int(seed),
        "eval_loss": evaluation["loss"],
        "facts": facts["correct"], "facts_total": facts["total"],
        "trainable": int(trainable.group(1).replace(",", "")),
        "peak_rss_mb": [int(m) for m in re.findall(r"(\d+) MB", peaks.group(1))],
        "tokens_per_s": sum(s["tokens"] for s in steps) / sum(s["seconds"] for s in steps),
        "train_loss_last": steps[-1]["loss"], "steps": len(steps),
        "answers": facts.get("answers", facts.get("results")),
    }, indent=1)


def cell(values, fmt):
    mean = statistics.fmean(values)
    if len(values) == 1:
        return fmt.format(mean)
    return (fmt + " (" + fmt + "–" + fmt + ")").format(mean, min(values), max(values))


def table(out):
    results = [json.load(open(p)) for p in sorted(glob.glob(os.path.join(out, "runs", "*", "result.json")))]
    if not results:
        sys.exit(f"no results under {out}/runs")
    by_config = {}
    for r in results:
        by_config.setdefault(r["config"], []).append(r)
    lines = []
    setup = os.path.join(out, "setup.txt")
    if os.path.exists(setup):
        lines += [f"- {l}" for l in open(setup).read().splitlines()]
        lines.append("")
    lines += ["| configuration | seeds | held-out eval loss | held-out facts (of %d) | trainable | peak RSS per rank (MB) | tokens/s |"
              % results[0]["facts_total"],
              "|---|---|---|---|---|---|---|"]
    for config in sorted(by_config, key=lambda c: ORDER.index(c) if c in ORDER else len(ORDER)):
        rs = by_config[config]
        rss = [max(r["peak_rss_mb"]) for r in rs]
        lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            LABELS.get(config, config), ",".join(str(r["seed"]) for r in sorted(rs, key=lambda r: r["seed"])),
            cell([r["eval_loss"] for r in rs], "{:.4f}"), cell([r["facts"] for r in rs], "{:.1f}"),
            f"{rs[0]['trainable']:,}", cell(rss, "{:.0f}"), cell([r["tokens_per_s"] for r in rs], "{:.0f}")))
    lines.append("")
    lines.append("mean over the seeds (smallest–largest); peak RSS is the largest rank's.")
    lines += [""] + paired(by_config)
    return "\n".join(lines)


def paired(by_config, reference="nf4-dq"):
    """Each configuration against the reference, seed by seed: the same seed gives both runs the
    same data order, adapter initialisation and dropout, so the per-seed difference carries less
    noise than the two means do."""
    if reference not in by_config:
        return []
    ref = {r["seed"]: r for r in by_config[reference]}
    lines = [f"Paired with {LABELS[reference]} at the same seed (configuration minus reference):", "",
             "| configuration | seeds | Δ held-out eval loss per seed | mean Δ loss | Δ facts per seed | mean Δ facts |",
             "|---|---|---|---|---|---|"]
    for config in sorted(by_config, key=lambda c: ORDER.index(c) if c in ORDER else len(ORDER)):
        if config == reference:
            continue
        rs = sorted((r for r in by_config[config] if r["seed"] in ref), key=lambda r: r["seed"])
        if not rs:
            continue
        dl = [r["eval_loss"] - ref[r["seed"]]["eval_loss"] for r in rs]
        df = [r["facts"] - ref[r["seed"]]["facts"] for r in rs]
        lines.append("| %s | %s | %s | %+.4f | %s | %+.1f |" % (
            LABELS.get(config, config), ",".join(str(r["seed"]) for r in rs),
            ", ".join("%+.4f" % d for d in dl), statistics.fmean(dl),
            ", ".join("%+d" % d for d in df), statistics.fmean(df)))
    return lines


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "row":
        print(row(*sys.argv[2:]))
    elif len(sys.argv) == 3 and sys.argv[1] == "table":
        print(table(sys.argv[2]))
    else:
        sys.exit(__doc__)
