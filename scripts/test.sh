#!/usr/bin/env bash
# The whole test suite: formatting, lints, and every test against SQLite and against a
# throwaway PostgreSQL cluster started here on loopback. Run as root on a fresh Debian machine
# it installs what is missing. With CI=true a missing component is a failure, never a skip.
set -euo pipefail

cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/certkeep-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export RUST_BACKTRACE=1

log() { printf '\n==> %s\n' "$*"; }

pg_bin_dir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

# --- test dependencies -------------------------------------------------------------------
missing=()
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
[ -n "$(pg_bin_dir)" ] || missing+=(postgresql)
# The email tests' SMTP server; apt packages are only visible to Debian's own interpreter.
/usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1 || missing+=(python3-aiosmtpd)
/usr/bin/python3 -c 'import cryptography' >/dev/null 2>&1 || missing+=(python3-cryptography)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
# The web UI's browser test: headless Chromium driven through chromedriver.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
# ACME ordering tests: a real ACME CA (Pebble) and an authoritative DNS server (BIND) taking
# RFC 2136 updates; dig checks the zone.
command -v pebble >/dev/null 2>&1 || missing+=(pebble)
[ -x /usr/sbin/named ] || command -v named >/dev/null 2>&1 || missing+=(bind9)
command -v dig >/dev/null 2>&1 || missing+=(bind9-dnsutils)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "missing test dependencies: ${missing[*]} (run as root to install them with apt-get)" >&2
    exit 1
  fi
fi
PG_BIN=$(pg_bin_dir)

# --- PostgreSQL: a throwaway cluster on loopback ------------------------------------------
PG_DIR=$(mktemp -d /tmp/certkeep-pg.XXXXXX)
PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
as_pg() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home-dir "$PG_DIR" postgres
    chown -R postgres "$PG_DIR"
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}
cleanup() {
  if [ -f "$PG_DIR/data/postmaster.pid" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$PG_DIR"
}
trap cleanup EXIT

log "starting PostgreSQL ($PG_BIN) on 127.0.0.1:$PG_PORT"
chmod 755 "$PG_DIR"
as_pg "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust --no-sync -E UTF8 >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
  -o "-h 127.0.0.1 -p $PG_PORT -k $PG_DIR -c fsync=off -c max_connections=400" start >/dev/null
PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"

# --- checks -------------------------------------------------------------------------------
log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

# The committed OpenAPI document against the specification's own schema, when a validator is
# at hand (pip install openapi-spec-validator); the drift test keeps it equal to the served one.
if python3 -c 'import openapi_spec_validator' 2>/dev/null; then
  log "openapi-spec-validator docs/openapi.json"
  python3 -c 'import json, sys
from openapi_spec_validator import validate
validate(json.load(open(sys.argv[1])))' docs/openapi.json
else
  log "openapi-spec-validator not installed: docs/openapi.json not validated"
fi

RESULTS="$PG_DIR/results"
: >"$RESULTS"
# Run cargo test, keep its "test result:" lines for the closing count.
run_tests() {
  local out="$PG_DIR/run.log"
  "$@" 2>&1 | tee "$out"
  grep -E '^test result: ' "$out" >>"$RESULTS" || true
}

log "tests on SQLite"
run_tests cargo test --workspace --all-targets

log "tests on PostgreSQL"
run_tests env CERTKEEP_TEST_DATABASE_URL="$PG_URL" cargo test --workspace --all-targets

log "all tests passed on SQLite and PostgreSQL"
awk '{ for (i = 2; i <= NF; i++) { if ($i == "passed;") p += $(i-1); if ($i == "failed;") f += $(i-1) } }
     END { printf "certkeep: %d passed, %d failed\n", p, f }' "$RESULTS"
