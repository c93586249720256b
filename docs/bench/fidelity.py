#!/usr/bin/env python3
"""Compare fz sim's predictions with loadgen's measurements (docs/bench/fidelity.sh).

usage: fidelity.py WORK DESIGN POINT... [--check [--only REGEX]]
       fidelity.py WORK DESIGN --slo OBJECTIVES --rate RATE POINT
       fidelity.py WORK DESIGN --find-result OBJECTIVES PASSING FAILING
Prints the table of predicted against measured with each figure's band (p50 and
throughput within 20%, p99 within 30%) and writes WORK/fidelity.json. With --check, exits 1
when a prediction leaves its band (with --only, a prediction whose figure matches REGEX).
With --slo: exits 0 when loadgen's figures at POINT meet every objective (fz sim's names:
command.p50/.p99, view.<id>.lag_p50/.lag_p99/.lag_max, reads.p50/.p99) and every command was
acknowledged at RATE with no error, else 1. With --find-result: compares fz sim --find
rate's answer (WORK/find.sim.json) with the largest rate loadgen passed; writes WORK/find.json.
"""
import json
import re
import sys
from pathlib import Path

work = Path(sys.argv[1])
design = sys.argv[2]
check = "--check" in sys.argv
only = None
if "--only" in sys.argv:
    only = re.compile(sys.argv[sys.argv.index("--only") + 1])
args = sys.argv[3:]
if only:
    args = [a for a in args if a != only.pattern]
points = [p for p in args if not p.startswith("--")]

# View slug -> diagram node, from the generated query API's doc comments.
query = (work / "svc" / "src" / "query.rs").read_text()
slug_node = {}
for m in re.finditer(r'/// List view (\S+) "[^"]*"\.\n#\[utoipa::path\(get, path = "/views/([a-z0-9_]+)"', query):
    slug_node[m.group(2)] = m.group(1)

BANDS = {"p50": 0.20, "mean": 0.20, "p99": 0.30, "throughput": 0.20}

UNITS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def objectives(text):
    """`METRIC<VALUE` (or `<=`) objectives, comma-separated, times in seconds."""
    out = []
    for part in text.split(","):
        m = re.fullmatch(r"\s*([A-Za-z0-9_.]+)\s*(<=|<)\s*([0-9.]+)\s*(ns|us|ms|s)?\s*", part)
        if not m:
            sys.exit(f"fidelity.py: bad objective {part!r}: use METRIC<VALUE, e.g. command.p50<5ms")
        out.append((m.group(1), m.group(2), float(m.group(3)) * UNITS[m.group(4) or "s"]))
    return out


def measured_metric(meas, name):
    """A fz sim metric name read off loadgen's JSON."""
    node_slug = {n: s for s, n in slug_node.items()}
    parts = name.split(".")
    if parts[0] == "command" and len(parts) == 2 and parts[1] in ("p50", "p99"):
        return meas["commands"][parts[1]]
    if parts[0] == "reads" and len(parts) == 2 and parts[1] in ("p50", "p99"):
        return meas["queries"][parts[1]]
    if parts[0] == "view" and len(parts) == 3 and parts[1] in node_slug:
        v = meas.get("views", {}).get(node_slug[parts[1]], {})
        if parts[2] in ("lag_p50", "lag_p99", "lag_max") and parts[2] in v:
            return v[parts[2]]
    sys.exit(f"fidelity.py: loadgen does not measure {name}; it measures command.p50/.p99, "
             f"reads.p50/.p99 and view.<id>.lag_p50/.lag_p99/.lag_max for the views "
             f"{', '.join(sorted(node_slug))}")


if "--slo" in sys.argv:
    objs = objectives(sys.argv[sys.argv.index("--slo") + 1])
    rate = float(sys.argv[sys.argv.index("--rate") + 1])
    point = sys.argv[-1]
    meas = json.loads((work / f"{point}.json").read_text())
    c = meas["commands"]
    fails = []
    if meas.get("errors", 0) or c["acknowledged"] < c["sent"]:
        fails.append(f"{meas.get('errors', 0)} errors, {c['acknowledged']} of {c['sent']} acknowledged")
    if c["per_second"] < 0.97 * rate:
        fails.append(f"{c['per_second']:.0f}/s acknowledged of {rate:.0f}/s offered")
    shown = []
    for name, op, limit in objs:
        v = measured_metric(meas, name)
        ok = v <= limit if op == "<=" else v < limit
        shown.append(f"{name} {v * 1e3:.3f}ms")
        if not ok:
            fails.append(f"{name} {v * 1e3:.3f}ms >= {limit * 1e3:.3f}ms")
    print(f"  measured {rate:>7.0f}/s: {'meets' if not fails else 'misses'} "
          f"({', '.join(shown + ([] if not fails else ['; '.join(fails)]))})")
    sys.exit(0 if not fails else 1)

