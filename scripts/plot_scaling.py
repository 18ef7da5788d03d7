#!/usr/bin/env python3
"""Plot a scaling.csv from scripts/bench_scaling.sh as hand-written SVG (standard library only).

    python3 scripts/plot_scaling.py bench/results/<date>/scaling.csv [OUT_DIR]

Writes to OUT_DIR (default: the CSV's folder):
  tokens_per_s.svg   tokens/s against ranks, one line per mode x mesh (strong/weak, dp/tp/mixed), ideal as dashes
  efficiency.svg     scaling efficiency (speedup / ranks) against ranks, 100 % as dashes
  memory_vs_tp.svg   peak RSS per rank (largest rank) against tp, one line per dp, strong-scaling runs
"""
import csv
import math
import os
import sys
from xml.sax.saxutils import escape

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
MARKERS = ["circle", "square", "triangle", "diamond"]
W, H = 760, 440
LEFT, RIGHT, TOP, BOTTOM = 80, 220, 50, 60   # the legend sits in the right margin


def nice_step(span, target=5):
    raw = span / target if span > 0 else 1
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def fmt(v):
    if v == 0:
        return "0"
    if abs(v) >= 100 or float(v).is_integer():
        return f"{v:.0f}"
    if abs(v) >= 1:
        return f"{v:.1f}".rstrip("0").rstrip(".")
    return f"{v:.2f}".rstrip("0").rstrip(".")


def marker(kind, x, y, color, r=4.5):
    if kind == "square":
        return f'<rect x="{x - r:.1f}" y="{y - r:.1f}" width="{2 * r:.1f}" height="{2 * r:.1f}" fill="{color}"/>'
    if kind == "triangle":
        return (f'<polygon points="{x:.1f},{y - r - 1:.1f} {x - r - 1:.1f},{y + r:.1f} {x + r + 1:.1f},{y + r:.1f}" '
                f'fill="{color}"/>')
    if kind == "diamond":
        return (f'<polygon points="{x:.1f},{y - r - 1:.1f} {x + r + 1:.1f},{y:.1f} {x:.1f},{y + r + 1:.1f} '
                f'{x - r - 1:.1f},{y:.1f}" fill="{color}"/>')
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{color}"/>'


