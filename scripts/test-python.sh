#!/usr/bin/env bash
# The Python binding's tests: builds the wheel through pip (maturin as the PEP 517 backend),
# installs it into a fresh virtual environment with pytest, mypy and ansible-core from PyPI,
# checks the type stubs against the built module (mypy stubtest), and runs the pytest suite:
# validate/render/prepare against the harbor-deploy command, the deploy calls on a Docker
# engine, and the Ansible playbooks.
#
# As root on a fresh Debian it installs python3-venv when missing and starts a private dockerd
# (scripts/dockerd.sh) when no engine answers; like test-node.sh it leaves the engine running
# (scripts/test.sh stops a private one it started).
#
# Settings (environment):
#   HARBOR_ENGINE_TESTS=skip   leave out the tests that need a Docker engine
#   HARBOR_REFERENCE           upstream's reference cases (default ../shared/reference)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
started=$SECONDS
work=$repo/target/python

step() { printf '\n=== python: %s (%ss)\n' "$1" "$((SECONDS - started))"; }

step "python3 with venv"
need=()
command -v python3 >/dev/null || need+=(python3)
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
command -v flock >/dev/null || need+=(util-linux)
if ((${#need[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "missing: ${need[*]}; install them (apt-get install ${need[*]}) or run as root" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

step "harbor-deploy, to compare with"
cargo build -p harbor-deploy --locked --quiet

step "the wheel (pip wheel ./bindings/python)"
rm -rf "$work/wheels"
python3 -m venv --clear "$work/build-venv"
"$work/build-venv/bin/python" -m pip install --quiet --upgrade pip
"$work/build-venv/bin/python" -m pip wheel --quiet --no-deps -w "$work/wheels" ./bindings/python
wheel=$(ls "$work"/wheels/harbor_prep-*-cp39-abi3-*.whl)
echo "built $(basename "$wheel") ($(du -h "$wheel" | cut -f1))"

step "a fresh virtual environment"
python3 -m venv --clear "$work/venv"
py=$work/venv/bin/python
"$py" -m pip install --quiet --upgrade pip
"$py" -m pip install --quiet "$wheel" "pytest==9.2.0" "mypy==2.4.1" "ansible-core==2.19.14"

step "type stubs against the built module (mypy stubtest)"
(cd "$work" && "$py" -m mypy.stubtest harbor_prep --allowlist "$repo/bindings/python/stubtest-allowlist.txt")
(cd "$work" && "$py" -m mypy --no-incremental --cache-dir=/dev/null "$repo/bindings/python/tests")

markers=()
if [[ ${HARBOR_ENGINE_TESTS:-} == skip ]]; then
    markers=(-m "not engine")
else
    step "a docker engine and the test images"
    # started outside the lock: a dockerd started under flock would inherit the lock's file
    # descriptor and hold the lock for as long as it runs
    eval "$(bash scripts/dockerd.sh)"
    flock /tmp/harbor-engine.lock bash scripts/build-test-images.sh build
    export HARBOR_ENGINE_TESTS=require
fi

step "pytest: the module, the command line, the engine, ansible-core"
(cd "$work" && HARBOR_DEPLOY="$repo/target/debug/harbor-deploy" \
    "$py" -m pytest "$repo/bindings/python/tests" -p no:cacheprovider -q "${markers[@]}")

step "done"
