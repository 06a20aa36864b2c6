#!/usr/bin/env sh
# Install Debian's chromium for the browser tests (pytest -m browser). Idempotent and quiet:
# does nothing when /usr/bin/chromium already runs; never downloads Playwright's browsers.
set -eu

if [ -x /usr/bin/chromium ] && /usr/bin/chromium --version >/dev/null 2>&1; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
/usr/bin/chromium --version >/dev/null
