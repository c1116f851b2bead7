#!/usr/bin/env bash
# The Node binding's tests: installs Node.js and npm when missing, builds the addon into the
# workspace's target dir, checks that the committed index.d.ts and index.js are what the napi
# CLI generates, and runs node's test runner on bindings/node/test: the API, render against
# `harbor-deploy prepare` on every reference case, the deploy calls on a real engine, and
# `npm pack` installed into an empty directory.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS

step() { printf '\n=== node: %s (%ss)\n' "$1" "$((SECONDS - started))"; }

step "node and npm"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    if [[ $(id -u) -ne 0 ]]; then
        echo "node and npm are missing; install them (apt-get install nodejs npm) or run as root" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if ((node_major < 20)); then
    echo "warning: node $(node --version) is older than @napi-rs/cli 3 supports (20.17 or later)" >&2
fi
echo "node $(node --version), npm $(npm --version)"

step "harbor-deploy (the CLI render is compared with)"
cargo build --locked -p harbor-deploy

step "npm ci"
(cd bindings/node && npm ci --no-audit --no-fund)

step "build the addon; index.d.ts and index.js up to date"
(cd bindings/node && node build.mjs --strip --check)

# the deploy test takes the engine lock itself, for its whole run, and starts a private engine
# (scripts/dockerd.sh) when none answers; the engine is left running: others may be using it
step "node --test"
(cd bindings/node && node --test test/*.test.js)

step "done"
