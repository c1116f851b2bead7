#!/usr/bin/env bash
# The tests that need a Docker engine: the Debian-built stand-ins for Harbor's images run the
# rendered bundle under docker-compose, and the harbor-deploy image prepares from the
# environment. Starts a private dockerd when no engine answers, and stops only that one.
set -euo pipefail
cd "$(dirname "$0")/.."

started=
if ! docker version >/dev/null 2>&1; then
    started=yes
fi
eval "$(bash scripts/dockerd.sh)"
if [[ -n $started && $DOCKER_HOST == unix:///run/harbor-prep-test/* ]]; then
    trap 'bash scripts/dockerd.sh stop >/dev/null 2>&1 || true' EXIT
fi

bash scripts/build-test-images.sh build
bash scripts/smoke-test-images.sh
bash scripts/test-docker-image.sh
