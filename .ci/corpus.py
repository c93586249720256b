#!/usr/bin/env python3
"""Check fz against the third-party corpus in ../shared/corpus (CI has it beside the clone):
every diagram checks with no errors, and `fz export --format json` finds the lane, node and
edge counts MANIFEST.tsv gives. Usage: corpus.py FZ_BINARY CORPUS_DIR"""
import csv, json, subprocess, sys, pathlib

fz, corpus = sys.argv[1], pathlib.Path(sys.argv[2])
failures = 0
rows = list(csv.DictReader(open(corpus / "MANIFEST.tsv"), delimiter="\t"))
for row in rows:
    path = corpus / f"{row['slug']}.fz"
    check = subprocess.run([fz, "check", "--format", "json", str(path)], capture_output=True, text=True)
    diags = json.loads(check.stdout or "[]")
    errors = [d for d in diags if d["severity"] == "error"]
    exp = subprocess.run([fz, "export", "--format", "json", str(path)], capture_output=True, text=True)
    got = None
    if exp.returncode == 0:
        s = json.loads(exp.stdout)["stats"]
        got = (s["laneCount"], s["nodeCount"], s["edgeCount"])
    want = (int(row["lanes"]), int(row["nodes"]), int(row["edges"]))
    ok = check.returncode == 0 and not errors and got == want
    failures += not ok
    warns = len(diags) - len(errors)
    print(f"{'ok  ' if ok else 'FAIL'} {row['slug']:45} want {want} got {got} errors {len(errors)} warnings {warns}")
    for d in errors:
        print(f"      {d['line']}:{d['column']} {d['code']} {d['message']}")
print(f"{len(rows) - failures}/{len(rows)} corpus diagrams check clean with the expected counts")
sys.exit(1 if failures else 0)
