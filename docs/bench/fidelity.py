#!/usr/bin/env python3
"""Compare fz sim's predictions with loadgen's measurements (docs/bench/fidelity.sh).

usage: fidelity.py WORK DESIGN POINT... [--check [--only REGEX]]
Prints the table of predicted against measured with each figure's band (p50 and
throughput within 20%, p99 within 30%) and writes WORK/fidelity.json. With --check, exits 1
when a prediction leaves its band (with --only, a prediction whose figure matches REGEX).
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
if check and failed:
    print("out of band: " + ", ".join(failed), file=sys.stderr)
    sys.exit(1)
