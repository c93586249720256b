#!/usr/bin/env bash
# The fidelity benchmark (docs/fidelity.md): generate a design's service, calibrate the
# simulator on it at one load, then predict with no further calibration and measure at
# other loads, and compare.
#
#   docs/bench/fidelity.sh [seed|rws] [--quick | --find SLO]
#
# Environment: FZ (the fz binary, default target/release/fz), WORK (scratch folder,
# default /tmp/fz-fidelity-$DESIGN), PORT (default 19150), DUR (seconds per point, default
# 20), WARM (seconds of the calibration run left out of its fit, default 3), PROFILE (cargo profile of the service: release or dev, default release),
# CARGO_TARGET_DIR / FZ_GEN_TARGET_DIR (where the service is built).
# RESUME=1 keeps the points already measured in WORK (a run that stopped half way).
# REPREDICT=1 measures nothing: it re-fits the profile from WORK's saved calibrate.metrics
# and predicts every point again (a model change judged on the same measurements).
# --quick (CI): calibrate at 1000/s, check the predictions at 2000/s only; exit 1 when a
# prediction leaves its band (CHECK_ONLY=REGEX: only the figures matching it). Without it: every point, a table, exit 0 (the table is the result).
# --find SLO (e.g. "command.p50<5ms,view.n13.lag_p50<20ms"): after calibrating (RESUME=1: from
# WORK's profile), the largest command rate meeting SLO with 1000 queries/s, predicted by
# `fz sim --find rate` and found by bisecting loadgen's rate on fresh services (a rate passes
# when every objective holds on loadgen's figures, every command is acknowledged at the
# offered rate and none fails); writes WORK/find.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
design=${1:-seed}
quick=0
find_slo=
[ "${2:-}" = "--quick" ] && quick=1
if [ "${2:-}" = "--find" ]; then
  find_slo=${3:?--find needs objectives, e.g. "command.p50<5ms"}
fi
# mix: how loadgen's two streams map onto the design. The seed's commands enter at its
# command source; the read/write separation's client sends reads and writes through one
# diamond (n2), so its source carries the commands only (every one down the write path)
# and loadgen's queries are the [reads] stream at the query handler, as for the seed.
mix=()
case "$design" in
  seed) fz_file=examples/cqrs-materialized-views.fz ;;
  rws) fz_file=examples/cqrs-read-write-separation.fz
       mix=(--set node.n2.branch.n5=1 --set node.n2.branch.n16=0) ;;
  *) echo "usage: $0 [seed|rws] [--quick]" >&2; exit 2 ;;
esac
FZ=${FZ:-$root/target/release/fz}
WORK=${WORK:-/tmp/fz-fidelity-$design}
PORT=${PORT:-19150}
DUR=${DUR:-20}
# WARM: seconds of the calibration run left out of the fit (its start), default 3.
WARM=${WARM:-3}
PROFILE=${PROFILE:-release}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-${FZ_GEN_TARGET_DIR:-$WORK/target}}
mkdir -p "$WORK"
url=http://127.0.0.1:$PORT

if [ "${REPREDICT:-0}" = 1 ]; then
  [ -s "$WORK/calibrate.metrics" ] || { echo "REPREDICT=1: no $WORK/calibrate.metrics to re-fit from" >&2; exit 1; }
  RESUME=1
  since=()
  [ -s "$WORK/calibrate.start.metrics" ] && since=(--since "$WORK/calibrate.start.metrics")
  "$FZ" calibrate "$fz_file" --from "$WORK/calibrate.metrics" "${since[@]}" -o "$WORK/$design.sim.toml"
