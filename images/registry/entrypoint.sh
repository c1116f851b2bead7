#!/bin/sh
# Serves the configuration Harbor's compose file mounts, as Harbor's registry image does.
set -e
if [ ! -r /etc/registry/config.yml ]; then
    echo "registry: /etc/registry/config.yml is missing or unreadable for uid $(id -u)" >&2
    exit 3
fi
exec /usr/bin/registry serve /etc/registry/config.yml
