#!/usr/bin/env sh
# Install a Java runtime for the Spark engine tests (tests/engines): Debian's
# default-jre-headless (OpenJDK 17 on bookworm; Spark 4.0 runs on 17). Idempotent and quiet:
# does nothing when `java -version` already runs; uses sudo only when not root.
set -eu

if command -v java >/dev/null 2>&1 && java -version >/dev/null 2>&1; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends default-jre-headless >/dev/null
java -version >/dev/null 2>&1