else
echo "== generate and build the $design service ($PROFILE)"
"$FZ" gen "$fz_file" -o "$WORK/svc" --force >/dev/null 2>&1
flag=--release; dir=release
[ "$PROFILE" = dev ] && { flag=; dir=debug; }
(cd "$WORK/svc" && cargo build -q $flag --bins)
mkdir -p "$WORK/bin"
cp "$CARGO_TARGET_DIR/$dir/$(awk -F'"' '/^name =/{print $2; exit}' "$WORK/svc/Cargo.toml")" "$CARGO_TARGET_DIR/$dir/loadgen" "$WORK/bin/"
# A build leaves hundreds of MB to write back: flushed during the calibration, it stalls
# the service's fsyncs and both processes' wake-ups, and the calibration's tails with them.
sync; sleep "${SETTLE:-5}"
fi
crate=$(awk -F'"' '/^name =/{print $2; exit}' "$WORK/svc/Cargo.toml")

svc_pid=
stop() { if [ -n "$svc_pid" ]; then kill "$svc_pid" 2>/dev/null || true; wait "$svc_pid" 2>/dev/null || true; svc_pid=; fi; }
trap stop EXIT
start() {
  rm -rf "$WORK/data"
  PORT=$PORT DATA_DIR=$WORK/data "$WORK/bin/$crate" >"$WORK/service.log" 2>&1 &
  svc_pid=$!
  for _ in $(seq 100); do curl -sf "$url/health" >/dev/null && return 0; sleep 0.1; done
  echo "the service did not start; see $WORK/service.log" >&2; exit 1
}
# point NAME LOADGEN-ARGS...: a fresh service, one loadgen run, its /metrics.
point() {
  local name=$1; shift
  if [ "${RESUME:-0}" = 1 ] && [ -s "$WORK/$name.json" ]; then return 0; fi
  start
  local load; load=$(cut -d' ' -f1 /proc/loadavg)
  # The machine's own speed before the point (CPU seconds of a fixed hash of 100 MB, one
  # core): a shared machine's cores are not equally fast from one half hour to the next.
  /usr/bin/env time -f "%U" -o "$WORK/$name.speed" sh -c 'head -c 100000000 /dev/zero | sha256sum >/dev/null' 2>/dev/null || true
  "$WORK/bin/loadgen" --url "$url" --duration "${DUR}s" --format json "$@" >"$WORK/$name.json" &
  local lg=$!
  if [ "$name" = calibrate ]; then
    # The fit is to the run after its first WARM seconds (--since): a fresh service's
    # first batches (a new store's first pages, cold caches) cost many times a steady
    # one and come large, and counted in they set the slope of every batch fit.
    sleep "$WARM"
    curl -sf "$url/metrics" >"$WORK/$name.start.metrics"
  fi
  wait "$lg"
  curl -sf "$url/metrics" >"$WORK/$name.metrics"
  if [ "$name" = calibrate ]; then
    # From the running service itself (the saved copies are kept beside it).
    "$FZ" calibrate "$fz_file" --from "$url/metrics" --since "$WORK/$name.start.metrics" -o "$WORK/$design.sim.toml"
  fi
  stop
  echo "$load" >"$WORK/$name.load"
  echo "  measured $name (load $load): $(head -c 300 "$WORK/$name.json")"
}

echo "== calibrate at 1000 commands/s with 1000 queries/s"
point calibrate --rate 1000 --reads 1000

