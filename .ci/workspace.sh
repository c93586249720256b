#!/usr/bin/env bash
# fz gen for multi-service diagrams in CI (called by .ci/run): the API-gateway example
# generates a Cargo workspace that is rustfmt- and clippy-clean and passes its tests; then
# the dev runner starts it (two instances of each service) and curl drives the gateway:
# 200 with a minted token, 401 without, 429 over the limit, failover within seconds after
# kill -9 of an instance, a partial aggregate when a service is gone; schemathesis through
# the gateway's /openapi.json (with a minted token) finds no 5xx; RS256 tokens checked
# against a JWKS of a key made here with openssl.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TERM_COLOR=never
# Shared with .ci/gen.sh, so axum, tokio, reqwest and serde compile once.
export CARGO_TARGET_DIR="${FZ_GEN_TARGET_DIR:-$ROOT/target/gen-projects}"
BASE="${FZ_WS_PORT:-18480}"
GW="http://127.0.0.1:$BASE"
WORK=$(mktemp -d)
DEV_PID=""
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  if [ -n "$DEV_PID" ]; then kill -TERM "$DEV_PID" 2>/dev/null || true; wait "$DEV_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "--- dev log"; tail -40 "$WORK/dev.log" || true; exit 1; }

echo "== workspace: generate the API-gateway example"
[ -x target/release/fz ] || cargo build --release -q
target/release/fz gen examples/api-gateway.fz -o "$WORK/shop"
cd "$WORK/shop"

echo "== workspace: fmt, clippy, build (cold build time below), tests"
cargo fmt --check
start=$(date +%s)
cargo build --workspace --all-targets -q
echo "build took $(( $(date +%s) - start )) s"
cargo clippy --workspace --all-targets -q -- -D warnings
cargo test --workspace -q 2>&1 | tail -n 40

echo "== workspace: run it (dev, 2 instances of each service)"
export JWT_SECRET
JWT_SECRET=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
RATE_LIMIT_PER_CLIENT=20 RATE_LIMIT_BURST=20 HEALTH_INTERVAL_MS=500 \
  "$CARGO_TARGET_DIR/debug/dev" --instances 2 --base-port "$BASE" >"$WORK/dev.log" 2>&1 &
DEV_PID=$!
for _ in $(seq 1 60); do
  n=$(curl -fsS "$GW/_registry" 2>/dev/null | grep -o '"healthy":true' | wc -l || true)
  [ "$n" -ge 6 ] && break
  sleep 0.5
done
[ "${n:-0}" -ge 6 ] || fail "6 instances did not register (saw ${n:-0})"
TOKEN=$("$CARGO_TARGET_DIR/debug/gateway" mint-token --sub ci)
AUTH="Authorization: Bearer $TOKEN"
code() { curl -s -o "$WORK/body" -w '%{http_code}' "$@"; }

