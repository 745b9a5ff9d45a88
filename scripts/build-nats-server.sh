#!/usr/bin/env bash
# Builds the nats-server onpush ships (docker-compose, k8s) from its Go module at a pinned release
# into a per-user cache outside the repository, once. Tests and the sandbox run this binary, so
# they exercise the broker users run, not the distribution's older package.
#   NATS_SERVER_VERSION  github.com/nats-io/nats-server/v2 tag (default below; keep it equal to
#                        the image tag in docker-compose.yml and k8s/base/nats.yaml)
# Prints the binary's path.
set -euo pipefail

NATS_SERVER_VERSION="${NATS_SERVER_VERSION:-v2.15.3}"
cache="${ONPUSH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/onpush}"
out="$cache/nats-server/$NATS_SERVER_VERSION"

if [[ -x "$out/nats-server" ]]; then
  echo "$out/nats-server"
  exit 0
fi
command -v go >/dev/null || {
  echo "build-nats-server: Go is needed for the first build (or set NATS_SERVER_BIN)" >&2
  exit 1
}

mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export GOFLAGS="-mod=mod" CGO_ENABLED=0 GOTOOLCHAIN=local

echo "build-nats-server: building nats-server $NATS_SERVER_VERSION (first run only)" >&2
cd "$work"
go mod init onpush.local/nats-server >/dev/null 2>&1
go get "github.com/nats-io/nats-server/v2@${NATS_SERVER_VERSION}" >&2
go build -trimpath -ldflags="-s -w" -o "$out/nats-server.tmp" github.com/nats-io/nats-server/v2 >&2
mv "$out/nats-server.tmp" "$out/nats-server"
echo "$out/nats-server"
