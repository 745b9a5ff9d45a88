#!/usr/bin/env bash
# Builds Jaeger v2 (the all-in-one `jaeger` binary: OTLP in, query API out) from its Go module at a
# pinned version into a per-user cache outside the repository, once. Test infrastructure only.
#   JAEGER_VERSION  tag of github.com/jaegertracing/jaeger. Jaeger v2 releases are tagged twice
#                   (v2.x.y and v1.x+63.y on one commit); the module path has no /v2 suffix, so the
#                   Go toolchain only accepts the v1 tag: v1.76.0 is Jaeger v2.13.0.
# Prints the path of the binary.
set -euo pipefail

JAEGER_VERSION="${JAEGER_VERSION:-v1.76.0}"

# shellcheck source=scripts/go-build-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/go-build-lib.sh"
# Jaeger's own go.mod pins sarama with a replace directive, which go_module_binary repeats.
go_module_binary jaeger github.com/jaegertracing/jaeger "$JAEGER_VERSION" \
  github.com/jaegertracing/jaeger/cmd/jaeger "$go_cache/jaeger/jaeger-${JAEGER_VERSION}/jaeger" \
  "(or set JAEGER_BIN)"
