#!/usr/bin/env bash
# One entry point for the README's commands: prepares a fresh machine (Node >= 22, npm ci,
# the nats-server it ships, the compiled workspace) and then runs the named job.
#   demo   run the pipeline against a sandbox and show a push restarting Deployments
#   start  run the five services (onpush start)
#   test   every test: unit, integration, end-to-end (real servers)
#   check  typecheck + lint + unit tests
set -euo pipefail
cd "$(dirname "$0")/.."
job="${1:?usage: scripts/run.sh demo|start|test|check}"
shift

# shellcheck source=scripts/node-env.sh
. scripts/node-env.sh
echo "onpush: node $(node -v) ($(command -v node))" >&2

# Dependencies: npm ci when node_modules is missing or older than the lockfile.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi

# nats-server: NATS_SERVER_BIN, else the release docker-compose and k8s ship, built once from its
# Go module into ~/.cache/onpush (scripts/build-nats-server.sh). Without Go: whatever nats-server
# is on PATH, or the distribution's (older) package.
if [ -z "${NATS_SERVER_BIN:-}" ]; then
  if NATS_SERVER_BIN="$(scripts/build-nats-server.sh)"; then
    export NATS_SERVER_BIN
  elif command -v go >/dev/null; then
    exit 1 # the build failed; scripts/build-nats-server.sh said why
  else
    unset NATS_SERVER_BIN
    echo "onpush: using the nats-server on PATH instead of the release onpush ships" \
      "(possibly older than the one docker-compose and k8s run; set NATS_SERVER_BIN to choose)" >&2
    if ! command -v nats-server >/dev/null; then
      echo "onpush: installing nats-server with apt-get" >&2
      sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
      $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq nats-server >/dev/null
    fi
  fi
fi
[ -z "${NATS_SERVER_BIN:-}" ] || echo "onpush: $("$NATS_SERVER_BIN" --version) ($NATS_SERVER_BIN)" >&2

npx tsc --build
# The console's page (shared/console/build.mjs): bundled from npm packages, nothing fetched at run time.
node shared/console/build.mjs

# The `onpush` command (`npx onpush ...`, as the README shows): npm links a workspace's bin only
# when its file exists, and cli/dist is built after `npm ci`; link it once it is there.
[ -e node_modules/.bin/onpush ] || npm rebuild @onpush/cli --ignore-scripts --loglevel=error >/dev/null

case "$job" in
  demo)  exec node cli/dist/main.js demo "$@" ;;
  start) exec node cli/dist/main.js start "$@" ;;
  test)
    # Control-plane binaries: built once per user from Go modules unless KUBEBUILDER_ASSETS is set.
    if [ -z "${KUBEBUILDER_ASSETS:-}" ]; then
      KUBEBUILDER_ASSETS="$(scripts/build-control-plane.sh)"
      export KUBEBUILDER_ASSETS
    fi
    # docker-compose, kustomize (when kubectl is missing), dockerfile-utils: the deployment tests,
    # which fail naming what is missing when this could not install it.
    scripts/install-deploy-tools.sh || echo "onpush: deployment tools missing (see above)" >&2
    # Debian's chromium for the console's browser test (test/e2e/console.test.ts): never downloaded.
    scripts/install-browser.sh || echo "onpush: chromium missing (see above)" >&2
    npx tsc -p test/tsconfig.json --noEmit
    exec npx vitest run "$@" ;;
  bench)
    if [ -z "${KUBEBUILDER_ASSETS:-}" ]; then
      KUBEBUILDER_ASSETS="$(scripts/build-control-plane.sh)"
      export KUBEBUILDER_ASSETS
    fi
    exec node --expose-gc bench/dist/main.js "$@" ;;
  check)
    npx tsc -p test/tsconfig.json --noEmit
    npx tsc -p shared/console/web --noEmit
    node scripts/check-references.mjs
    npx eslint .
    npx prettier --check . >/dev/null || { echo "onpush: formatting differs (npm run format)" >&2; exit 1; }
    exec npx vitest run --project unit "$@" ;;
  *) echo "unknown job: $job" >&2; exit 2 ;;
esac