if "--find-result" in sys.argv:
    i = sys.argv.index("--find-result")
    slo, passing, failing = sys.argv[i + 1], int(sys.argv[i + 2]), int(sys.argv[i + 3])
    sim = json.loads((work / "find.sim.json").read_text()) if (work / "find.sim.json").exists() else {}
    answer, interval = sim.get("answer"), sim.get("interval")
    err = None if not (answer and passing) else (answer - passing) / passing
    result = {"design": design, "slo": slo, "predicted": answer, "predicted_interval": interval,
              "predicted_point": sim.get("point_estimate"), "measured_passing": passing,
              "measured_failing": failing, "error": err, "band": 0.20,
              "within": err is not None and abs(err) <= 0.20}
    (work / "find.json").write_text(json.dumps(result, indent=1))
    iv = "-" if not interval else f"{interval[0]:.0f} .. {interval[1]:.0f}"
    print(f"largest rate meeting {slo}:")
    print(f"  predicted (fz sim --find rate): {answer if answer is None else f'{answer:.0f}'}/s (95% interval {iv})")
    print(f"  measured (loadgen, bisected to 5%): {passing}/s passes, {failing}/s misses")
    print(f"  error {'-' if err is None else f'{err * 100:+.0f}%'} "
          f"({'within' if result['within'] else 'outside'} the 20% band)")
    sys.exit(0)


def rows(point):
    meas = json.loads((work / f"{point}.json").read_text())
    sim = json.loads((work / f"{point}.sim.json").read_text())
    load = (work / f"{point}.load").read_text().strip()
    cq = sim.get("cqrs") or {}
    out = []
    cl = cq.get("command_latency") or {}
    for q in ("p50", "p99"):
        out.append((f"command {q}", q, cl.get(q), meas["commands"][q]))
    for slug, v in sorted(meas.get("views", {}).items()):
        node = slug_node.get(slug)
        sv = (cq.get("views") or {}).get(node or "", {})
        for q in ("p50", "p99"):
            out.append((f"lag {node or slug} {q}", q, sv.get(f"lag_{q}"), v[f"lag_{q}"]))
    reads = cq.get("reads") or {}
    out.append(("query p99", "p99", reads.get("p99"), meas["queries"]["p99"]))
    if point.startswith("u"):
        req = sim.get("requests") or {}
        thr = next((r.get("throughput") for r in req.values() if r.get("users")), None)
        out.append(("commands/s", "throughput", thr, meas["commands"]["per_second"]))
    return load, out


def fmt(x, kind):
    if x is None:
        return "-"
    if kind == "throughput":
        return f"{x:.0f}/s"
    return f"{x * 1e3:.3f}ms"


results = []
failed = []
print(f"{'point':<7} {'load':>5}  {'figure':<22} {'predicted':>12} {'measured':>12} {'error':>8}  band")
for p in points:
    load, rs = rows(p)
    for name, kind, pred, meas in rs:
        band = BANDS[kind]
        err = None if pred is None or not meas else (pred - meas) / meas
        ok = err is not None and abs(err) <= band
        results.append({"point": p, "load": float(load), "figure": name, "predicted": pred,
                        "measured": meas, "error": err, "band": band, "within": ok})
        if not ok and (only is None or only.search(name)):
            failed.append(f"{p} {name}")
        e = "-" if err is None else f"{err * 100:+.0f}%"
        print(f"{p:<7} {load:>5}  {name:<22} {fmt(pred, kind):>12} {fmt(meas, kind):>12} {e:>8}  "
              f"{'ok' if ok else 'MISS'} (±{band * 100:.0f}%)")
(work / "fidelity.json").write_text(json.dumps({"design": design, "results": results}, indent=1))
within = sum(r["within"] for r in results)
print(f"{within} of {len(results)} figures within their band")
# The machine's speed at each point against the calibration's (fidelity.sh's probe: CPU
# seconds of one fixed hash): above 1, the machine ran that point slower than it calibrated.
speed = {}
for p in ["calibrate", *points]:
    f = work / f"{p}.speed"
    try:
        speed[p] = float(f.read_text().split()[-1])
    except (OSError, ValueError, IndexError):
        pass
if "calibrate" in speed and speed["calibrate"] > 0 and len(speed) > 1:
    print("machine time for a fixed hash against the calibration's: " + ", ".join(
        f"{p} {v / speed['calibrate']:.2f}x" for p, v in speed.items() if p != "calibrate"))
if check and failed:
    print("out of band: " + ", ".join(failed), file=sys.stderr)
    sys.exit(1)
