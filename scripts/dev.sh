#!/usr/bin/env bash
# `npm run dev`: the whole product locally on embedded defaults. Installs what is missing,
# brings up the stack (PostgreSQL, Redis, Kafka, Connect with Debezium, the Redis REST bridge,
# the ClickHouse gateway), applies the PostgreSQL and ClickHouse migrations, starts the origin
# (write API, Debezium connector manager, Kafka → ClickHouse sink), then `wrangler dev` on 127.0.0.1:8787 in the
# foreground, restarted if it dies (the origin keeps running). Ctrl-C stops the origin and wrangler;
# `npm run stack:down` stops the services.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/with-node.sh true
export PATH="$root/node_modules/.bin:$PATH"
export WRANGLER_SEND_METRICS=false

[ -f .dev.vars ] || { cp .dev.vars.example .dev.vars && echo "[dev] wrote .dev.vars from .dev.vars.example"; }

tsx scripts/local/stack/cli.ts up
tsx origin/cli/db-migrate.ts
tsx origin/cli/ch-migrate.ts

mkdir -p .stack/logs .stack/run
if [ -f .stack/run/origin.pid ] && kill -0 "$(cat .stack/run/origin.pid)" 2>/dev/null; then
  echo "[dev] origin already running (pid $(cat .stack/run/origin.pid))"
else
  # node --import tsx (not the tsx wrapper): SIGTERM reaches the origin itself, which drains.
  node --import tsx origin/main.ts >>.stack/logs/origin.log 2>&1 &
  echo $! >.stack/run/origin.pid
  echo "[dev] origin starting (pid $!, log .stack/logs/origin.log)"
fi
origin_url="http://${ORIGIN_HOST:-127.0.0.1}:${ORIGIN_PORT:-8788}"
for _ in $(seq 1 240); do
  curl -fsS "$origin_url/healthz" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -fsS "$origin_url/healthz" >/dev/null || { echo "[dev] origin did not become healthy; see .stack/logs/origin.log" >&2; exit 1; }
echo "[dev] origin healthy at $origin_url"

# Demo data once: an empty database gets the deterministic seed (through the real CDC path).
users=$(node -e '
const pg = require("pg");
const c = new pg.Client({ connectionString: process.env.DATABASE_URL || "postgres://feed_app:feed_app@127.0.0.1:5432/feed" });
c.connect().then(() => c.query("SELECT count(*)::int AS n FROM users")).then((r) => { console.log(r.rows[0].n); return c.end(); });
')
if [ "${users:-0}" -eq 0 ]; then
  echo "[dev] loading demo data (npm run seed -- --users ${SEED_USERS:-1000})"
  demo_user=$(tsx scripts/seed.ts --users "${SEED_USERS:-1000}" | tail -1)
  echo "$demo_user" >.stack/demo-user
fi
demo_user=$(cat .stack/demo-user 2>/dev/null || true)

stop_origin() {
  if [ -f .stack/run/origin.pid ]; then
    kill "$(cat .stack/run/origin.pid)" 2>/dev/null || true
    rm -f .stack/run/origin.pid
  fi
}

token=""
[ -n "$demo_user" ] && token=$(tsx scripts/token.ts "$demo_user" | tail -1)
cat <<MSG
[dev] edge:   http://127.0.0.1:8787   (wrangler dev, starting below)
[dev] feed explorer: http://127.0.0.1:8787/explore   (paste the token below)
[dev] demo user: ${demo_user:-none}   (more tokens: npm run token -- <user-id>)
[dev] token:  ${token}
[dev] try:
  curl -s -i 'http://127.0.0.1:8787/api/v1/feed?limit=10&explain=1' -H "authorization: Bearer ${token}"
  curl -s 'http://127.0.0.1:8787/api/v1/discover/suggested-users?limit=5' -H "authorization: Bearer ${token}"
  curl -s -X POST http://127.0.0.1:8787/api/v1/events -H "authorization: Bearer ${token}" -H 'content-type: application/json' \\
    -d '{"events":[{"type":"impression","post_id":"00000000-0000-4000-8000-000000000001"}]}'
  curl -s http://127.0.0.1:8787/api/v1/trending
[dev] stop:   Ctrl-C here, then \`npm run stack:down\` to stop the services
MSG
# The edge is restarted if it dies (a runtime crash must not take the origin down with it);
# Ctrl-C (INT) or TERM ends the loop and the trap stops the origin. EDGE_RESTART_LIMIT caps
# restarts within a minute so a worker that cannot start does not spin.
stopping=0
trap 'stopping=1' INT TERM
trap stop_origin EXIT
restarts=0
window_start=$(date +%s)
while :; do
  set +e
  wrangler dev --ip 127.0.0.1 --port 8787 --var "EXPLORER_ENABLED:${EXPLORER_ENABLED:-1}"
  code=$?
  set -e
  [ "$stopping" -eq 1 ] && break
  now=$(date +%s)
  if [ $((now - window_start)) -ge 60 ]; then restarts=0; window_start=$now; fi
  restarts=$((restarts + 1))
  if [ "$restarts" -gt "${EDGE_RESTART_LIMIT:-5}" ]; then
    echo "[dev] wrangler dev exited $restarts times within a minute (last code $code); giving up" >&2
    exit 1
  fi
  echo "[dev] wrangler dev exited (code $code); restarting the edge (the origin keeps running)" >&2
  sleep 1
done
