#!/usr/bin/env bash
# fz gen for database per service in CI (called by .ci/run): the example generates a
# workspace (services with their own databases, outboxes, a bus, replicated read models)
# that is rustfmt- and clippy-clean and passes its tests, on SQLite and on PostgreSQL;
# `dev` runs it on embedded defaults; then the services run as separate processes on real
# PostgreSQL and NATS JetStream, two instances of order-service behind the gateway, under
# load from the workspace's loadgen: kill -9 of one instance (out of rotation within
# seconds, requests keep succeeding, it rejoins after a restart), NATS stopped for a few
# seconds (the outboxes hold the events), and after the load every acknowledged order is
# in Orders DB and every replicated read model equals its source; then schemathesis through
# the gateway's /openapi.json (services on PostgreSQL) finds no 5xx.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TERM_COLOR=never
export CARGO_TARGET_DIR="${FZ_GEN_TARGET_DIR:-$ROOT/target/gen-projects}"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
BASE="${FZ_DBPS_PORT:-18700}"
GW="http://127.0.0.1:$BASE"
NATS_PORT=$((BASE + 22))
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in "$WORK"/run/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -15 "$f"; }; done
  exit 1
}

echo "== dbps: generate the database-per-service example"
[ -x target/release/fz ] || cargo build --release -q
target/release/fz gen examples/database-per-service.fz -o "$WORK/shop" | tail -4
cd "$WORK/shop"

echo "== dbps: fmt, build (time below), clippy, tests on SQLite"
cargo fmt --check
start=$(date +%s)
cargo build --workspace --all-targets -q
echo "build took $(( $(date +%s) - start )) s"
cargo clippy --workspace --all-targets -q -- -D warnings
cargo test --workspace -q 2>&1 | grep -E '^test result|FAILED|panicked' | sort | uniq -c
B="$CARGO_TARGET_DIR/debug"

echo "== dbps: dev on embedded defaults (SQLite, the outbox pull)"
mkdir -p "$WORK/run" "$WORK/dev"
(cd "$WORK/dev" && HEALTH_INTERVAL_MS=500 exec "$B/dev" --base-port "$((BASE + 50))" >"$WORK/run/dev.log" 2>&1) &
PIDS+=($!)
DGW="http://127.0.0.1:$((BASE + 50))"
for _ in $(seq 1 60); do
  n=$(curl -fsS "$DGW/_registry" 2>/dev/null | grep -o '"healthy":true' | wc -l || true)
  [ "$n" -ge 3 ] && break
  sleep 0.5
done
[ "${n:-0}" -ge 3 ] || fail "dev: 3 services did not register"
curl -fsS -H 'content-type: application/json' -d '{"id":"dev-1","item":"sku-1","qty":2}' "$DGW/orders" >/dev/null || fail "dev: POST /orders"
ok=""
for _ in $(seq 1 40); do
  if curl -fsS "$DGW/customer/views/replicated_order_view/dev-1" >/dev/null 2>&1 \
    && curl -fsS "$DGW/orders/views/stock_reserved/dev-1" >/dev/null 2>&1; then ok=1; break; fi
  sleep 0.25
done
[ -n "$ok" ] || fail "dev: the order did not reach the customer's view and back as StockReserved"
echo "ok: POST /orders → OrderCreated → customer view and inventory → StockReserved → order's view"
kill -TERM "${PIDS[0]}"; wait "${PIDS[0]}" 2>/dev/null || true; PIDS=()

echo "== dbps: PostgreSQL and nats-server"
if ! command -v pg_ctlcluster >/dev/null || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ] || ! command -v nats-server >/dev/null; then
  $SUDO apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql nats-server >/dev/null
fi
if [ -n "${FZ_DBPS_PG:-}" ]; then
  PG="$FZ_DBPS_PG"
else
  PGV=$(ls /usr/lib/postgresql | sort -n | tail -1)
  if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -q "^$PGV main$"; then
    $SUDO pg_createcluster "$PGV" main >/dev/null
  fi
  $SUDO pg_ctlcluster "$PGV" main start 2>/dev/null || true
  for _ in $(seq 1 30); do
    if su postgres -c "psql -qAtc 'select 1'" >/dev/null 2>&1; then break; fi
    sleep 1
  done
  PGPORT=$(pg_lsclusters -h | awk -v v="$PGV" '$1==v && $2=="main" {print $3}')
  su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null
  PG="postgres://postgres:postgres@127.0.0.1:${PGPORT}"
