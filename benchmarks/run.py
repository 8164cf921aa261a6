"""The benchmark runner: times each workload's variants interleaved in one process.

Usage: ``python -m benchmarks [--repeats N] [--only NAME] [--quick] [--json PATH] [--check]``
(``python benchmarks/run.py`` works too). Each repeat times every variant once, in an order rotated
per repeat, so that drifts in machine load hit all variants alike; the table gives the median, min
and max per call over the repeats and the ratio of medians to the NumPy baseline.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

import funcgrad as fg  # noqa: E402
from benchmarks import BASELINE, WORKLOADS, Skip, Variant, baseline, load, variants  # noqa: E402


def _block(result) -> None:
    for leaf in fg.tree_util.tree_leaves(result):
        if hasattr(leaf, "block_until_ready"):
            leaf.block_until_ready()


def _time(fn, number: int) -> float:
    """Seconds per call of ``fn``, averaged over ``number`` back-to-back calls."""
    gc.collect()
    start = time.perf_counter()
    for _ in range(number):
        _block(fn())
    return (time.perf_counter() - start) / number


def _calibrate(fn, min_time: float) -> int:
    """The number of calls per sample that makes one sample last at least ``min_time``."""
    number = 1
    while True:
        t = _time(fn, number) * number
        if t >= min_time:
            return number
        number = max(number * 2, int(number * 1.2 * min_time / max(t, 1e-9)))


def bench(vs: dict[str, Variant], repeats: int, min_time: float) -> dict[str, list[float]]:
    """Per-call times in seconds, ``repeats`` per variant, taken interleaved."""
    names = list(vs)
    numbers = {k: _calibrate(v.fn, min_time) for k, v in vs.items()}
    times: dict[str, list[float]] = {k: [] for k in names}
    for r in range(repeats):
        for k in names[r % len(names) :] + names[: r % len(names)]:
            times[k].append(_time(vs[k].fn, numbers[k]))
    return times


def summarize(
    name: str, vs: dict[str, Variant], times: dict[str, list[float]], baseline: str = BASELINE
) -> list[dict]:
    base = statistics.median(times[baseline]) if baseline in times else None
    rows = []
    for k, v in vs.items():
        med = statistics.median(times[k])
        ratio = med / base if base else None
        row = {
            "benchmark": name,
            "variant": k,
            "unit": v.unit,
            "median": med * v.scale,
            "min": min(times[k]) * v.scale,
            "max": max(times[k]) * v.scale,
            "ratio": ratio,
            "repeats": len(times[k]),
            "target": v.target,
            "target_ratio": v.target_ratio,
        }
        met = []
        if v.target is not None:
            met.append(row["median"] <= v.target)
        if v.target_ratio is not None and ratio is not None:
            met.append(ratio <= v.target_ratio)
        row["met"] = all(met) if met else None
        rows.append(row)
    return rows


def _target_text(row: dict) -> str:
    parts = []
    if row["target"] is not None:
        parts.append(f"<= {row['target']:g} {row['unit']}")
    if row["target_ratio"] is not None:
        parts.append(f"<= {row['target_ratio']:g}x")
    if not parts:
        return ""
    return " and ".join(parts) + ("  ok" if row["met"] else "  MISSED")


def format_table(rows: list[dict]) -> str:
    header = ("benchmark", "variant", "unit", "median", "min", "max", "vs baseline", "target")
    lines = [header]
    for r in rows:
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}x"
        nums = (f"{r[c]:.4g}" for c in ("median", "min", "max"))
        lines.append((r["benchmark"], r["variant"], r["unit"], *nums, ratio, _target_text(r)))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    right = {3, 4, 5, 6}
    out = []
    for line in lines:
        cells = [
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths))
        ]
        out.append("  ".join(cells).rstrip())
    out.insert(1, "-" * len(out[0]))
    return "\n".join(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description="Time funcgrad against hand-written NumPy."
    )
    parser.add_argument("--repeats", type=int, default=None, help="timed samples per variant")
    parser.add_argument(
        "--only", action="append", choices=WORKLOADS, metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(WORKLOADS)}",
    )  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="few, short samples (a smoke run)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = parser.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 15)
    if repeats < 1:
        parser.error("--repeats must be at least 1")
    min_time = 0.005 if args.quick else 0.05

    print(
        f"funcgrad {fg.__version__}, numpy {np.__version__}, Python {platform.python_version()}, "
        f"{platform.machine()}; {repeats} interleaved repeats, times per call"
    )
    rows = []
    reports = []
    skipped: list[str] = []
    for name in args.only or WORKLOADS:
        module = load(name)
        print(f"  {name}: {module.DESCRIPTION}", flush=True)
        try:
            vs = variants(module)  # also checks that the variants agree
        except Skip as e:
            print(f"  {name}: skipped: {e}", flush=True)
            skipped.append(name)
            continue
        rows += summarize(name, vs, bench(vs, repeats, min_time), baseline(module))
        if hasattr(module, "report"):  # figures that are not per-call times (memory, latency)
            reports += [f"{name}: {line}" for line in module.report()]
    print()
    print(format_table(rows))
    if skipped:
        print(f"skipped: {', '.join(skipped)}")
    if reports:
        print()
        print("\n".join(reports))
    if args.json:
        meta = {"funcgrad": fg.__version__, "numpy": np.__version__, "repeats": repeats}
        meta |= {"python": platform.python_version(), "machine": platform.machine()}
        Path(args.json).write_text(json.dumps({**meta, "results": rows}, indent=2) + "\n")
    if args.check and any(r["met"] is False for r in rows):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
