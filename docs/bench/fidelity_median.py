#!/usr/bin/env python3
"""Median of several fidelity runs (docs/fidelity.md): each run is one `fidelity.sh` pass with
its own calibration, in its own WORK folder. Per figure, the median of the runs' predictions
against the median of their measurements, and the spread of the measurements (largest over
smallest), so that a miss can be told from a machine that measured differently each time.

    docs/bench/fidelity_median.py WORK1 WORK2 WORK3 ...
"""
import json
import statistics
import sys
from pathlib import Path

works = [Path(w) for w in sys.argv[1:]]
if len(works) < 2:
    sys.exit("usage: fidelity_median.py WORK1 WORK2 [WORK3 ...] (each with a fidelity.json)")
runs = []
for w in works:
    try:
        runs.append(json.loads((w / "fidelity.json").read_text())["results"])
    except (OSError, ValueError, KeyError) as e:
        sys.exit(f"fidelity_median.py: {w}/fidelity.json: {e}")
keys = [(r["point"], r["figure"]) for r in runs[0]]
by_run = [{(r["point"], r["figure"]): r for r in run} for run in runs]
print(f"{len(runs)} runs; per figure: median predicted, median measured, error, the measurements' spread")
print(f"| point | figure | predicted | measured | error | spread | band |")
print("|---|---|---|---|---|---|---|")
within = total = 0
for key in keys:
    rs = [b[key] for b in by_run if key in b and b[key]["predicted"] is not None and b[key]["measured"]]
    if len(rs) < 2:
        continue
    pred = statistics.median(r["predicted"] for r in rs)
    meas = statistics.median(r["measured"] for r in rs)
    lo, hi = min(r["measured"] for r in rs), max(r["measured"] for r in rs)
    band = rs[0]["band"]
    err = (pred - meas) / meas
    ok = abs(err) <= band
    within += ok
    total += 1
    thr = key[1] == "commands/s"
    fmt = (lambda x: f"{x:.0f}/s") if thr else (lambda x: f"{x * 1e3:.3f}ms")
    print(f"| {key[0]} | {key[1]} | {fmt(pred)} | {fmt(meas)} | {err * 100:+.0f}% | {hi / lo:.2f}x | "
          f"{'ok' if ok else '**no**'} (±{band * 100:.0f}%) |")
print(f"\n{within} of {total} figures within their band (medians of {len(runs)} runs)")
