#!/usr/bin/env bash
# Builds docker/Dockerfile on the local Debian base image and checks that the container prepares
# a Harbor installation from the setupwrapper's variables, byte-exact, and refuses to guess a
# hostname. Needs DOCKER_HOST (scripts/dockerd.sh) and the base image
# (scripts/build-test-images.sh); BINARY is the harbor-deploy to package.
set -euo pipefail
cd "$(dirname "$0")/.."

binary=${BINARY:-target/debug/harbor-deploy}
base=${BASE_IMAGE:-harbor-prep-test/base:local}
tag=harbor-prep-test/harbor-deploy:local
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() { echo "docker image: FAIL: $*" >&2; exit 1; }

DOCKER_BUILDKIT=0 docker build -q -f docker/Dockerfile \
    --build-arg BASE="$base" --build-arg BINARY="$binary" -t "$tag" . >/dev/null

mkdir -p "$work/install" "$work/data"
docker run --rm \
    -e HARBORHOSTNAME=registry.example.test \
    -e 'HARBOR_ADMIN_PASSWORD=Adm1n pass/with&amp $x' \
    -e DB_PASSWORD=Db-Pass-7 \
    -e HARBOR__JOBSERVICE__MAX_JOB_WORKERS=4 \
    -v "$work/install:/install" -v "$work/data:/hostfs/data" "$tag" >"$work/out.txt" 2>&1 ||
    fail "prepare from the environment failed: $(cat "$work/out.txt")"

env_file="$work/install/common/config/core/env"
[[ -f $env_file ]] || fail "no core env written"
[[ -f $work/data/secret/keys/secretkey ]] || fail "no secret key in the data volume"
grep -qx 'EXT_ENDPOINT=http://registry.example.test' "$env_file" || fail "hostname not applied"
grep -qx 'POSTGRESQL_PASSWORD=Db-Pass-7' "$env_file" || fail "DB_PASSWORD not applied"
grep -qx 'MAX_JOB_WORKERS=4' "$env_file" || fail "HARBOR__JOBSERVICE__MAX_JOB_WORKERS not applied"
# read back the way Compose reads it: single quotes keep the value literally
grep -qx "HARBOR_ADMIN_PASSWORD='Adm1n pass/with&amp \$x'" "$env_file" || fail "admin password changed"

if docker run --rm -v "$work/empty:/install" "$tag" >"$work/out.txt" 2>&1; then
    fail "started without a hostname"
fi
grep -q HARBOR__HOSTNAME "$work/out.txt" || fail "no hint to set HARBOR__HOSTNAME: $(cat "$work/out.txt")"

if docker run --rm -e HARBORHOSTNAME=registry.example.test -e AUTH_MODE=ldap_auth \
    -v "$work/install2:/install" "$tag" >"$work/out.txt" 2>&1; then
    fail "accepted AUTH_MODE"
fi
grep -q AUTH_MODE "$work/out.txt" || fail "AUTH_MODE not named: $(cat "$work/out.txt")"

docker rmi -f "$tag" >/dev/null
echo "docker image: 5 passed, 0 failed"
