#!/usr/bin/env bash
# Runs every test of the workspace, after installing what the tests need.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked
cargo build -p harbor-deploy --locked
bash scripts/docker-tests.sh
