# Sourced by scripts/run.sh: puts a Node.js >= 22 first on PATH.
# Uses the machine's node when it is new enough; otherwise installs Node 24 LTS from the npm
# registry (the `node` package ships the platform binary) into the per-user cache, once.
ONPUSH_NODE_VERSION="${ONPUSH_NODE_VERSION:-24.21.0}"
onpush_cache="${ONPUSH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/onpush}"

node_major() { "${1:-node}" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ "$(node_major)" -lt 22 ]; then
  node_prefix="$onpush_cache/node-$ONPUSH_NODE_VERSION"
  node_bin="$node_prefix/node_modules/node/bin"
  if [ ! -x "$node_bin/node" ] || [ "$(node_major "$node_bin/node")" -lt 22 ]; then
    echo "onpush: machine node is $(node -v 2>/dev/null || echo missing); installing Node $ONPUSH_NODE_VERSION into $node_prefix" >&2
    command -v npm >/dev/null || { echo "onpush: npm is needed to fetch Node $ONPUSH_NODE_VERSION" >&2; return 1; }
    mkdir -p "$node_prefix"
    npm install --prefix "$node_prefix" --no-save --no-audit --no-fund --loglevel=error "node@$ONPUSH_NODE_VERSION" >&2 || return 1
  fi
  # npm's own bin dir must follow the new node so that `npm` runs on it too.
  export PATH="$node_bin:$PATH"
fi
export ONPUSH_CACHE_DIR="$onpush_cache"
