#!/bin/bash
# Healthy when POSTGRES_USER logs in over TCP with POSTGRES_PASSWORD and SELECT 1 answers 1.
set -eo pipefail
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
if [[ -z ${POSTGRES_PASSWORD:-} && -n ${POSTGRES_PASSWORD_FILE:-} ]]; then
    POSTGRES_PASSWORD=$(<"$POSTGRES_PASSWORD_FILE")
fi
export PGPASSWORD=${POSTGRES_PASSWORD:-}
[[ $(psql --host=127.0.0.1 --username="$user" --dbname="$db" --no-password \
    --quiet --no-align --tuples-only --command='SELECT 1') == 1 ]]