def line_chart(path, title, xlabel, ylabel, series, refs=(), y_percent=False, x_integer=True):
    """series: [(label, [(x, y), ...])]; refs: [(label, [(x, y), ...])] drawn dashed grey."""
    pts = [p for _, s in list(series) + list(refs) for p in s]
    if not pts:
        pts = [(1, 0), (2, 1)]
    xmin, xmax = min(p[0] for p in pts), max(p[0] for p in pts)
    if x_integer:
        xmin, xmax = math.floor(xmin), math.ceil(xmax)
    if xmax == xmin:
        xmin, xmax = xmin - 1, xmax + 1
    ymax = max(p[1] for p in pts) or 1
    ystep = nice_step(ymax * 1.05)
    ytop = ystep * math.ceil(ymax * 1.05 / ystep)
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    xpad = 0.05 * (xmax - xmin)

    def sx(x):
        return LEFT + (x - xmin + xpad) / (xmax - xmin + 2 * xpad) * pw

    def sy(y):
        return TOP + ph - y / ytop * ph

    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
         f'font-family="Helvetica, Arial, sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{LEFT + pw / 2:.1f}" y="{TOP - 22}" text-anchor="middle" font-size="15" '
         f'font-weight="bold">{escape(title)}</text>']
    # grid and y ticks
    y = 0.0
    while y <= ytop + 1e-9:
        yy = sy(y)
        o.append(f'<line x1="{LEFT}" y1="{yy:.1f}" x2="{LEFT + pw}" y2="{yy:.1f}" stroke="#e5e5e5"/>')
        o.append(f'<line x1="{LEFT - 5}" y1="{yy:.1f}" x2="{LEFT}" y2="{yy:.1f}" stroke="black"/>')
        label = f"{100 * y:.0f}%" if y_percent else fmt(y)
        o.append(f'<text x="{LEFT - 8}" y="{yy + 4:.1f}" text-anchor="end">{label}</text>')
        y += ystep
    # x ticks
    if x_integer:
        step = max(1, int(nice_step(xmax - xmin, 8)))
        xs = list(range(int(xmin), int(xmax) + 1, step))
    else:
        step = nice_step(xmax - xmin, 8)
        xs = [xmin + i * step for i in range(int((xmax - xmin) / step) + 1)]
    for x in xs:
        xx = sx(x)
        o.append(f'<line x1="{xx:.1f}" y1="{TOP + ph}" x2="{xx:.1f}" y2="{TOP + ph + 5}" stroke="black"/>')
        o.append(f'<text x="{xx:.1f}" y="{TOP + ph + 19}" text-anchor="middle">{fmt(x)}</text>')
    # axes and labels
    o.append(f'<line x1="{LEFT}" y1="{TOP + ph}" x2="{LEFT + pw}" y2="{TOP + ph}" stroke="black"/>')
    o.append(f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + ph}" stroke="black"/>')
    o.append(f'<text x="{LEFT + pw / 2:.1f}" y="{H - 15}" text-anchor="middle" font-size="13">{escape(xlabel)}</text>')
    o.append(f'<text x="18" y="{TOP + ph / 2:.1f}" text-anchor="middle" font-size="13" '
             f'transform="rotate(-90 18 {TOP + ph / 2:.1f})">{escape(ylabel)}</text>')
    # reference lines, then series
    legend = []
    for label, s in refs:
        s = sorted(s)
        if len(s) >= 2:
            d = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in s)
            o.append(f'<polyline points="{d}" fill="none" stroke="#888" stroke-width="1.5" stroke-dasharray="6,4"/>')
            legend.append((label, None, None))
    for i, (label, s) in enumerate(series):
        color, kind = COLORS[i % len(COLORS)], MARKERS[i % len(MARKERS)]
        s = sorted(s)
        if len(s) >= 2:
            d = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in s)
            o.append(f'<polyline points="{d}" fill="none" stroke="{color}" stroke-width="2"/>')
        for x, y in s:
            o.append(marker(kind, sx(x), sy(y), color))
        legend.append((label, color, kind))
    # legend box
    lx, ly = LEFT + pw + 16, TOP + 4
    o.append(f'<rect x="{lx - 8}" y="{ly - 14}" width="{RIGHT - 20}" height="{20 * len(legend) + 10}" '
             f'fill="white" stroke="#ccc"/>')
    for k, (label, color, kind) in enumerate(legend):
        yy = ly + 20 * k
        if color is None:
            o.append(f'<line x1="{lx}" y1="{yy:.1f}" x2="{lx + 24}" y2="{yy:.1f}" stroke="#888" stroke-width="1.5" '
                     f'stroke-dasharray="6,4"/>')
        else:
            o.append(f'<line x1="{lx}" y1="{yy:.1f}" x2="{lx + 24}" y2="{yy:.1f}" stroke="{color}" stroke-width="2"/>')
            o.append(marker(kind, lx + 12, yy, color))
        o.append(f'<text x="{lx + 32}" y="{yy + 4:.1f}">{escape(label)}</text>')
    o.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(o) + "\n")


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(sys.argv) >= 2 else 2
    src = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.dirname(os.path.abspath(src))
    os.makedirs(out, exist_ok=True)
    rows = [r for r in csv.DictReader(open(src)) if r.get("status", "ok") == "ok" and r["tokens_per_s"]]
    for r in rows:
        for k in ("np", "tp", "dp", "batch"):
            r[k] = int(r[k])
        for k in ("tokens_per_s", "efficiency", "peak_rss_mb_max"):
            r[k] = float(r[k]) if r[k] else None
    seq = rows[0]["seq_len"] if rows else "?"

    # One series per (mode, mesh); the 1-rank run starts every series of its mode.
    def scaling_series(value):
        series = []
        for mode in ("strong", "weak"):
            single = [r for r in rows if r["mode"] == mode and r["mesh"] == "single"]
            for mesh in ("dp", "tp", "mixed"):
                if mode == "weak" and mesh == "tp":
                    continue    # dp = 1: the same runs as strong tp-only
                pts = [(r["np"], value(r)) for r in single + [r for r in rows if r["mode"] == mode and r["mesh"] == mesh]]
                if len(pts) > len(single):
                    label = {"dp": "dp-only", "tp": "tp-only", "mixed": "tp×dp"}[mesh]
                    series.append(("tp-only (strong = weak)" if mesh == "tp" else f"{mode}, {label}", pts))
        return series

    base = next((r["tokens_per_s"] for r in rows if r["np"] == 1), None)
    nps = sorted({r["np"] for r in rows})
    ideal = [("ideal (linear)", [(n, base * n) for n in nps])] if base and len(nps) > 1 else []
    line_chart(os.path.join(out, "tokens_per_s.svg"), f"Training throughput (seq {seq})", "ranks (MPI processes)",
               "tokens/s", scaling_series(lambda r: r["tokens_per_s"]), ideal)
    line_chart(os.path.join(out, "efficiency.svg"), "Scaling efficiency (speedup ÷ ranks)", "ranks (MPI processes)",
               "efficiency", scaling_series(lambda r: r["efficiency"]),
               [("ideal (100%)", [(nps[0], 1.0), (nps[-1], 1.0)])] if len(nps) > 1 else [], y_percent=True)

    # Memory per rank against tp, strong-scaling runs (same global batch), one line per dp.
    mem = {}
    for r in rows:
        if r["mode"] == "strong" and r["peak_rss_mb_max"]:
            mem.setdefault(r["dp"], {})[r["tp"]] = r["peak_rss_mb_max"]
    series = [(f"dp = {dp}", sorted(pts.items())) for dp, pts in sorted(mem.items())]
    line_chart(os.path.join(out, "memory_vs_tp.svg"), "Peak RSS per rank (largest rank)", "tensor-parallel ranks (tp)",
               "MB", series)
    print(f"plot_scaling: wrote tokens_per_s.svg, efficiency.svg, memory_vs_tp.svg to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
