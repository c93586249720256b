#!/usr/bin/env bash
# The short fidelity check (docs/fidelity.md): generate the seed's service (debug build, in
# the shared FZ_GEN_TARGET_DIR), calibrate fz sim on it from its live /metrics at 1000
# commands/s, then predict and measure 2000 commands/s with no further calibration. The
# projection lag p50 of every view must be within 20% of the measurement (the figures whose
# model holds on any machine: timer-driven batches; see docs/fidelity.md for the rest).
# Until a CI run shows the model meeting them on this debug build (docs/fidelity.md: the
# release-build runs on a quiet machine do), the bands are enforced only with
# FZ_FIDELITY_ENFORCE=1 (and then only when the 1-minute load is below the core count);
# otherwise the table is printed and a miss is reported as advisory. A build, start,
# calibrate or simulation failure always fails the check.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TERM_COLOR=never
export FZ_GEN_TARGET_DIR="${FZ_GEN_TARGET_DIR:-$ROOT/target/gen-projects}"
cargo build --release -q
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cores=$(nproc)
load=$(cut -d' ' -f1 /proc/loadavg)
status=0
FZ="$ROOT/target/release/fz" WORK="$WORK" PORT="${FZ_FIDELITY_PORT:-19160}" DUR=8 PROFILE=dev \
  CARGO_TARGET_DIR="$FZ_GEN_TARGET_DIR" CHECK_ONLY='^lag .* p50$' \
  docs/bench/fidelity.sh seed --quick || status=$?
if [ "$status" -ne 0 ]; then
  # Advisory only when the comparison itself ran (a build or start failure always fails).
  if [ -s "$WORK/fidelity.json" ] && [ "${FZ_FIDELITY_ENFORCE:-0}" != 1 ]; then
    echo "fidelity: bands missed (load $load on $cores cores): advisory until FZ_FIDELITY_ENFORCE=1 (docs/fidelity.md)"
    exit 0
  fi
  if [ -s "$WORK/fidelity.json" ] && awk -v l="$load" -v c="$cores" 'BEGIN{exit !(l >= c)}'; then
    echo "fidelity: bands missed with load $load on $cores cores (oversubscribed): advisory, not enforced"
    exit 0
  fi
  exit "$status"
fi
echo "fidelity: ok (load $load on $cores cores)"
