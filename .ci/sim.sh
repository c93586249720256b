#!/usr/bin/env bash
# fz sim: the seed diagram alone gives a report with the CQRS lens, JSON is one object with the
# documented fields, same seed gives the same bytes with 1 and 2 worker threads, and a short
# run of the engine benchmark (bare loop vs engine vs SimPy when installed). The theory tests
# are in `cargo test` (tests/sim_theory.rs).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
cargo build --release -q
fz=target/release/fz
seed=examples/cqrs-materialized-views.fz
"$fz" sim "$seed" --duration 20s --warmup 2s > /tmp/fz-sim-ci.txt
grep -q "CQRS lens" /tmp/fz-sim-ci.txt
"$fz" sim "$seed" --duration 20s --warmup 2s --format json --replications 4 --threads 1 --stable > /tmp/fz-sim-ci-1.json
"$fz" sim "$seed" --duration 20s --warmup 2s --format json --replications 4 --threads 2 --stable > /tmp/fz-sim-ci-2.json
cmp /tmp/fz-sim-ci-1.json /tmp/fz-sim-ci-2.json
python3 - /tmp/fz-sim-ci-1.json <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for k in ["throughput", "utilization", "mean_wait", "mean_response", "p50_response", "p99_response", "mean_queue", "drops", "mean_response_ci95"]:
    assert d["nodes"]["n2"][k] is not None, k
for v in ["n13", "n14", "n15", "n16"]:
    lag = d["cqrs"]["views"][v]
    assert lag["lag_mean"] > 0 and lag["order_violations"] == 0, (v, lag)
print("fz sim: seed diagram ok; command latency mean %.2f ms; lag n13 %.2f ms"
      % (d["cqrs"]["command_latency"]["mean"] * 1e3, d["cqrs"]["views"]["n13"]["lag_mean"] * 1e3))
PY
if python3 -c "import simpy" 2>/dev/null; then
  cargo bench -q --bench sim -- --quick
else
  cargo bench -q --bench sim -- --quick --no-simpy
fi

# The architecture model on every corpus diagram: --explain names a component for every node,
# and fz sim never crashes (a clear error, exit 1, is fine: most corpus diagrams are workflows).
if [ -d ../shared/corpus ]; then
  n=0
  for f in ../shared/corpus/*.fz; do
    out=$("$fz" check --explain "$f" 2>/dev/null) || [ $? -eq 1 ]
    nodes=$(grep -oE '^\s*n[0-9]+:' "$f" | tr -d ' :' | sort -u)
    comps=$(printf '%s\n' "$out" | sed -n '/^Components:/,/^Interactions:/p' | awk '{print $1}' | sort -u)
    missing=$(comm -23 <(printf '%s\n' "$nodes") <(printf '%s\n' "$comps"))
    if [ -n "$missing" ]; then echo "fz check --explain $f: no component for $missing"; exit 1; fi
    set +e
    "$fz" sim "$f" --duration 2s --warmup 200ms >/dev/null 2>/tmp/fz-sim-corpus.err
    rc=$?
    set -e
    if [ $rc -gt 1 ]; then echo "fz sim $f exited $rc:"; cat /tmp/fz-sim-corpus.err; exit 1; fi
    n=$((n + 1))
  done
  echo "architecture model: $n corpus diagrams explained, fz sim ran or refused each with a message"
fi
for f in examples/*.fz; do
  if "$fz" sim "$f" --duration 20s --warmup 2s | grep -q UNSTABLE; then
    echo "fz sim $f: unstable at the default rate"; exit 1
  fi
done
echo "fz sim: the six reference designs are stable at the default rate"
