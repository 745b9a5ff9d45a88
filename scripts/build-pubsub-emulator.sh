#!/usr/bin/env bash
# Fallback Pub/Sub emulator for machines without the Cloud SDK's: a tiny gRPC server over
# Google's Go module cloud.google.com/go/pubsub/pstest, built once into the per-user cache.
# Prints the binary's path. Test infrastructure only.
set -euo pipefail
PSTEST_VERSION="${PSTEST_VERSION:-v1.50.1}"
cache="${ONPUSH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/onpush}"
out="$cache/pstest-${PSTEST_VERSION}/pstest-server"
if [[ -x "$out" ]]; then echo "$out"; exit 0; fi
command -v go >/dev/null || { echo "build-pubsub-emulator: Go is needed" >&2; exit 1; }
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
cd "$work"
export GOFLAGS="-mod=mod" CGO_ENABLED=0 GOTOOLCHAIN=local
go mod init onpush.local/pstest >/dev/null 2>&1
cat > main.go <<'GO'
package main

import (
	"flag"
	"log"
	"os"
	"os/signal"
	"syscall"

	"cloud.google.com/go/pubsub/pstest"
)

func main() {
	port := flag.Int("port", 8085, "port to listen on (localhost)")
	flag.Parse()
	srv := pstest.NewServerWithPort(*port)
	log.Printf("pstest listening on %s", srv.Addr)
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	<-stop
	_ = srv.Close()
}
GO
go get "cloud.google.com/go/pubsub@${PSTEST_VERSION}" >&2
go mod tidy >&2
mkdir -p "$(dirname "$out")"
go build -trimpath -o "$out.tmp" . >&2
mv "$out.tmp" "$out"
echo "$out"