# The command source: loadgen's commands enter there (--rate sets it; a closed loop gives it
# users). Both designs' is n1; the read/write separation's n1 is an untimed circle, so it is
# named here rather than found as the profile's first node (which took n5 there, and made
# n5 a second source beside n1's default 500/s in its closed loops until 4 December).
entry=n1
# loadgen runs on the cores it measures, so the model has its CPU as [host] client. It is
# split (CLIENT_FIT=split, the default), as the service's HTTP threads' is, by its runtimes'
# busy spells (`client.spells` in its report): the spells' slope on the requests each sent
# is `host.client`, the rest over its requests `host.client_wakeup`, paid by a request that
# finds loadgen asleep (requests sent together share one): loadgen's CPU a request is
# 75-90 us in a paced open loop (a wake-up for each) and 12-22 us in a closed loop, and the
# split predicts both from one load. CLIENT_FIT=whole charges every request the calibration
# point's whole figure (the default until 4 December: then it stood in for costs the model
# lacked; docs/fidelity.md). CLIENT=point gives each point loadgen's own figure for that
# point (all of it per request; a diagnosis, not a prediction). A report without spells
# (an older loadgen) is always whole.
#
# The transit between loadgen and the service (TRANSPORT=excess, the default; =none leaves
# it out): loadgen times each request less the service's own time on it (the answer's
# x-fz-handled-ns), a gap of loopback, both sides' wake-ups and their waits for a core. The
# model charges the typical gap as CPU (loadgen's above, the HTTP threads' wake-ups), so
# what it lacks is the gap beyond its median: `host.transport` is that excess, the
# calibration run's gap distribution less its median (0 for the faster half), a delay off
# the cores before each request enters.
# client_of JSON FIT: the --set arguments, one a line.
client_of() {
  python3 - "$1" "${2:-whole}" "${TRANSPORT:-excess}" <<'PY'
import json, re, sys
report = json.load(open(sys.argv[1]))
c = report.get("client", {})
cpu, req, s = c.get("cpu_seconds"), c.get("requests"), c.get("spells") or {}
dist = (report.get("transport") or {}).get("distribution")
if sys.argv[3] == "excess" and dist:
    pts = [(float(x), float(p)) for x, p in re.findall(r"(\d+)ns ([0-9.eE-]+)", dist)]
    # The median, read off the CDF's points (linear between them).
    med = next(x0 + (x1 - x0) * (0.5 - p0) / (p1 - p0) if p1 > p0 else x1
               for (x0, p0), (x1, p1) in zip(pts, pts[1:]) if p1 >= 0.5) if pts[0][1] < 0.5 else pts[0][0]
    out = [(0, 0.5)] + [(round(x - med), p) for x, p in pts if p > 0.5 and x > med]
    keep = []
    for x, p in out:
        if keep and x <= keep[-1][0]:
            keep[-1] = (keep[-1][0], p)
        else:
            keep.append((x, p))
    if len(keep) > 1 and keep[-1][1] == 1.0:
        print("--set")
        print("host.transport=empirical(" + ", ".join(f"{x}ns {p}" for x, p in keep) + ")")
if c.get("threads"):
    # loadgen sends on this many threads: at most that many of its sends compute at once.
    print(f"--set\nhost.client_threads={c['threads']}")
if cpu is None:
    sys.exit(0)
per = c.get("cpu_per_request")
n, k, kk, t, kt = (s.get(x, 0) for x in ("n", "k", "kk", "t_ns", "kt_ns"))
var = kk / n - (k / n) ** 2 if n else 0
if sys.argv[2] == "split" and req and n >= 10 and var > 0:
    slope = (kt / n - (k / n) * (t / n)) / var * 1e-9
    if 0 < slope < cpu / req:
        wake = (cpu - slope * req) / req
        print(f"--set\nhost.client=const({slope*1e9:.0f}ns)\n--set\nhost.client_wakeup=const({wake*1e9:.0f}ns)")
        sys.exit(0)
print(f"--set\nhost.client=const({per*1e9:.0f}ns)")
PY
}
echo "== the client at calibration: $(client_of "$WORK/calibrate.json" "${CLIENT_FIT:-split}" | paste -sd' ') (CLIENT=${CLIENT:-calibration}, CLIENT_FIT=${CLIENT_FIT:-split}, TRANSPORT=${TRANSPORT:-excess})"
# loadgen paces its open loops (the k-th request due at k / rate), so the model's arrivals
# at a rate are paced too (run.arrivals = "paced"), not Poisson.
# The command source's keys (KEYS=sequence, the default; =profile leaves the profile's):
# loadgen's workers each run the domain's command sequence on one aggregate, then a fresh
# one, so the model's keys are `sequence(M, W)`: M commands a key (loadgen's
# commands.per_aggregate), W workers in turn in an open loop (each user its own in a closed
# one). A projector pays its `per_key` once for each aggregate of a batch, so how many of
# a sequence's events share a batch is what its cost follows: none at 1,000/s (a worker's
# next command is 128 ms later), most at 128 users (about 4 ms later).
keys_of() {
  python3 - "$1" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])).get("commands", {})