fi
q() { psql "$PG/$1" -qAtc "$2"; }
for db in dbps_orders dbps_inventory dbps_customer dbps_test; do
  psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
done
DATABASE_URL="$PG/dbps_test" cargo test -q -p eventing 2>&1 | grep -E '^test result|FAILED|panicked' | sort | uniq -c
DATABASE_URL="$PG/dbps_test" cargo test -q -p eventing 2>&1 | grep -q 'test result: ok. 2 passed' || fail "eventing tests on PostgreSQL"
mkdir -p "$WORK/nats"
nats_up() {
  nats-server -js -a 127.0.0.1 -p "$NATS_PORT" -sd "$WORK/nats" >>"$WORK/run/nats.log" 2>&1 &
  NATS_PID=$!
  for _ in $(seq 1 40); do grep -q "Server is ready" "$WORK/run/nats.log" 2>/dev/null && break; sleep 0.1; done
}
nats_up
PIDS+=("$NATS_PID")

echo "== dbps: separate processes: gateway, 2 × order-service, inventory-service, customer-service"
export NATS_URL="nats://127.0.0.1:$NATS_PORT" REGISTRY_URL="$GW"
export ORDER_SERVICE_DATABASE_URL="$PG/dbps_orders" INVENTORY_SERVICE_DATABASE_URL="$PG/dbps_inventory" CUSTOMER_SERVICE_DATABASE_URL="$PG/dbps_customer"
PORT=$BASE HEALTH_INTERVAL_MS=300 HEALTH_TIMEOUT_MS=300 "$B/gateway" >"$WORK/run/gateway.log" 2>&1 &
PIDS+=($!)
start_svc() { # name port
  PORT=$2 "$B/$1" >>"$WORK/run/$1-$2.log" 2>&1 &
  PIDS+=($!)
  echo $! >"$WORK/run/$1-$2.pid"
}
start_svc order-service $((BASE + 1))
start_svc order-service $((BASE + 11))
start_svc inventory-service $((BASE + 2))
start_svc customer-service $((BASE + 3))
healthy() { curl -fsS "$GW/_registry" 2>/dev/null | python3 -c "import json,sys; r=json.load(sys.stdin)['services']; print(sum(1 for i in r.get('$1',[]) if i['healthy']))" 2>/dev/null || echo 0; }
for _ in $(seq 1 60); do
  [ "$(healthy order_service)" = 2 ] && [ "$(healthy inventory_service)" = 1 ] && [ "$(healthy customer_service)" = 1 ] && break
  sleep 0.5
done
[ "$(healthy order_service)" = 2 ] || fail "2 order-service instances did not register"
for s in order inventory customer; do grep -q "database postgresql, bus nats" "$WORK/run/$s-service-"*.log || fail "$s-service not on PostgreSQL and NATS"; done

echo "== dbps: load through the gateway; kill -9 an order-service instance; stop NATS"
"$B/loadgen" --url "$GW" --path /orders --concurrency 8 --seconds 24 --out "$WORK/acked.txt" >"$WORK/load.json" 2>"$WORK/run/loadgen.log" &
LOAD=$!
sleep 4
victim=$(cat "$WORK/run/order-service-$((BASE + 1)).pid")
kill -9 "$victim"
t0=$(date +%s%N)
for _ in $(seq 1 100); do [ "$(healthy order_service)" = 1 ] && break; sleep 0.05; done
out_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$(healthy order_service)" = 1 ] || fail "the killed instance is still routed to"
echo "killed instance out of rotation after $out_ms ms"
sleep 3
start_svc order-service $((BASE + 1))
for _ in $(seq 1 60); do [ "$(healthy order_service)" = 2 ] && break; sleep 0.2; done
[ "$(healthy order_service)" = 2 ] || fail "the restarted instance did not rejoin"
echo "restarted instance rejoined"
sleep 2
kill -TERM "$NATS_PID"; wait "$NATS_PID" 2>/dev/null || true
during=$(curl -fsS "$GW/metrics" >/dev/null; curl -fsS "http://127.0.0.1:$((BASE + 11))/metrics" | awk '/^outbox_unpublished/ {print $2}')
sleep 4
held=$(curl -fsS "http://127.0.0.1:$((BASE + 11))/metrics" | awk '/^outbox_unpublished/ {print $2}')
echo "NATS stopped for 4 s: outbox of order-service holds $held unpublished events (had $during)"
[ "${held:-0}" -gt 0 ] || fail "no events held in the outbox while NATS was down"
nats_up
PIDS+=("$NATS_PID")
wait "$LOAD" || fail "loadgen"
cat "$WORK/load.json"
python3 - "$WORK/load.json" <<'PY' || fail "requests failed under the faults"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["acked"] > 100, r
assert r["unacknowledged"] == 0, r
PY

