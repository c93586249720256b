#!/usr/bin/env bash
# Service CPU per acknowledged durable command of the generated seed (issue 13).
#
#   docs/bench/genperf.sh build [SEED_DIR]          # fz gen the seed, release-build, copy binaries to SEED_DIR/bin
#   docs/bench/genperf.sh run BINDIR RATE [READS] [DURATION] [PORT] [CONC]
#
# `run` starts a fresh service from BINDIR on an empty data dir, runs BINDIR/loadgen at RATE
# offered commands/s (READS queries/s), reads the service's utime+stime from /proc/PID/stat
# before and after the loadgen run (which includes loadgen's catch-up wait), and prints one
# line: commands/s, µs of service CPU per acknowledged command, context switches (voluntary
# plus involuntary) per command, command p99, lag p99 per view, errors and the load average;
# with THREADS=1, then the same per thread name (tokio-rt-worker, event-store-writer, ...).
# Needs jq and curl. CARGO_TARGET_DIR defaults to /work/gen-target-perf (never inside the repo).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
cmd=${1:-}
case "$cmd" in
build)
    seed=${2:-/tmp/fz-genperf-seed}
    fz=${FZ:-$here/target/release/fz}
    "$fz" gen "$here/examples/cqrs-materialized-views.fz" -o "$seed" --force \
        --domain "$here/examples/cqrs-materialized-views.gen.toml"
    target=${CARGO_TARGET_DIR:-/work/gen-target-perf}
    (cd "$seed" && CARGO_TARGET_DIR=$target cargo build --release --bins)
    mkdir -p "$seed/bin"
    cp "$target/release/orders_service" "$target/release/loadgen" "$seed/bin/"
    sync; sleep 5
    echo "binaries in $seed/bin"
    ;;
run)
    bin=$(cd "$2" && pwd); rate=$3; reads=${4:-0}; dur=${5:-20s}; port=${6:-19101}; conc=${7:-256}
    data=$(mktemp -d /tmp/fz-genperf-data.XXXXXX)
    PORT=$port DATA_DIR=$data CONSISTENCY_CHECK_SECS=0 "$bin/orders_service" >"$data/service.log" 2>&1 &
    pid=$!
    trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$data"' EXIT
    for _ in $(seq 100); do
        curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
        sleep 0.1
    done
    cpu() { awk '{print $14+$15}' "/proc/$pid/stat"; }
    # Context switches summed over the service's threads (voluntary: mostly futex and epoll waits).
    csw() { cat /proc/$pid/task/*/status 2>/dev/null | awk '/^voluntary_ctxt_switches/{v+=$2} /^nonvoluntary_ctxt_switches/{n+=$2} END{print v+n}'; }
    tick=$(getconf CLK_TCK)
    # Per thread name: context switches and CPU ticks (THREADS=1 prints them per command).
    threads() { for t in /proc/$pid/task/*; do
        printf '%s %s %s\n' "$(tr ' ' _ <"$t/comm")" \
            "$(awk '/ctxt_switches/{s+=$2} END{print s}' "$t/status")" "$(awk '{print $14+$15}' "$t/stat")"
      done 2>/dev/null | awk '{c[$1]+=$2; u[$1]+=$3} END{for (k in c) print k, c[k], u[k]}' | sort; }
    [ "${THREADS:-0}" = 1 ] && threads >"$data/t0"
    c0=$(cpu); s0=$(csw)
    out=$("$bin/loadgen" --url "http://127.0.0.1:$port" --rate "$rate" --reads "$reads" \
        --duration "$dur" --concurrency "$conc" --format json)
    c1=$(cpu); s1=$(csw)
    [ "${THREADS:-0}" = 1 ] && threads >"$data/t1"
    acked=$(jq '.commands.acknowledged' <<<"$out")
    jq -r --argjson c "$(( c1 - c0 ))" --argjson tick "$tick" --argjson acked "$acked" \
        --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" --argjson sw "$(( s1 - s0 ))" '
        "offered \(.commands.sent) sent, \(.commands.per_second|floor)/s acknowledged, " +
        "\(if $acked > 0 then ($c / $tick * 1e6 / $acked * 10 | round / 10) else "-" end) us CPU/command, " +
        "\(if $acked > 0 then ($sw / $acked * 100 | round / 100) else "-" end) context switches/command, " +
        "command p99 \(.commands.p99 * 1e3 * 10 | round / 10) ms, " +
        (if .queries.per_second > 0 then "query p99 \(.queries.p99 * 1e3 * 1000 | round / 1000) ms, " else "" end) +
        "lag p99 " + ([.views | to_entries[] | "\(.key) \(.value.lag_p99 * 1e3 | round) ms"] | join(" / ")) +
        ", errors \(.errors), load \($load)"' <<<"$out"
    if [ "${THREADS:-0}" = 1 ]; then
        join "$data/t0" "$data/t1" | awk -v a="$acked" -v tick="$tick" \
            'a > 0 && ($5 - $3) > 0 {printf "  %-18s %6.1f us CPU/command %5.2f context switches/command\n", $1, ($5 - $3) / tick * 1e6 / a, ($4 - $2) / a}'
    fi
    ;;
*)
    sed -n 2,12p "$0"; exit 2 ;;
esac