m, w = c.get("per_aggregate"), c.get("workers")
if m and w and round(m) >= 1:
    print(f"--set\nsource.ENTRY.key=sequence({round(m)}, {int(w)})")
PY
}
predict() {
  local name=$1; shift
  local client=() keys=()
  if [ "${KEYS:-sequence}" = sequence ]; then
    mapfile -t keys < <(keys_of "$WORK/calibrate.json" | sed "s/ENTRY/$entry/")
  fi
  if [ "${CLIENT:-calibration}" = calibration ]; then
    mapfile -t client < <(client_of "$WORK/calibrate.json" "${CLIENT_FIT:-split}")
  else
    mapfile -t client < <(client_of "$WORK/$name.json" whole)
  fi
  "$FZ" sim "$fz_file" --profile "$WORK/$design.sim.toml" --duration "${DUR}s" --warmup 2s \
    --replications 3 --set reads.rate=1000 --set run.arrivals=paced "${client[@]}" "${keys[@]}" "${mix[@]}" "$@" --format json >"$WORK/$name.sim.json"
}

if [ -n "$find_slo" ]; then
  echo "== predict: fz sim --find rate --slo $find_slo"
  predict find --find rate --slo "$find_slo" --rate 1000 || true
  echo "== measure: bisect loadgen's rate (${DUR}s a point, a fresh service each)"
  # passes RATE: one measured point at RATE, judged by fidelity.py --slo.
  passes() {
    point "find-r$1" --rate "$1" --reads 1000 >/dev/null
    python3 "$root/docs/bench/fidelity.py" "$WORK" "$design" --slo "$find_slo" --rate "$1" "find-r$1"
  }
  lo=0; hi=0; r=1000
  while [ "$hi" = 0 ] && [ "$r" -le 64000 ]; do
    if passes "$r"; then lo=$r; r=$((r * 2)); else hi=$r; fi
  done
  if [ "$lo" = 0 ] && [ "$hi" != 0 ]; then
    # Even 1000/s misses: halve down to 125/s.
    r=$((hi / 2))
    while [ "$lo" = 0 ] && [ "$r" -ge 125 ]; do
      if passes "$r"; then lo=$r; else hi=$r; r=$((r / 2)); fi
    done
  fi
  # Bisect to 5% of the rate.
  while [ "$lo" -gt 0 ] && [ "$hi" -gt 0 ] && [ $((hi * 100)) -gt $((lo * 105)) ]; do
    mid=$(((lo + hi) / 2))
    if passes "$mid"; then lo=$mid; else hi=$mid; fi
  done
  python3 "$root/docs/bench/fidelity.py" "$WORK" "$design" --find-result "$find_slo" "$lo" "$hi"
  exit 0
fi

if [ $quick = 1 ]; then
  points="r2000"
else
  points="r500 r1000 r2000 r4000 u16 u128"
fi
echo "== predict and measure: $points"
for p in $points; do
  case $p in
    r*) rate=${p#r}
        if [ "$p" = r1000 ]; then cp "$WORK/calibrate.json" "$WORK/r1000.json"; cp "$WORK/calibrate.load" "$WORK/r1000.load"
        else point "$p" --rate "$rate" --reads 1000; fi
        predict "$p" --rate "$rate" ;;
    u*) users=${p#u}
        point "$p" --users "$users" --reads 1000
        predict "$p" --set "source.$entry.users=$users" --set "source.$entry.think=const(0)" ;;
  esac
done

if [ $quick = 1 ]; then
  python3 "$root/docs/bench/fidelity.py" "$WORK" "$design" $points --check ${CHECK_ONLY:+--only "$CHECK_ONLY"}
else
  python3 "$root/docs/bench/fidelity.py" "$WORK" "$design" $points
fi
