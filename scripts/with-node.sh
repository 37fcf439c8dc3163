#!/usr/bin/env bash
# Runs a command with the project's pinned Node 22 (npm package `node`) first on PATH,
# installing dependencies first when node_modules is missing or older than the lockfile.
# The machine may only have Node 20; wrangler, miniflare and vitest need Node >= 22.12.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
stamp=node_modules/.package-lock.json
if [ ! -x node_modules/.bin/node ] || [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "[with-node] installing dependencies (npm install from package-lock.json)..." >&2
  # Not `npm ci`: chdb lists its other platforms' native packages as optional dependencies,
  # which the registry mirror here does not serve, so the lockfile cannot record them and
  # `npm ci` refuses it. `npm install` installs exactly the locked versions all the same.
  npm install --no-audit --no-fund --loglevel=error >&2
fi
export PATH="$root/node_modules/.bin:$PATH"
export WRANGLER_SEND_METRICS=false
exec "$@"
