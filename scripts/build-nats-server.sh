#!/usr/bin/env bash
# Builds the nats-server onpush ships (docker-compose, k8s) from its Go module at a pinned release
# into a per-user cache outside the repository, once. Tests and the sandbox run this binary, so
# they exercise the broker users run, not the distribution's older package.
#   NATS_SERVER_VERSION  github.com/nats-io/nats-server/v2 tag (default below; keep it equal to
#                        the image tag in docker-compose.yml and k8s/base/nats.yaml)
# Prints the binary's path.
set -euo pipefail

NATS_SERVER_VERSION="${NATS_SERVER_VERSION:-v2.15.3}"

# shellcheck source=scripts/go-build-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/go-build-lib.sh"
go_module_binary nats-server github.com/nats-io/nats-server/v2 "$NATS_SERVER_VERSION" \
  github.com/nats-io/nats-server/v2 "$go_cache/nats-server/$NATS_SERVER_VERSION/nats-server" \
  "(or set NATS_SERVER_BIN)"
