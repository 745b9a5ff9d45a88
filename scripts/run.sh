#!/usr/bin/env bash
# One entry point for the README's commands: prepares a fresh machine (Node >= 22, npm ci,
# nats-server, the compiled workspace) and then runs the named job.
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

# nats-server: PATH, NATS_SERVER_BIN, or Debian's package.
if [ -z "${NATS_SERVER_BIN:-}" ] && ! command -v nats-server >/dev/null; then
  echo "onpush: installing nats-server with apt-get" >&2
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq nats-server >/dev/null
fi

npx tsc --build

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
    node scripts/check-references.mjs
    npx eslint .
    npx prettier --check . >/dev/null || { echo "onpush: formatting differs (npm run format)" >&2; exit 1; }
    exec npx vitest run --project unit "$@" ;;
  *) echo "unknown job: $job" >&2; exit 2 ;;
esac
