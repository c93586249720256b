#!/usr/bin/env bash
# The task-based UI design in a real browser (called by .ci/gen.sh with TASKUI_BIN, the
# service it has just built; alone, it generates the design and builds it in debug in
# the shared FZ_GEN_TARGET_DIR, so nothing new compiles but the project), then drives
# its web UI in headless Chromium over the DevTools protocol (tests/browser/taskui.py):
# optimistic row at once, confirmed over the WebSocket, a second tab updated live, a
# duplicate command id shown as "already submitted" (409), a rule violation and a
# missing token rolled back.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TERM_COLOR=never
export FZ_GEN_TARGET_DIR="${FZ_GEN_TARGET_DIR:-$ROOT/target/gen-projects}"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
BASE_PORT="${FZ_TASKUI_PORT:-18450}"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

if ! command -v chromium >/dev/null; then
  $SUDO apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
python3 -c 'import websocket' 2>/dev/null || python3 -m pip install -q websocket-client

BIN="${TASKUI_BIN:-}"
if [ -z "$BIN" ]; then
  cargo build --release -q
  target/release/fz gen examples/cqrs-task-based-ui.fz -o "$WORK/task-board"
  (cd "$WORK/task-board" && CARGO_TARGET_DIR="$FZ_GEN_TARGET_DIR" cargo build -q)
  BIN="$FZ_GEN_TARGET_DIR/debug/task_board_service"
fi
python3 tests/browser/taskui.py "$BIN" "$WORK/run" "$BASE_PORT"
