#!/usr/bin/env bash
# Runs every test of the workspace, after installing what the tests need: the Rust tests
# (the engine-bound ones included), the Docker image checks, and the Python and Node
# bindings' suites. A private dockerd this run started is stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh

before=$(bash scripts/dockerd.sh status 2>&1 || true)
stop_ours() {
    local after
    after=$(bash scripts/dockerd.sh status 2>&1 || true)
    if ! grep -q 'private dockerd pid .* answers' <<<"$before" &&
        grep -q 'private dockerd pid .* answers' <<<"$after"; then
        bash scripts/dockerd.sh stop >/dev/null 2>&1 || true
    fi
}
trap stop_ours EXIT

cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked
cargo build -p harbor-deploy --locked
bash scripts/docker-tests.sh
bash scripts/test-node.sh
bash scripts/test-python.sh
