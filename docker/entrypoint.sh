#!/bin/sh
# Prepares /install from the environment: HARBOR__* variables (and the setupwrapper's names)
# over /install/harbor.yml when it exists, else over the built-in default. Extra arguments go
# to `harbor-deploy prepare` (for example --with-trivy or --harbor-version v2.14.4).
set -eu

if [ -f /install/harbor.yml ]; then
    set -- --config /install/harbor.yml "$@"
elif [ -z "${HARBOR__HOSTNAME:-}${HARBORHOSTNAME:-}" ]; then
    # the container's own name is no name clients could reach Harbor by
    echo "error: set HARBOR__HOSTNAME to the name clients use to reach Harbor" >&2
    exit 2
fi
if [ "${HARBOR_WITH_TRIVY:-false}" = true ]; then
    set -- --with-trivy "$@"
fi

exec harbor-deploy prepare --env --out /install --root /hostfs "$@"
