#!/usr/bin/env bash
# The tests that need a Docker engine: the Debian-built stand-ins for Harbor's images run the
# rendered bundle under docker-compose, and the harbor-deploy image prepares from the
# environment. Starts a private dockerd when no engine answers, and stops only that one.
set -euo pipefail
cd "$(dirname "$0")/.."

# stop the private engine at the end only when this run started it: another run may be
# using one that was there before
before=$(bash scripts/dockerd.sh status 2>&1 || true)
eval "$(bash scripts/dockerd.sh)"
after=$(bash scripts/dockerd.sh status 2>&1 || true)
if ! grep -q 'private dockerd pid .* answers' <<<"$before" &&
    grep -q 'private dockerd pid .* answers' <<<"$after"; then
    trap 'bash scripts/dockerd.sh stop >/dev/null 2>&1 || true' EXIT
fi

# the smoke test deploys under the compose file's fixed container names: it holds the engine
# lock the other engine-bound tests take, so that they take turns on a shared engine
flock /tmp/harbor-engine.lock bash scripts/build-test-images.sh build
flock /tmp/harbor-engine.lock bash scripts/smoke-test-images.sh
flock /tmp/harbor-engine.lock bash scripts/test-docker-image.sh
