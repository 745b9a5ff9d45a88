#!/usr/bin/env bash
# Installs, once per machine, the tools the deployment tests (test/integration/manifests.test.ts,
# compose.test.ts) run. None needs a container engine.
#   docker-compose    Debian's package (apt-get, root or sudo): `docker-compose config` validates
#                     docker-compose.yml
#   kustomize         kubectl's built-in when kubectl is on PATH; otherwise built from its Go module
#                     at KUSTOMIZE_VERSION into the cache
#   dockerfile-utils  the npm package at DOCKERFILE_UTILS_VERSION, into the cache: lints the
#                     Dockerfile
#   helm              built from its Go module at HELM_VERSION into the cache (whatever helm is on
#                     PATH): lints and renders charts/onpush (test/integration/chart.test.ts)
# The cached tools are linked into $ONPUSH_CACHE_DIR/tools/bin, where the tests look for them.
# A tool that cannot be installed is named on stderr and the script exits 1; the others are still
# installed, and the tests that need the missing one fail saying how to get it.
set -uo pipefail

KUSTOMIZE_VERSION="${KUSTOMIZE_VERSION:-v5.5.0}"
DOCKERFILE_UTILS_VERSION="${DOCKERFILE_UTILS_VERSION:-0.16.3}"
HELM_VERSION="${HELM_VERSION:-v4.3.2}"
cache="${ONPUSH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/onpush}"
bin="$cache/tools/bin"
mkdir -p "$bin"

log() { echo "install-deploy-tools: $*" >&2; }

install_docker_compose() {
  command -v docker-compose >/dev/null && return 0
  log "installing docker-compose (Debian's package) with apt-get"
  local sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq docker-compose >/dev/null
}

install_kustomize() {
  { command -v kubectl || command -v kustomize; } >/dev/null && return 0
  local out="$cache/tools/kustomize-$KUSTOMIZE_VERSION"
  if [ ! -x "$out/kustomize" ]; then
    command -v go >/dev/null || { log "Go is needed to build kustomize (or put kubectl on PATH)"; return 1; }
    log "building kustomize $KUSTOMIZE_VERSION from sigs.k8s.io/kustomize/kustomize/v5 (first run only)"
    GOBIN="$out" CGO_ENABLED=0 GOFLAGS=-trimpath GOTOOLCHAIN=local \
      go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" >&2 || return 1
  fi
  ln -sfn "$out/kustomize" "$bin/kustomize"
}

# Pinned, not whatever helm is on PATH: the chart test asserts what this version renders.
install_helm() {
  local out="$cache/tools/helm-$HELM_VERSION"
  if [ ! -x "$out/helm" ]; then
    command -v go >/dev/null || { log "Go is needed to build helm"; return 1; }
    log "building helm $HELM_VERSION from helm.sh/helm/v4/cmd/helm (first run only)"
    GOBIN="$out" CGO_ENABLED=0 GOFLAGS=-trimpath GOTOOLCHAIN=local \
      go install "helm.sh/helm/v4/cmd/helm@$HELM_VERSION" >&2 || return 1
  fi
  ln -sfn "$out/helm" "$bin/helm"
}

install_dockerfile_utils() {
  local out="$cache/tools/dockerfile-utils-$DOCKERFILE_UTILS_VERSION"
  if [ ! -x "$out/node_modules/.bin/dockerfile-utils" ]; then
    log "installing dockerfile-utils $DOCKERFILE_UTILS_VERSION from the npm registry"
    mkdir -p "$out"
    npm install --prefix "$out" --no-save --no-audit --no-fund --ignore-scripts --loglevel=error \
      "dockerfile-utils@$DOCKERFILE_UTILS_VERSION" >&2 || return 1
  fi
  ln -sfn "$out/node_modules/.bin/dockerfile-utils" "$bin/dockerfile-utils"
}

failed=()
install_docker_compose || failed+=(docker-compose)
install_kustomize || failed+=(kustomize)
install_dockerfile_utils || failed+=(dockerfile-utils)
install_helm || failed+=(helm)
if [ "${#failed[@]}" -gt 0 ]; then
  log "not installed: ${failed[*]}"
  exit 1
fi
