#!/usr/bin/env bash
# Makes sure a Docker engine answers for the integration tests, and says how to reach it.
#
#   eval "$(scripts/dockerd.sh)"        # reuse a running engine, or start a private one
#   scripts/dockerd.sh status           # which engine answers, and whether it is ours
#   scripts/dockerd.sh stop             # stop the private engine this script started, if any
#
# An engine that already answers (DOCKER_HOST, else the default socket) is used as it is. When
# none does, Debian's docker.io is installed if missing and a private dockerd is started in the
# background with a socket, data root, exec root, pidfile and config file of its own, so that
# it never touches a system engine's state. Only the `export DOCKER_HOST=...` line goes to
# stdout; progress goes to stderr.
#
# Settings (environment):
#   HPT_DOCKER_STATE  state of the private engine (default /run/harbor-prep-test): socket,
#                     pidfile, exec root, config file
#   HPT_DOCKER_DATA   its data root (default /var/lib/harbor-prep-test/docker)
#   HPT_DOCKER_LOG    its log file (default /var/log/harbor-prep-test/dockerd.log)
#   HPT_DOCKER_WAIT   seconds to wait for it to answer (default 60)
set -euo pipefail

state=${HPT_DOCKER_STATE:-/run/harbor-prep-test}
data=${HPT_DOCKER_DATA:-/var/lib/harbor-prep-test/docker}
log=${HPT_DOCKER_LOG:-/var/log/harbor-prep-test/dockerd.log}
wait_secs=${HPT_DOCKER_WAIT:-60}
sock="$state/docker.sock"
pidfile="$state/docker.pid"

say() { printf 'dockerd.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# True when the engine at $1 (a DOCKER_HOST value, empty for the CLI's default) answers.
answers() {
    command -v docker >/dev/null || return 1
    if [[ -n $1 ]]; then
        DOCKER_HOST=$1 timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1
    else
        env -u DOCKER_HOST timeout 10 docker version --format '{{.Server.Version}}' >/dev/null 2>&1
    fi
}

# The PID in our pidfile when that process is alive and is a dockerd.
our_pid() {
    local pid
    [[ -r $pidfile ]] || return 1
    pid=$(<"$pidfile")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/comm && $(<"/proc/$pid/comm") == dockerd ]] || return 1
    printf '%s\n' "$pid"
}

install_engine() {
    local need=()
    command -v dockerd >/dev/null || need+=(docker.io)
    command -v docker >/dev/null || need+=(docker.io)
    command -v containerd >/dev/null || need+=(containerd)
    command -v runc >/dev/null || need+=(runc)
    command -v iptables >/dev/null || need+=(iptables)
    ((${#need[@]})) || return 0
    [[ $(id -u) -eq 0 ]] || die "missing ${need[*]}; run as root to install them"
    say "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}

start() {
    local t0 pid i
    t0=$(date +%s%N)

    if [[ -n ${DOCKER_HOST:-} ]] && answers "$DOCKER_HOST"; then
        say "using the engine at DOCKER_HOST=$DOCKER_HOST"
        printf 'export DOCKER_HOST=%q\n' "$DOCKER_HOST"
        return 0
    fi
    if [[ -n ${DOCKER_HOST:-} ]]; then
        say "DOCKER_HOST=$DOCKER_HOST does not answer; looking further"
    fi
    if answers ""; then
        say "using the engine at the default socket"
        printf 'export DOCKER_HOST=%q\n' "unix:///var/run/docker.sock"
        return 0
    fi
    if answers "unix://$sock"; then
        say "using the private engine already running (pid $(our_pid || echo '?'))"
        printf 'export DOCKER_HOST=%q\n' "unix://$sock"
        return 0
    fi

    [[ $(id -u) -eq 0 ]] || die "no engine answers and starting one needs root"
    install_engine
    # On a machine with an init system the package starts its own engine: use that one.
    if answers ""; then
        say "using the engine the docker.io package started at the default socket"
        printf 'export DOCKER_HOST=%q\n' "unix:///var/run/docker.sock"
        return 0
    fi
    if pid=$(our_pid); then
        die "a dockerd (pid $pid) from $pidfile runs but does not answer on $sock; see $log, or run '$0 stop'"
    fi

    mkdir -p "$state" "$data" "$(dirname "$log")"
    chmod 0711 "$state"
    # An empty config file of our own: /etc/docker/daemon.json must not change our engine.
    printf '{}\n' >"$state/daemon.json"
    rm -f "$sock"

    # Flags measured on this kind of machine: overlay2 on ext4, cgroupfs (cgroup v1), iptables
    # on so that builds reach the Debian mirror through NAT; no swarm, no IPVS needed.
    # DOCKER_SERVICE_PREFER_OFFLINE_IMAGE keeps swarm tasks from trying to pull.
    say "starting a private dockerd: socket $sock, data $data, log $log"
    (
        # The engine outlives this script, so it must not keep the caller's descriptors: a
        # lock the caller holds (flock(1) hands its descriptor down) would stay held for as
        # long as the engine runs.
        for fd in /proc/"$BASHPID"/fd/*; do
            fd=${fd##*/}
            if ((fd > 2)); then eval "exec $fd>&-"; fi
        done 2>/dev/null
        DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 exec setsid dockerd \
            --host "unix://$sock" \
            --data-root "$data" \
            --exec-root "$state/exec" \
            --pidfile "$pidfile" \
            --config-file "$state/daemon.json" \
            --storage-driver overlay2 \
            --exec-opt native.cgroupdriver=cgroupfs \
            --iptables=true \
            --log-driver json-file \
            --log-level warn
    ) </dev/null >>"$log" 2>&1 &
    pid=$!
    disown "$pid" 2>/dev/null || true

    for ((i = 0; i < wait_secs * 4; i++)); do
        if answers "unix://$sock"; then
            say "private dockerd pid $pid answers after $((($(date +%s%N) - t0) / 1000000)) ms"
            printf 'export DOCKER_HOST=%q\n' "unix://$sock"
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            say "dockerd exited; last lines of $log:"
            tail -n 20 "$log" >&2
            exit 1
        fi
        sleep 0.25
    done
    say "dockerd pid $pid did not answer within ${wait_secs}s; last lines of $log:"
    tail -n 20 "$log" >&2
    exit 1
}

stop() {
    local pid i
    if ! pid=$(our_pid); then
        say "no private dockerd of ours is running ($pidfile)"
        return 0
    fi
    say "stopping private dockerd pid $pid"
    kill -TERM "$pid"
    for ((i = 0; i < 120; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.25
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "dockerd pid $pid still runs after 30s; sending KILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$sock" "$pidfile"
    say "stopped"
}

status() {
    local pid
    if [[ -n ${DOCKER_HOST:-} ]] && answers "$DOCKER_HOST"; then
        say "DOCKER_HOST=$DOCKER_HOST answers"
    fi
    if answers ""; then say "the default socket answers"; fi
    if pid=$(our_pid); then
        if answers "unix://$sock"; then
            say "private dockerd pid $pid answers on $sock"
        else
            say "private dockerd pid $pid runs but does not answer on $sock"
        fi
    else
        say "no private dockerd of ours"
    fi
}

case ${1:-start} in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) die "usage: $0 [start|stop|status]" ;;
esac