echo "== workspace: routing with a token, 401 without"
[ "$(code -H "$AUTH" -H 'content-type: application/json' -d '{"name":"Bob"}' "$GW/users")" = 201 ] || fail "POST /users"
# The diagram draws no store for the services: each instance keeps its own documents in
# memory, so alice is put on both user_service instances, straight to them.
for port in $((BASE + 1)) $((BASE + 101)); do
  [ "$(code -X PUT -H 'content-type: application/json' -d '{"name":"Alice"}' "http://127.0.0.1:$port/users/alice")" = 201 ] || fail "PUT alice on :$port"
done
[ "$(code -H "$AUTH" "$GW/users/alice")" = 200 ] || fail "GET /users/alice"
grep -q Alice "$WORK/body" || fail "GET /users/alice body: $(cat "$WORK/body")"
[ "$(code -H "$AUTH" "$GW/orders")" = 200 ] || fail "GET /orders"
[ "$(code -H "$AUTH" "$GW/products")" = 200 ] || fail "GET /products"
[ "$(code "$GW/users")" = 401 ] || fail "no token must be 401"
curl -s -D - -o /dev/null "$GW/users" | grep -qi '^www-authenticate: Bearer' || fail "401 without WWW-Authenticate"
[ "$(code -H "Authorization: Bearer x.y.z" "$GW/users")" = 401 ] || fail "a bad token must be 401"
[ "$(code -H "$AUTH" "$GW/aggregate-responses?id=alice")" = 200 ] || fail "aggregate"
grep -q '"partial":false' "$WORK/body" || fail "aggregate not complete: $(cat "$WORK/body")"
echo "ok: 201/200 with a token, 401 without, complete aggregate"

echo "== workspace: /openapi.json of each service and of the gateway (no token needed)"
for port in $((BASE + 1)) $((BASE + 2)) $((BASE + 3)); do
  [ "$(code "http://127.0.0.1:$port/openapi.json")" = 200 ] || fail "/openapi.json of :$port"
done
[ "$(code "$GW/openapi.json")" = 200 ] || fail "the gateway's /openapi.json needs no token"
python3 - "$WORK/body" <<'PY' || fail "the gateway's document: $(head -c 400 "$WORK/body")"
import json, sys
d = json.load(open(sys.argv[1]))
p = d["paths"]
for want in ["/users", "/users/{id}", "/orders", "/products", "/aggregate-responses"]:
    assert want in p, want
assert d["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
for code in ["400", "401", "429", "502", "504"]:
    assert code in p["/users/{id}"]["get"]["responses"], code
print("gateway document:", len(p), "paths,", sum(len(v) for v in p.values()), "operations")
PY

# A gateway of its own for schemathesis, on the same instances, without the rate limit
# (the dev one allows 20/s): every answer then says something about the request.
svc_urls() { curl -fsS "$GW/_registry" | python3 -c "import json,sys; r=json.load(sys.stdin)['services']; print(' '.join('%s_URLS=%s' % (k.upper(), ','.join(i['url'] for i in v)) for k, v in r.items()))"; }
STGW="http://127.0.0.1:$((BASE + 902))"
# shellcheck disable=SC2046
env $(svc_urls) PORT=$((BASE + 902)) RATE_LIMIT=off "$CARGO_TARGET_DIR/debug/gateway" >"$WORK/gw-st.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 40); do curl -fsS "$STGW/health" >/dev/null 2>&1 && break; sleep 0.25; done

echo "== workspace: schemathesis through the gateway (no 5xx)"
if ! command -v st >/dev/null && ! python3 -m schemathesis.cli --version >/dev/null 2>&1; then
  python3 -m pip install -q schemathesis
fi
ST=st; command -v st >/dev/null || ST="python3 -m schemathesis.cli"
start=$(date +%s)
$ST run "$STGW/openapi.json" --checks not_a_server_error -n 100 --seed 1 \
  -H "Authorization: Bearer $TOKEN" >"$WORK/st.log" 2>&1 || { tail -60 "$WORK/st.log"; fail "schemathesis through the gateway"; }
tail -12 "$WORK/st.log"
echo "schemathesis took $(( $(date +%s) - start )) s"

echo "== workspace: RS256 tokens against a JWKS (JWT_JWKS_FILE), keys made here"
openssl genrsa -out "$WORK/rs.pem" 2048 2>/dev/null
openssl genrsa -out "$WORK/other.pem" 2048 2>/dev/null
openssl rsa -in "$WORK/rs.pem" -noout -modulus | python3 -c "
import base64, json, sys
n = bytes.fromhex(sys.stdin.read().strip().split('=', 1)[1])
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b'=').decode()
print(json.dumps({'keys': [{'kty': 'RSA', 'kid': 'ci-1', 'use': 'sig', 'alg': 'RS256', 'n': b64(n), 'e': b64((65537).to_bytes(3, 'big'))}]}))
" >"$WORK/jwks.json"
RSGW="http://127.0.0.1:$((BASE + 903))"
# shellcheck disable=SC2046
env $(svc_urls) JWT_SECRET= JWT_JWKS_FILE="$WORK/jwks.json" PORT=$((BASE + 903)) RATE_LIMIT=off \
  "$CARGO_TARGET_DIR/debug/gateway" >"$WORK/gw-rs.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 40); do curl -fsS "$RSGW/health" >/dev/null 2>&1 && break; sleep 0.25; done
mint_rs() { "$CARGO_TARGET_DIR/debug/gateway" mint-token --sub rs "$@"; }
RS=$(mint_rs --rs256-key "$WORK/rs.pem" --kid ci-1)
[ "$(code -H "Authorization: Bearer $RS" "$RSGW/products")" = 200 ] || fail "a valid RS256 token: $(cat "$WORK/body")"
refused() { # why token
  c=$(curl -s -D "$WORK/h" -o "$WORK/body" -w '%{http_code}' -H "Authorization: Bearer $2" "$RSGW/products")
  [ "$c" = 401 ] || fail "RS256 $1: $c, not 401"
  grep -qi '^www-authenticate: Bearer.*error="invalid_token"' "$WORK/h" || fail "RS256 $1: no WWW-Authenticate"
  grep -q "$3" "$WORK/body" || fail "RS256 $1: $(cat "$WORK/body")"
}
refused "wrong key" "$(mint_rs --rs256-key "$WORK/other.pem" --kid ci-1)" signature
refused "expired" "$(mint_rs --rs256-key "$WORK/rs.pem" --kid ci-1 --ttl -3600)" expired
refused "wrong audience" "$(mint_rs --rs256-key "$WORK/rs.pem" --kid ci-1 --aud elsewhere)" audience
refused "unknown kid" "$(mint_rs --rs256-key "$WORK/rs.pem" --kid ci-2)" kid
refused "HS256 without a secret" "$TOKEN" HS256
echo "ok: RS256 200; 401 with WWW-Authenticate for a wrong key, expired, wrong audience, unknown kid, HS256"

echo "== workspace: 429 over the per-client limit"
T2=$("$CARGO_TARGET_DIR/debug/gateway" mint-token --sub burst)
# 100 requests, 25 at a time: far more than a bucket of 20 refilled at 20/s.
seq 1 100 | xargs -P 25 -I{} curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer $T2" "$GW/products" >"$WORK/codes"
n429=$(grep -c '^429$' "$WORK/codes" || true)
[ "$n429" -gt 0 ] || fail "no 429 in 100 concurrent requests with a limit of 20/s: $(sort "$WORK/codes" | uniq -c | tr '\n' ' ')"
echo "codes of the burst: $(sort "$WORK/codes" | uniq -c | tr '\n' ' ')"
got429=""
for _ in $(seq 1 40); do
  c=$(curl -s -D "$WORK/h" -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $T2" "$GW/products")
  if [ "$c" = 429 ]; then got429=1; break; fi
done
[ -n "$got429" ] || fail "no 429 with headers after the burst"
grep -qi '^retry-after: [0-9]' "$WORK/h" || fail "429 without Retry-After"
echo "ok: 429 with $(grep -i '^retry-after' "$WORK/h" | tr -d '\r')"

echo "== workspace: kill -9 one user_service instance; the gateway stops routing to it"
pid=$(awk '/user_service #1/ {print $NF; exit}' "$WORK/dev.log")
[ -n "$pid" ] || fail "no pid for user_service #1 in the dev log"
kill -9 "$pid"
t0=$(date +%s%N)
for _ in $(seq 1 50); do
  curl -fsS "$GW/_registry" | grep -o '"healthy":false' | grep -q . && break
  sleep 0.1
done
echo "out of rotation after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
for i in $(seq 1 20); do
  [ "$(code -H "$AUTH" "$GW/users")" = 200 ] || fail "GET /users #$i after the kill"
done
echo "ok: 20 of 20 GET /users answered after the kill"

echo "== workspace: kill -9 every order_service instance; the aggregate is partial"
for p in $(awk '/order_service #/ {print $NF}' "$WORK/dev.log"); do kill -9 "$p"; done
sleep 1
[ "$(curl -s -D "$WORK/h" -o "$WORK/body" -w '%{http_code}' -H "$AUTH" "$GW/aggregate-responses?id=alice")" = 200 ] || fail "partial aggregate must be 200"
grep -qi '^x-aggregate-partial: true' "$WORK/h" || fail "no x-aggregate-partial header"
grep -q '"partial":true' "$WORK/body" || fail "body not partial: $(cat "$WORK/body")"
grep -q '"missing":\["order_service"\]' "$WORK/body" || fail "missing: $(cat "$WORK/body")"
curl -fsS "$GW/metrics" | grep -E 'gateway_requests_total\{route="/aggregate-responses",outcome="partial"\}' || fail "metrics"
curl -fsS "$GW/metrics" | grep -E 'outcome="(401|429)"' | head -3
echo "ok: partial aggregate, counted in /metrics"
echo "== workspace: the registry in Redis (REDIS_URL)"
if ! command -v redis-server >/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi
RPORT=$((BASE + 900))
redis-server --port "$RPORT" --save '' --appendonly no --daemonize yes --pidfile "$WORK/redis.pid" >/dev/null
RGW="http://127.0.0.1:$((BASE + 901))"
REDIS_URL="redis://127.0.0.1:$RPORT" PORT=$((BASE + 901)) "$CARGO_TARGET_DIR/debug/gateway" >"$WORK/gw-redis.log" 2>&1 &
RGW_PID=$!
for _ in $(seq 1 40); do curl -fsS "$RGW/health" >/dev/null 2>&1 && break; sleep 0.25; done
[ "$(code -H 'content-type: application/json' -d "{\"service\":\"product_service\",\"instance_id\":\"ci-1\",\"url\":\"http://127.0.0.1:$((BASE + 3))\",\"ttl_ms\":5000}" "$RGW/_registry/register")" = 204 ] || { kill "$RGW_PID"; fail "register in redis: $(cat "$WORK/body")"; }
curl -fsS "$RGW/_registry" | grep -q '"store":"redis"' || { kill "$RGW_PID"; fail "registry not in redis"; }
[ "$(code -H "$AUTH" "$RGW/products")" = 200 ] || { kill "$RGW_PID"; fail "GET /products through the redis-registry gateway"; }
redis-cli -p "$RPORT" zcard shop:registry:product_service | grep -q '^1$' || { kill "$RGW_PID"; fail "no member in redis"; }
kill "$RGW_PID"; wait "$RGW_PID" 2>/dev/null || true
redis-cli -p "$RPORT" shutdown nosave >/dev/null 2>&1 || true
echo "ok: registration kept in Redis and routed"
echo "== workspace: ok"
