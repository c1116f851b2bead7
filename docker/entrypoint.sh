#!/bin/sh
# Prepares /install from the environment: HARBOR__* variables (and the setupwrapper's names)
# over /install/harbor.yml when it exists, else over the built-in default. Extra arguments go
# to `harbor-deploy prepare` (for example --with-trivy or --harbor-version v2.14.4).
set -eu

if [ -f /install/harbor.yml ]; then
    set -- --config /install/harbor.yml "$@"
fi
if [ "${HARBOR_WITH_TRIVY:-false}" = true ]; then
    set -- --with-trivy "$@"
fi

exec harbor-deploy prepare --env --out /install --root /hostfs "$@"
