#!/usr/bin/env bash
# Obtaining N certificates (default 30) from a local Pebble, HTTP-01, side by side:
#   1. certkeep: N orders created through the API, run by certkeepd's order job (concurrently,
#      at most four at once per account), timed from the first request until all are issued;
#   2. lego run once per certificate, one after the other;
#   3. lego run 8 at a time.
# Pebble (PEBBLE_VA_NOSLEEP=1, real validation) resolves every name to 127.0.0.1 through
# pebble-challtestsrv's DNS. certkeep answers on its own HTTP-01 listener; lego writes into a
# webroot served by one static server, so that 8 lego processes can run at once.
# Usage: bench/acme_vs_lego.sh [N]. Needs the Debian packages pebble and lego.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-30}
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/certkeep-target}"
cargo build --release -q -p certkeep-server --bin certkeepd
BIN="$CARGO_TARGET_DIR/${CARGO_BUILD_TARGET:+$CARGO_BUILD_TARGET/}release"
DIR=$(mktemp -d /tmp/certkeep-acme-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() {
  for _ in $(seq 1 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on $1" >&2
  exit 1
}
now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.2f}')"; }

# Pebble's listener certificate, signed by a throwaway CA both clients trust.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=bench-ca \
  -keyout "$DIR/ca.key" -out "$DIR/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
  -keyout "$DIR/key.pem" -out "$DIR/leaf.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n' >"$DIR/ext"
openssl x509 -req -in "$DIR/leaf.csr" -CA "$DIR/ca.pem" -CAkey "$DIR/ca.key" -CAcreateserial \
  -days 1 -extfile "$DIR/ext" -out "$DIR/cert.pem" 2>/dev/null

DNS_PORT=$(free_port)
HTTP_PORT=$(free_port)
ACME_PORT=$(free_port)
pebble-challtestsrv -defaultIPv4 127.0.0.1 -defaultIPv6 "" -dns01 "127.0.0.1:$DNS_PORT" \
  -http01 "" -https01 "" -tlsalpn01 "" -management "127.0.0.1:$(free_port)" \
  >"$DIR/challtestsrv.log" 2>&1 &
PIDS+=($!)
cat >"$DIR/pebble.json" <<EOF
{"pebble": {"listenAddress": "127.0.0.1:$ACME_PORT", "managementListenAddress": "127.0.0.1:$(free_port)",
  "certificate": "$DIR/cert.pem", "privateKey": "$DIR/key.pem", "httpPort": $HTTP_PORT,
  "tlsPort": $(free_port), "ocspResponderURL": "", "externalAccountBindingRequired": false}}
EOF
PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0 \
  pebble -config "$DIR/pebble.json" -dnsserver "127.0.0.1:$DNS_PORT" >"$DIR/pebble.log" 2>&1 &
PIDS+=($!)
wait_port "$ACME_PORT"
DIRECTORY="https://127.0.0.1:$ACME_PORT/dir"

# --- certkeep ----------------------------------------------------------------------------
API_PORT=$(free_port)
URL="http://127.0.0.1:$API_PORT"
mkdir "$DIR/certkeep"
CERTKEEP_LOG=warn "$BIN/certkeepd" --data-dir "$DIR/certkeep" --listen "127.0.0.1:$API_PORT" \
  --acme-http-listen "127.0.0.1:$HTTP_PORT" --acme-orders-per-account-per-hour 1000 \
  >"$DIR/certkeep.out" 2>"$DIR/certkeep.err" &
PIDS+=($!)
CERTKEEPD=$!
wait_port "$API_PORT"
TOKEN=$(grep '^ck_' "$DIR/certkeep.out" | head -n 1)
api() { curl -sf -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
ACCOUNT=$(jq -n --arg d "$DIRECTORY" --rawfile root "$DIR/ca.pem" \
  '{name: "pebble", directory: $d, contact: ["bench@example.com"], terms_of_service_agreed: true, ca_root_pem: $root}' |
  api -X POST "$URL/api/v1/acme/accounts" -d @- | jq -r .id)
start=$(now)
for i in $(seq 1 "$N"); do
  jq -n --arg a "$ACCOUNT" --arg d "ck$i.bench.test" \
    '{name: $d, domains: [$d], account_id: $a, challenge: "http-01", key_type: "ec-p256"}' |
    api -X POST "$URL/api/v1/orders" -d @- >/dev/null
done
while :; do
  counts=$(api "$URL/api/v1/orders" | jq -r '[.items[].status] | "\(map(select(. == "issued")) | length) \(map(select(. == "failed")) | length)"')
  read -r issued failed <<<"$counts"
  [ $((issued + failed)) -ge "$N" ] && break
  sleep 0.2
done
end=$(now)
echo "certkeep: $issued issued, $failed failed, $N certificates in $(elapsed "$start" "$end") s"
kill "$CERTKEEPD"
wait "$CERTKEEPD" 2>/dev/null || true

# --- lego ------------------------------------------------------------------------------------
mkdir -p "$DIR/webroot/.well-known/acme-challenge"
python3 -m http.server "$HTTP_PORT" --bind 127.0.0.1 --directory "$DIR/webroot" >/dev/null 2>&1 &
PIDS+=($!)
wait_port "$HTTP_PORT"
lego_one() {
  LEGO_CA_CERTIFICATES="$DIR/ca.pem" lego --server "$DIRECTORY" --accept-tos --email bench@example.com \
    --path "$DIR/lego-$1" --key-type ec256 --domains "$1" --http --http.webroot "$DIR/webroot" \
    run >"$DIR/lego-$1.log" 2>&1 || { echo "lego $1 failed:" >&2; tail -5 "$DIR/lego-$1.log" >&2; return 1; }
}
export -f lego_one
export DIR DIRECTORY
start=$(now)
for i in $(seq 1 "$N"); do lego_one "seq$i.bench.test"; done
end=$(now)
echo "lego, one after another: $N certificates in $(elapsed "$start" "$end") s"
start=$(now)
seq 1 "$N" | sed 's/.*/par&.bench.test/' | xargs -P 8 -I{} bash -c 'lego_one {}'
end=$(now)
echo "lego, 8 at a time: $N certificates in $(elapsed "$start" "$end") s"
echo "issued by lego: $(ls "$DIR"/lego-*/certificates/*.bench.test.crt 2>/dev/null | wc -l)"
