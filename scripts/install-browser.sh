#!/usr/bin/env bash
# Installs, once per machine, the browser the console's tests drive (test/e2e/console.test.ts):
# Debian's `chromium` package, through apt-get (root or sudo). playwright-core launches it by
# path (CHROMIUM_BIN, default /usr/bin/chromium); no browser is ever downloaded by npm or at run
# time. Exits 1 naming what is missing when it cannot be installed; the console test then fails
# saying how to get it.
set -uo pipefail

bin="${CHROMIUM_BIN:-/usr/bin/chromium}"
log() { echo "install-browser: $*" >&2; }

[ -x "$bin" ] && exit 0
log "installing chromium (Debian's package) with apt-get"
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
# Another apt-get may hold the lock (install-deploy-tools.sh): wait for it rather than fail.
apt_get() { DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get -o DPkg::Lock::Timeout=600 "$@"; }
if ! { apt_get update -qq && apt_get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null; }; then
  log "not installed: chromium (apt-get failed; install Debian's chromium or set CHROMIUM_BIN)"
  exit 1
fi
[ -x "$bin" ] || { log "chromium installed but $bin is missing (set CHROMIUM_BIN)"; exit 1; }
