#!/usr/bin/env bash
# fz render: unit, snapshot and invariant tests, then the headless Chromium check of every
# example and corpus diagram (both views). Called by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"

if ! command -v chromium >/dev/null; then
  $SUDO apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

cargo test -q --test render_invariants --test render_snapshots --test render_cli
cargo build --release -q
python3 tests/browser/check.py target/release/fz "$(mktemp -d)"
