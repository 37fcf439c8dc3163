#!/usr/bin/env bash
# `npm test`: installs what is missing, runs the unit and workerd tests, brings up the real
# local stack (unless it is already up), runs the integration tests against it, and stops
# the stack again if this script started it (set STACK_KEEP=1 to leave it running).
# Then the index suites once more on the stack's opt-in Redis Cluster (CLUSTER_SUITES below;
# SKIP_CLUSTER_SUITES=1 leaves that stage out), stopping the cluster after if it started it.
# Extra arguments are passed to every vitest run (e.g. a file filter) except the cluster stage's,
# which runs its own file list.
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
started_cluster=0
stop_stack() {
  [ -n "${STACK_KEEP:-}" ] && return
  if [ "$started_stack" = 1 ]; then
    echo "== stopping the stack this run started"
    tsx scripts/local/stack/cli.ts down || true # stops the Redis Cluster too, whenever it runs
  elif [ "$started_cluster" = 1 ]; then
    echo "== stopping the Redis Cluster this run started"
    tsx scripts/local/stack/cli.ts down redis-cluster redis-bridge-cluster || true
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

# The serving index's suites again with their Redis on the opt-in 3-master Redis Cluster
# (127.0.0.1:7001-7003) and the worker on the cluster-mode bridge (8078): INDEX_REDIS_CLUSTER
# makes scripts/lib/world.ts's testRedis() a Cluster, a world's origin get REDIS_CLUSTER_NODES and
# its worker the cluster bridge. Every script, MULTI and multi-key command must keep to one slot
# there (docs/scale.md, "Redis Cluster: keys and slots").
CLUSTER_SUITES="test/integration/redis-cluster-exec.test.ts test/integration/index-convergence.test.ts test/integration/serving-index.test.ts test/integration/index-bootstrap.test.ts test/integration/feed-index.test.ts test/integration/live.test.ts"
CLUSTER_SEEDS="127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003"
if [ -n "${SKIP_CLUSTER_SUITES:-}" ] && [ "${SKIP_CLUSTER_SUITES}" != 0 ]; then
  echo "== index suites on the Redis Cluster: skipped (SKIP_CLUSTER_SUITES=${SKIP_CLUSTER_SUITES})"
else
  echo "== index suites on the Redis Cluster"
  if ! tsx scripts/local/stack/cli.ts status --quiet redis-cluster redis-bridge-cluster >/dev/null 2>&1; then
    [ "$started_stack" = 1 ] || started_cluster=1
  fi
  # Naming the two components opts in to them; REDIS_CLUSTER=1 says so for any reader of the env.
  if REDIS_CLUSTER=1 tsx scripts/local/stack/cli.ts up redis-cluster redis-bridge-cluster; then
    # shellcheck disable=SC2086 # CLUSTER_SUITES is a list of paths
    INDEX_REDIS_CLUSTER="$CLUSTER_SEEDS" run_vitest integration-cluster --project integration $CLUSTER_SUITES
  else
    echo "the Redis Cluster did not come up: index suites on the Redis Cluster FAILED"
    status=1
  fi
fi

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
