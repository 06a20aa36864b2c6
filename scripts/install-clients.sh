#!/usr/bin/env sh
# Install the pinned npm packages the client conformance tests run (tests/clients): the Node
# OpenFeature SDK with the OFREP provider in clients/node, the web SDK with the OFREP web
# provider and esbuild in clients/web. Two folders because the two providers need different
# major versions of @openfeature/ofrep-core. `npm ci` installs exactly the lockfiles; it is
# skipped when the installed tree already matches them.
set -eu
cd "$(dirname "$0")/../clients"

if ! command -v npm >/dev/null 2>&1; then
    echo "npm is missing: apt-get install nodejs npm (Node 20)" >&2
    exit 1
fi

for folder in node web; do
    if [ -f "$folder/node_modules/.package-lock.json" ] \
        && cmp -s "$folder/package-lock.json" "$folder/node_modules/.lock-installed"; then
        continue
    fi
    (cd "$folder" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    cp "$folder/package-lock.json" "$folder/node_modules/.lock-installed"
done
