#!/usr/bin/env bash
# `npm test`: installs what is missing, runs the unit and workerd tests, brings up the real
# local stack (unless it is already up), runs the integration tests against it, and stops
# the stack again if this script started it (set STACK_KEEP=1 to leave it running).
# Extra arguments are passed to every vitest run (e.g. a file filter).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/with-node.sh true # installs dependencies on a fresh clone
export PATH="$root/node_modules/.bin:$PATH"
export WRANGLER_SEND_METRICS=false

results="$root/.stack/test-results"
rm -rf "$results" && mkdir -p "$results"
t0=$(date +%s)
status=0

run_vitest() { # name, then vitest args
  local name=$1
  shift
  vitest run --reporter=default --reporter=json --outputFile="$results/$name.json" "$@" || status=1
}

echo "== static checks (typecheck, biome)"
if ! (tsc -p tsconfig.edge.json && tsc -p tsconfig.node.json && tsc -p test/workers/tsconfig.json); then
  echo "typecheck FAILED"
  status=1
fi
biome check . || { echo "biome check FAILED"; status=1; }

echo "== unit and workers tests"
run_vitest fast --project unit --project workers "$@"

echo "== edge bundle (wrangler deploy --dry-run)"
if wrangler deploy --dry-run --outdir .stack/dist >.stack/bundle.log 2>&1; then
  raw=$(wc -c <.stack/dist/index.js)
  gz=$(gzip -c .stack/dist/index.js | wc -c)
  echo "edge bundle: ${raw} bytes raw, ${gz} bytes gzip"
else
  echo "wrangler deploy --dry-run FAILED:" && cat .stack/bundle.log
  status=1
fi

started_stack=0
stop_stack() {
  if [ "$started_stack" = 1 ] && [ -z "${STACK_KEEP:-}" ]; then
    echo "== stopping the stack this run started"
    tsx scripts/local/stack/cli.ts down || true
  fi
}
trap stop_stack EXIT

if tsx scripts/local/stack/cli.ts status --quiet >/dev/null 2>&1; then
  echo "== stack already up; leaving it running afterwards"
else
  echo "== starting the local stack"
  started_stack=1
  tsx scripts/local/stack/cli.ts up
fi

echo "== integration tests (real services)"
run_vitest integration --project integration "$@"

# One plain closing line over all projects, for humans and CI.
node -e '
const fs = require("node:fs");
let p = 0, f = 0, s = 0;
for (const file of fs.readdirSync(process.argv[1]).filter((f) => f.endsWith(".json"))) {
  const r = JSON.parse(fs.readFileSync(process.argv[1] + "/" + file, "utf8"));
  p += r.numPassedTests; f += r.numFailedTests; s += r.numPendingTests + (r.numTodoTests || 0);
}
console.log(`tests: ${p} passed, ${f} failed, ${s} skipped`);
' "$results"
echo "npm test wall time: $(($(date +%s) - t0)) s"
exit $status
