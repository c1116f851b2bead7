#!/bin/bash
# Entry point of the harbor-prep test PostgreSQL image.
#
# First start (no $PGDATA/pg15/PG_VERSION): initdb with the bootstrap user postgres, the
# password from POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) for TCP logins (scram-sha-256;
# trust and a warning without one), POSTGRES_USER created as superuser when it is not
# postgres, POSTGRES_DB created, then /docker-entrypoint-initdb.d/*.sql|*.sql.gz|*.sh run on
# a socket-only server. Every start: exec postgres as PID 1 with max_connections from
# POSTGRES_MAX_CONNECTIONS (default 1024). Started as root, it fixes ownership of $PGDATA
# and re-executes itself as postgres.
set -euo pipefail

PG_MAJOR=15
PGDATA=${PGDATA:-/var/lib/postgresql/data}
cluster="$PGDATA/pg$PG_MAJOR"

log() { printf 'harbor-db: %s\n' "$*" >&2; }

# VAR from $VAR, else from the file $VAR_FILE names, else DEFAULT; both set is an error.
file_env() {
    local var=$1 def=${2:-} file_var="${1}_FILE" val
    if [[ -n ${!var:-} && -n ${!file_var:-} ]]; then
        log "both $var and $file_var are set; set one"
        exit 1
    fi
    val=$def
    if [[ -n ${!var:-} ]]; then
        val=${!var}
    elif [[ -n ${!file_var:-} ]]; then
        val=$(<"${!file_var}")
    fi
    export "$var=$val"
    unset "$file_var"
}

# Options such as --version or --help go straight to postgres.
if [[ ${1:-} == -* ]]; then
    set -- postgres "$@"
fi
if [[ ${1:-} != postgres || ${2:-} == --version || ${2:-} == -V || ${2:-} == --help ]]; then
    exec "$@"
fi

if [[ $(id -u) -eq 0 ]]; then
    mkdir -p "$PGDATA" /run/postgresql
    chown postgres:postgres "$PGDATA"
    chmod 0700 "$PGDATA"
    chown postgres:postgres /run/postgresql
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [[ ! -w $PGDATA ]]; then
    log "$PGDATA is not writable by uid $(id -u); the host directory must belong to 999:999"
    exit 1
fi
if [[ -s $PGDATA/PG_VERSION ]]; then
    log "$PGDATA holds a cluster of its own ($(<"$PGDATA/PG_VERSION")); this image keeps it in $cluster"
    exit 1
fi

if [[ ! -s $cluster/PG_VERSION ]]; then
    file_env POSTGRES_PASSWORD
    file_env POSTGRES_USER postgres
    file_env POSTGRES_DB "$POSTGRES_USER"
    file_env POSTGRES_INITDB_ARGS

    log "initialising a PostgreSQL $PG_MAJOR cluster in $cluster"
    mkdir -p "$cluster"
    chmod 0700 "$cluster"
    auth=scram-sha-256
    pwargs=()
    if [[ -n $POSTGRES_PASSWORD ]]; then
        pwfile=$(mktemp)
        printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
        pwargs=(--pwfile="$pwfile")
    else
        log "WARNING: POSTGRES_PASSWORD is empty: every TCP client is trusted"
        auth=trust
    fi
    # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is a list of options
    initdb -D "$cluster" --username=postgres "${pwargs[@]}" --encoding=UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host="$auth" $POSTGRES_INITDB_ARGS >&2
    rm -f "${pwfile:-}"
    printf '\nhost all all all %s\n' "$auth" >>"$cluster/pg_hba.conf"
    printf "\nlisten_addresses = '*'\nunix_socket_directories = '/run/postgresql'\n" \
        >>"$cluster/postgresql.conf"

    pg_ctl -D "$cluster" -o "-c listen_addresses=''" -w start >&2
    psql=(psql -v ON_ERROR_STOP=1 --username=postgres --no-password --quiet)
    if [[ $POSTGRES_USER != postgres ]]; then
        "${psql[@]}" --dbname=postgres --set=u="$POSTGRES_USER" --set=p="$POSTGRES_PASSWORD" \
            <<<'CREATE USER :"u" WITH SUPERUSER PASSWORD :'"'"'p'"'"';'
    fi
    if [[ $POSTGRES_DB != postgres ]]; then
        "${psql[@]}" --dbname=postgres --set=d="$POSTGRES_DB" <<<'CREATE DATABASE :"d";'
    fi
    for f in /docker-entrypoint-initdb.d/*; do
        # shellcheck disable=SC1090 # *.sh scripts there are the image user's
        case $f in
            *.sql) log "running $f"; "${psql[@]}" --dbname="$POSTGRES_DB" -f "$f" ;;
            *.sql.gz) log "running $f"; gunzip -c "$f" | "${psql[@]}" --dbname="$POSTGRES_DB" ;;
            *.sh) log "running $f"; . "$f" ;;
            *) if [[ -e $f ]]; then log "ignoring $f"; fi ;;
        esac
    done
    pg_ctl -D "$cluster" -m fast -w stop >&2
    log "initialisation done"
fi

max=${POSTGRES_MAX_CONNECTIONS:-1024}
if ! [[ $max =~ ^[0-9]+$ ]] || ((max <= 0 || max > 262143)); then
    max=262143
fi
shift
exec postgres -D "$cluster" -c max_connections="$max" "$@"