echo "== dbps: after the load: nothing acknowledged is lost, every read model equals its source"
ids() { q "$1" "SELECT id FROM $2 ORDER BY id" >"$WORK/$3.ids"; }
same=""
for _ in $(seq 1 60); do
  ids dbps_orders order_service.records orders
  ids dbps_inventory inventory_service.records inventory
  ids dbps_customer customer_service.view_replicated_order_view customer
  ids dbps_orders order_service.view_stock_reserved reserved
  if cmp -s "$WORK/orders.ids" "$WORK/customer.ids" && cmp -s "$WORK/orders.ids" "$WORK/inventory.ids" && cmp -s "$WORK/orders.ids" "$WORK/reserved.ids"; then same=1; break; fi
  sleep 0.5
done
echo "orders $(wc -l <"$WORK/orders.ids"), inventory $(wc -l <"$WORK/inventory.ids"), customer view $(wc -l <"$WORK/customer.ids"), stock_reserved view $(wc -l <"$WORK/reserved.ids")"
[ -n "$same" ] || fail "the read models differ from Orders DB"
sort "$WORK/acked.txt" >"$WORK/acked.sorted"
missing=$(comm -23 "$WORK/acked.sorted" "$WORK/orders.ids" | wc -l)
[ "$missing" = 0 ] || fail "$missing acknowledged orders are not in Orders DB"
docs=$(q dbps_orders "SELECT md5(string_agg(id || doc::text, ',' ORDER BY id)) FROM order_service.records")
view=$(q dbps_customer "SELECT md5(string_agg(id || doc::text, ',' ORDER BY id)) FROM customer_service.view_replicated_order_view")
[ "$docs" = "$view" ] || fail "the customer's replicated view has other contents than Orders DB"
[ "$(q dbps_orders "SELECT COUNT(*) FROM order_service.outbox WHERE published_ms IS NULL")" = 0 ] || fail "unpublished outbox rows after the load"
curl -fsS "http://127.0.0.1:$((BASE + 3))/metrics" | grep -E '^replication_lag_events' | grep -q ' 0$' || fail "customer lag not 0"
curl -fsS "http://127.0.0.1:$((BASE + 3))/metrics" | grep -E '^replication_(lag|applied|duplicates)'
echo "ok: all $(wc -l <"$WORK/acked.sorted") acknowledged orders in Orders DB, inventory, the customer's view and the order's StockReserved view; contents equal"
echo "== dbps: /openapi.json of each service and of the gateway; schemathesis through the gateway (no 5xx)"
code() { curl -s -o "$WORK/body" -w '%{http_code}' "$@"; }
for port in $((BASE + 1)) $((BASE + 2)) $((BASE + 3)); do
  [ "$(code "http://127.0.0.1:$port/openapi.json")" = 200 ] || fail "/openapi.json of :$port"
done
[ "$(code "$GW/openapi.json")" = 200 ] || fail "the gateway's /openapi.json"
python3 -c "import json,sys; p=json.load(open(sys.argv[1]))['paths']; assert '/orders/{id}' in p and '/customer/views/{view}/{id}' in p, list(p); print('gateway document:', len(p), 'paths')" "$WORK/body" || fail "gateway document"
# A token only when the gateway authenticates (this diagram draws no authentication).
HDR=()
if grep -q '"securitySchemes"' "$WORK/body"; then
  TOKEN=$(JWT_SECRET="${JWT_SECRET:?}" "$B/gateway" mint-token --sub st)
  HDR=(-H "Authorization: Bearer $TOKEN")
fi
if ! command -v st >/dev/null && ! python3 -m schemathesis.cli --version >/dev/null 2>&1; then
  python3 -m pip install -q schemathesis
fi
ST=st; command -v st >/dev/null || ST="python3 -m schemathesis.cli"
start=$(date +%s)
$ST run "$GW/openapi.json" --checks not_a_server_error -n 100 --seed 1 "${HDR[@]}" >"$WORK/st.log" 2>&1 \
  || { tail -60 "$WORK/st.log"; fail "schemathesis through the gateway"; }
tail -12 "$WORK/st.log"
echo "schemathesis took $(( $(date +%s) - start )) s"
echo "== dbps: ok"
