#!/usr/bin/env bash
# Builds Jaeger v2 (the all-in-one `jaeger` binary: OTLP in, query API out) from its Go module at a
# pinned version into a per-user cache outside the repository, once. Test infrastructure only.
#   JAEGER_VERSION  tag of github.com/jaegertracing/jaeger. Jaeger v2 releases are tagged twice
#                   (v2.x.y and v1.x+63.y on one commit); the module path has no /v2 suffix, so the
#                   Go toolchain only accepts the v1 tag: v1.76.0 is Jaeger v2.13.0.
# Prints the path of the binary.
set -euo pipefail

JAEGER_VERSION="${JAEGER_VERSION:-v1.76.0}"
cache="${ONPUSH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/onpush}"
out="$cache/jaeger/jaeger-${JAEGER_VERSION}"

if [[ -x "$out/jaeger" ]]; then
  echo "$out/jaeger"
  exit 0
fi
command -v go >/dev/null || { echo "build-jaeger: Go is needed for the first build (or set JAEGER_BIN)" >&2; exit 1; }

mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export GOFLAGS="-mod=mod" CGO_ENABLED=0 GOTOOLCHAIN=local

echo "build-jaeger: building jaeger ${JAEGER_VERSION} (first run only; takes minutes)" >&2
cd "$work"
go mod init onpush.local/jaeger >/dev/null 2>&1
# Jaeger's own go.mod pins sarama with a replace directive; a replace only applies in the main
# module, so it is repeated here.
gomod="$(go mod download -json "github.com/jaegertracing/jaeger@${JAEGER_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
grep -E '^replace ' "$gomod" >> go.mod || true
go get "github.com/jaegertracing/jaeger/cmd/jaeger@${JAEGER_VERSION}" >&2
go build -trimpath -ldflags="-s -w" -o "$out/jaeger.tmp" github.com/jaegertracing/jaeger/cmd/jaeger >&2
mv "$out/jaeger.tmp" "$out/jaeger"
echo "$out/jaeger"
