#!/usr/bin/env bash
# fz gen in CI (called by .ci/run): the generated seed project, the read/write
# separation design, the task-based UI design, the event-store design and a project with
# adversarial labels build, pass clippy and their own tests on SQLite; the seed's, the
# read/write separation's and the task-based UI's tests pass on PostgreSQL; the task UI
# passes its browser test in headless Chromium; the read/write separation's tests pass
# with its read database in a real Redis (REDIS_URL) and its write side on PostgreSQL;
# the event-store design's tests pass against a real NATS JetStream server (NATS_URL); schemathesis finds no 500 in the
# /openapi.json of each design's service (seed, read/write separation, event store, task UI). All generated projects share one target dir (FZ_GEN_TARGET_DIR),
# so the dependencies compile once.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TERM_COLOR=never
export FZ_GEN_TARGET_DIR="${FZ_GEN_TARGET_DIR:-$ROOT/target/gen-projects}"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
PORT_ST="${FZ_GEN_ST_PORT:-18391}"
PORT_NATS="${FZ_GEN_NATS_PORT:-18422}"
PORT_REDIS="${FZ_GEN_REDIS_PORT:-18433}"
WORK=$(mktemp -d)
SVC_PID=""
NATS_PID=""
REDIS_PID=""
cleanup() {
  if [ -n "$REDIS_PID" ]; then kill "$REDIS_PID" 2>/dev/null || true; wait "$REDIS_PID" 2>/dev/null || true; fi
  if [ -n "$SVC_PID" ]; then kill "$SVC_PID" 2>/dev/null || true; wait "$SVC_PID" 2>/dev/null || true; fi
  if [ -n "$NATS_PID" ]; then kill "$NATS_PID" 2>/dev/null || true; wait "$NATS_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "== gen: generated projects build, pass clippy and their tests (SQLite)"
cargo test --release --test gen_build -- --ignored

echo "== gen: the seed project"
cargo build --release -q
start=$(date +%s%N)
target/release/fz gen examples/cqrs-materialized-views.fz -o "$WORK/orders-service"
echo "fz gen took $(( ($(date +%s%N) - start) / 1000000 )) ms"
cd "$WORK/orders-service"
CARGO_TARGET_DIR="$FZ_GEN_TARGET_DIR" cargo build --all-targets -q

echo "== gen: the read/write separation design"
"$ROOT/target/release/fz" gen "$ROOT/examples/cqrs-read-write-separation.fz" -o "$WORK/catalog-service"
(cd "$WORK/catalog-service" && CARGO_TARGET_DIR="$FZ_GEN_TARGET_DIR" cargo build --all-targets -q)

echo "== gen: the task-based UI design"
"$ROOT/target/release/fz" gen "$ROOT/examples/cqrs-task-based-ui.fz" -o "$WORK/task-board"
(cd "$WORK/task-board" && CARGO_TARGET_DIR="$FZ_GEN_TARGET_DIR" cargo build --all-targets -q)
echo "== gen: the task-based UI in headless Chromium"
start=$(date +%s)
TASKUI_BIN="$FZ_GEN_TARGET_DIR/debug/task_board_service" "$ROOT/.ci/taskui.sh"
echo "browser test took $(( $(date +%s) - start )) s"

echo "== gen: Redis (the read/write separation's read database)"
if ! command -v redis-server >/dev/null; then
  $SUDO apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi
REDIS_SERVER=$(command -v redis-server)
export REDIS_SERVER
"$REDIS_SERVER" --port "$PORT_REDIS" --bind 127.0.0.1 --save '' --appendonly no >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
for _ in $(seq 1 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT_REDIS") 2>/dev/null && break
  sleep 0.2
done

echo "== gen: PostgreSQL"
if ! command -v pg_ctlcluster >/dev/null || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
  $SUDO apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi
PGV=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -q "^$PGV main$"; then
  $SUDO pg_createcluster "$PGV" main >/dev/null
fi
$SUDO pg_ctlcluster "$PGV" main start 2>/dev/null || true
for _ in $(seq 1 30); do
  if $SUDO -u postgres psql -qAtc 'select 1' >/dev/null 2>&1 || su postgres -c "psql -qAtc 'select 1'" >/dev/null 2>&1; then break; fi
  sleep 1
done
PGPORT=$(pg_lsclusters -h | awk -v v="$PGV" '$1==v && $2=="main" {print $3}')
su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null
export DATABASE_URL="postgres://postgres:postgres@127.0.0.1:${PGPORT}/postgres"
CARGO_TARGET_DIR="$FZ_GEN_TARGET_DIR" cargo test
start=$(date +%s)
(cd "$WORK/catalog-service" && REDIS_URL="redis://127.0.0.1:$PORT_REDIS" CARGO_TARGET_DIR="$FZ_GEN_TARGET_DIR" cargo test)
echo "read/write separation tests on PostgreSQL + Redis took $(( $(date +%s) - start )) s"
(cd "$WORK/task-board" && CARGO_TARGET_DIR="$FZ_GEN_TARGET_DIR" cargo test)
unset DATABASE_URL
kill "$REDIS_PID" 2>/dev/null || true; wait "$REDIS_PID" 2>/dev/null || true; REDIS_PID=""

echo "== gen: NATS JetStream (the event-store design's bus)"
if ! command -v nats-server >/dev/null; then
  $SUDO apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nats-server >/dev/null
fi
NATS_SERVER=$(command -v nats-server)
export NATS_SERVER
"$NATS_SERVER" -js -a 127.0.0.1 -p "$PORT_NATS" -sd "$WORK/jetstream" >"$WORK/nats.log" 2>&1 &
NATS_PID=$!
for _ in $(seq 1 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT_NATS") 2>/dev/null && break
  sleep 0.2
done
"$ROOT/target/release/fz" gen "$ROOT/examples/cqrs-event-store.fz" -o "$WORK/order-events-service"
start=$(date +%s)
(cd "$WORK/order-events-service" && NATS_URL="nats://127.0.0.1:$PORT_NATS" CARGO_TARGET_DIR="$FZ_GEN_TARGET_DIR" cargo test)
echo "event-store design tests on NATS JetStream took $(( $(date +%s) - start )) s"
kill "$NATS_PID" 2>/dev/null || true; wait "$NATS_PID" 2>/dev/null || true; NATS_PID=""

echo "== gen: schemathesis against /openapi.json (no 500s)"
if ! command -v st >/dev/null && ! python3 -m schemathesis.cli --version >/dev/null 2>&1; then
  python3 -m pip install -q schemathesis
fi
ST=st; command -v st >/dev/null || ST="python3 -m schemathesis.cli"
# A fixed seed keeps CI reproducible (this one found the cube's sums overflowing into
# REALs); FZ_ST_SEED=random, or another number, explores further.
st_seed=${FZ_ST_SEED:-316888921926591602872986911826438690244}
seed_arg=(--seed "$st_seed"); [ "$st_seed" = random ] && seed_arg=()
# Every design's service, as the gen_build tests above built it (embedded defaults).
for svc in orders_service catalog_service order_events_service task_board_service; do
  echo "-- schemathesis: $svc"
  rm -rf "$WORK/st-data"
  PORT="$PORT_ST" DATA_DIR="$WORK/st-data" "$FZ_GEN_TARGET_DIR/debug/$svc" >"$WORK/st-$svc.log" 2>&1 &
  SVC_PID=$!
  for _ in $(seq 1 60); do
    curl -fsS "http://127.0.0.1:$PORT_ST/health" >/dev/null 2>&1 && break
    sleep 0.5
  done
  $ST run "http://127.0.0.1:$PORT_ST/openapi.json" --checks not_a_server_error -n 100 "${seed_arg[@]}"
  kill "$SVC_PID" 2>/dev/null || true; wait "$SVC_PID" 2>/dev/null || true; SVC_PID=""
done
