# Sourced by the scripts/build-*.sh that build test infrastructure from Go modules at pinned
# versions, once, into a per-user cache outside the repository. Not run on its own.

# The per-user cache (as cacheDir in shared/sandbox/src/paths.ts): ONPUSH_CACHE_DIR, else
# $XDG_CACHE_HOME/onpush, else ~/.cache/onpush.
go_cache="${ONPUSH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/onpush}"

# `go_once PRINT MESSAGE BINARY...`: when every BINARY is built already, prints PRINT and ends the
# script. Otherwise ends it with MESSAGE when Go is missing, or moves into a scratch folder ($work,
# removed on exit) with a static, module-mode build environment for the installed toolchain.
go_once() {
  local print="$1" message="$2" binary built=1
  shift 2
  for binary in "$@"; do
    [[ -x "$binary" ]] || built=0
  done
  if ((built)); then
    echo "$print"
    exit 0
  fi
  command -v go >/dev/null || {
    echo "$message" >&2
    exit 1
  }
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  export GOFLAGS="-mod=mod" CGO_ENABLED=0 GOTOOLCHAIN=local
  cd "$work"
}

# `go_build_to OUT PACKAGE [FLAGS...]`: builds PACKAGE into OUT through OUT.tmp, so an interrupted
# build never leaves a binary that looks built.
go_build_to() {
  local out="$1" package="$2"
  shift 2
  mkdir -p "$(dirname "$out")"
  go build -trimpath "$@" -o "$out.tmp" "$package" >&2
  mv "$out.tmp" "$out"
}

# `go_module_binary NAME MODULE VERSION PACKAGE OUT HINT`: the binary of PACKAGE, from MODULE at
# VERSION, built stripped into OUT unless it is there already; prints OUT. HINT says what to do
# instead when Go is missing. A module's replace directives apply only when it is the main
# module, so the (one-line) ones of MODULE are repeated in the scratch module.
go_module_binary() {
  local name="$1" module="$2" version="$3" package="$4" out="$5" hint="$6" gomod
  go_once "$out" "build-$name: Go is needed for the first build $hint" "$out"
  echo "build-$name: building $name $version (first run only)" >&2
  go mod init "onpush.local/$name" >/dev/null 2>&1
  gomod="$(go mod download -json "$module@$version" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
  grep -E '^replace ' "$gomod" >>go.mod || true
  go get "$package@$version" >&2
  go_build_to "$out" "$package" -ldflags="-s -w"
  echo "$out"
}
