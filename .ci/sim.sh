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
print("fz sim: seed diagram ok; end-to-end mean %.2f ms; lag n13 %.2f ms"
      % (d["end_to_end"]["mean"] * 1e3, d["cqrs"]["views"]["n13"]["lag_mean"] * 1e3))
PY
if python3 -c "import simpy" 2>/dev/null; then
  cargo bench -q --bench sim -- --quick
else
  cargo bench -q --bench sim -- --quick --no-simpy
fi
