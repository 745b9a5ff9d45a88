#!/usr/bin/env bash
# Builds the real Kubernetes control plane (kube-apiserver + etcd) from Go modules at pinned
# versions into a per-user cache outside the repository, once. Test infrastructure only.
#   KUBE_VERSION  k8s.io/kubernetes tag (default below); staging modules pinned to v0.<minor>.<patch>
#   ETCD_VERSION  go.etcd.io/etcd/server/v3 tag
# Prints the directory that holds the binaries (usable as KUBEBUILDER_ASSETS).
set -euo pipefail

KUBE_VERSION="${KUBE_VERSION:-v1.34.4}"
ETCD_VERSION="${ETCD_VERSION:-v3.5.21}"

# shellcheck source=scripts/go-build-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/go-build-lib.sh"
out="$go_cache/control-plane/kube-${KUBE_VERSION}-etcd-${ETCD_VERSION}"
go_once "$out" "build-control-plane: Go is needed for the first build (or set KUBEBUILDER_ASSETS)" \
  "$out/kube-apiserver" "$out/etcd"

log() { echo "build-control-plane: $*" >&2; }

if [[ ! -x "$out/etcd" ]]; then
  log "building etcd $ETCD_VERSION (first run only)"
  mkdir -p "$work/etcd" && cd "$work/etcd"
  go mod init onpush.local/etcd >/dev/null 2>&1
  cat > main.go <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  go get "go.etcd.io/etcd/server/v3@${ETCD_VERSION}" >&2
  go mod tidy >&2
  go_build_to "$out/etcd" . -ldflags="-s -w"
fi

if [[ ! -x "$out/kube-apiserver" ]]; then
  log "building kube-apiserver $KUBE_VERSION (first run only; takes minutes)"
  mkdir -p "$work/kube" && cd "$work/kube"
  staging="v0.${KUBE_VERSION#v1.}"
  gomod="$(go mod download -json "k8s.io/kubernetes@${KUBE_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
  {
    echo "module onpush.local/kube"
    echo
    echo "go $(go env GOVERSION | sed 's/^go//; s/^\([0-9]*\.[0-9]*\).*/\1/')"
    echo
    echo "require k8s.io/kubernetes ${KUBE_VERSION}"
    echo
    echo "replace ("
    grep -oE 'k8s\.io/[a-z0-9-]+ => \./staging/src/k8s\.io/[a-z0-9-]+' "$gomod" |
      awk -v v="$staging" '{ print "\t" $1 " => " $1 " " v }'
    echo ")"
  } > go.mod
  cat > main.go <<'GO'
package main

import _ "k8s.io/kubernetes/cmd/kube-apiserver/app"

func main() {}
GO
  go mod tidy >&2
  rm main.go
  go_build_to "$out/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver -ldflags="-s -w"
fi

echo "$out"
