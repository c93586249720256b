#!/usr/bin/env bash
# fz fmt / fz fix over the third-party corpus (../shared/corpus, beside the clone in CI).
# For every diagram: fmt succeeds, its output is already formatted (`fmt --check` passes,
# i.e. fmt is idempotent), and the formatted diagram has the same model (`fz diff` finds no
# differences); fix succeeds, leaves no warning it repairs, introduces no error, and fixing
# its output again changes nothing. Usage: .ci/tools.sh [FZ_BINARY] [CORPUS_DIR]
set -uo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
fz="${1:-}"
if [ -z "$fz" ]; then
  for candidate in "$here/target/release/fz" "$here/target/debug/fz"; do
    if [ -x "$candidate" ]; then fz="$candidate"; break; fi
  done
fi
if [ -z "$fz" ]; then
  (cd "$here" && cargo build -q) || exit 1
  fz="$here/target/debug/fz"
fi
corpus="${2:-$here/../shared/corpus}"
if [ ! -d "$corpus" ]; then
  echo "tools.sh: no corpus at $corpus; skipped"
  exit 0
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
for f in "$corpus"/*.fz; do
  name="$(basename "$f")"
  ok=1
  why=""
  if ! "$fz" fmt - <"$f" >"$tmp/fmt.fz" 2>"$tmp/err"; then
    ok=0; why="fmt failed: $(head -3 "$tmp/err")"
  elif ! "$fz" fmt --check "$tmp/fmt.fz" >"$tmp/out" 2>&1; then
    ok=0; why="fmt is not idempotent: $(head -20 "$tmp/out")"
  elif ! "$fz" diff "$f" "$tmp/fmt.fz" >"$tmp/out" 2>&1; then
    ok=0; why="fmt changed the model: $(head -20 "$tmp/out")"
  elif ! "$fz" fix "$f" >"$tmp/fix.fz" 2>"$tmp/err"; then
    ok=0; why="fix exited non-zero: $(tail -3 "$tmp/err")"
  else
    left="$("$fz" check --format json "$tmp/fix.fz" | python3 -c '
import json, sys
fixable = {"W101", "W102", "W103", "W104", "W105", "W110", "W111", "W112"}
d = json.load(sys.stdin)
print(" ".join(sorted({x["code"] for x in d if x["code"] in fixable or x["severity"] == "error"})))')"
    if [ -n "$left" ]; then
      ok=0; why="fix left $left"
    elif ! "$fz" fix "$tmp/fix.fz" >"$tmp/fix2.fz" 2>/dev/null || ! cmp -s "$tmp/fix.fz" "$tmp/fix2.fz"; then
      ok=0; why="fix is not stable on its own output"
    fi
  fi
  if [ "$ok" = 1 ]; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    echo "FAIL $name: $why"
  fi
done
echo "tools: $pass passed, $fail failed"
[ "$fail" = 0 ]
