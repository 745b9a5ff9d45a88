#!/usr/bin/env bash
# Fallback Pub/Sub emulator for machines without the Cloud SDK's: a tiny gRPC server over
# Google's Go module cloud.google.com/go/pubsub/pstest, built once into the per-user cache.
# Prints the binary's path. Test infrastructure only.
set -euo pipefail
PSTEST_VERSION="${PSTEST_VERSION:-v1.50.1}"
# shellcheck source=scripts/go-build-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/go-build-lib.sh"
out="$go_cache/pstest-${PSTEST_VERSION}/pstest-server"
go_once "$out" "build-pubsub-emulator: Go is needed" "$out"
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
go_build_to "$out" .
echo "$out"
