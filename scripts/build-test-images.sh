#!/usr/bin/env bash
# Builds the local images the integration tests deploy in place of Harbor's, from Debian
# packages only, and tags them with the upstream names the rendered docker-compose.yml uses.
#
#   scripts/build-test-images.sh [build]   build what is missing or changed, then tag
#   scripts/build-test-images.sh list      the upstream tags, what stands behind each, sizes
#   scripts/build-test-images.sh rmi       remove every image this script made
#
# How: `debootstrap --variant=minbase` (cached) -> `docker import` as harbor-prep-test/base
# -> `docker build FROM` it, one image per component (images/*/Dockerfile), up to HPT_JOBS
# at once. Real programs: nginx (proxy, portal), the distribution registry, PostgreSQL 15,
# Redis, rsyslog + logrotate. Harbor's own programs (core, jobservice, registryctl,
# exporter, trivy-adapter) get STAND-INS; every image says which in its label
# org.harbor-prep.test=real|standin.
#
# Idempotent: each image carries org.harbor-prep.test.context-hash, a hash of its build
# context, build arguments and parent image ID; an image whose hash matches is kept, so a
# rerun with nothing changed only checks, and a changed Dockerfile rebuilds that image and
# those built FROM it.
#
# Uses the engine at DOCKER_HOST, or starts a private one (scripts/dockerd.sh) when none
# answers. Settings (environment):
#   HPT_VERSIONS        Harbor versions to tag (default "v2.13.5 v2.14.4 v2.15.2")
#   HPT_JOBS            parallel builds (default 2)
#   HPT_CACHE           debootstrap and rootfs cache, build logs (default /var/cache/harbor-prep-test)
#   HPT_SUITE           Debian suite (default bookworm)
#   HPT_MIRROR          Debian mirror (default http://deb.debian.org/debian)
#   HPT_SECURITY_MIRROR security mirror (default http://deb.debian.org/debian-security)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
images="$(cd "$here/.." && pwd)/images"
versions=${HPT_VERSIONS:-v2.13.5 v2.14.4 v2.15.2}
jobs=${HPT_JOBS:-2}
cache=${HPT_CACHE:-/var/cache/harbor-prep-test}
suite=${HPT_SUITE:-bookworm}
mirror=${HPT_MIRROR:-http://deb.debian.org/debian}
security=${HPT_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
prefix=harbor-prep-test
label=org.harbor-prep.test
export DOCKER_BUILDKIT=0

t_start=$(date +%s%N)

elapsed() { printf '%d.%01d' $((($(date +%s%N) - $1) / 1000000000)) $(((($(date +%s%N) - $1) / 100000000) % 10)); }
say() { printf '[%6ss] %s\n' "$(elapsed "$t_start")" "$*" >&2; }
die() { say "error: $*"; exit 1; }

# name | context dir | parent (our name, or "base") | build args | kind | upstream repositories
table=(
    "common|common|base||base|"
    "nginx|nginx|common||real|goharbor/nginx-photon"
    "db|db|common||real|goharbor/harbor-db"
    "registry|registry|common||real|goharbor/registry-photon"
    "redis|redis|common||real|goharbor/valkey-photon goharbor/redis-photon"
    "log|log|common||real|goharbor/harbor-log"
    "portal|portal|nginx||real|goharbor/harbor-portal"
    "standin|standin|nginx||standin|"
    "core|standin-role|standin|ROLE=core|standin|goharbor/harbor-core"
    "jobservice|standin-role|standin|ROLE=jobservice|standin|goharbor/harbor-jobservice"
    "registryctl|standin-role|standin|ROLE=registryctl|standin|goharbor/harbor-registryctl"
    "exporter|standin-exporter|standin|ROLE=exporter|standin|goharbor/harbor-exporter"
    "trivy-adapter|standin-role|standin|ROLE=trivy-adapter|standin|goharbor/trivy-adapter-photon"
)

field() { local IFS='|'; local -a f; read -r -a f <<<"$1"; printf '%s' "${f[$2]:-}"; }

image_id() { docker image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }
image_hash() { docker image inspect --format "{{index .Config.Labels \"$label.context-hash\"}}" "$1" 2>/dev/null || true; }

# Hash of a context directory (paths, modes, contents) plus whatever else is passed.
context_hash() {
    local dir=$1
    shift
    {
        (cd "$dir" && find . -type f -printf '%p %m\n' | LC_ALL=C sort)
        (cd "$dir" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
        printf '%s\n' "$@"
    } | sha256sum | cut -c1-64
}

ensure_engine() {
    if ! docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
        eval "$("$here/dockerd.sh")"
        export DOCKER_HOST
    fi
    docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || die "no Docker engine answers"
}

ensure_debootstrap() {
    command -v debootstrap >/dev/null && return 0
    [[ $(id -u) -eq 0 ]] || die "debootstrap is missing; install it (apt-get install debootstrap) or run as root"
    say "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
}

build_base() {
    local hash tar t0
    hash=$(context_hash "$images/base" "$suite" "$mirror" "$security")
    if [[ $(image_hash "$prefix/base:local") == "$hash" ]]; then
        say "base: up to date"
        return 0
    fi
    tar="$cache/rootfs-$suite-${hash:0:16}.tar"
    if [[ ! -s $tar ]]; then
        ensure_debootstrap
        [[ $(id -u) -eq 0 ]] || die "debootstrap needs root"
        say "base: debootstrap --variant=minbase $suite (debs cached in $cache/debs)"
        t0=$(date +%s%N)
        if ! "$images/base/mkrootfs.sh" "$tar" "$cache" "$suite" "$mirror" "$security" >"$cache/logs/base.log" 2>&1; then
            tail -n 30 "$cache/logs/base.log" >&2
            die "base: debootstrap failed; log in $cache/logs/base.log"
        fi
        # Only the newest rootfs is kept.
        find "$cache" -maxdepth 1 -name "rootfs-$suite-*.tar" -not -path "$tar" -delete
        say "base: rootfs $(du -m "$tar" | cut -f1) MB in $(elapsed "$t0") s"
    else
        say "base: rootfs from cache $tar"
    fi
    t0=$(date +%s%N)
    docker import \
        --change "LABEL $label=base" \
        --change "LABEL $label.component=base" \
        --change "LABEL $label.context-hash=$hash" \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["/bin/bash"]' \
        "$tar" "$prefix/base:local" >/dev/null
    say "base: imported in $(elapsed "$t0") s"
}

# Prints the hash the image NAME should carry, from its context, arguments and parent.
wanted_hash() {
    local row=$1 ctx parent args kind repos parent_id
    ctx=$(field "$row" 1)
    parent=$(field "$row" 2)
    args=$(field "$row" 3)
    kind=$(field "$row" 4)
    repos=$(field "$row" 5)
    parent_id=$(image_id "$prefix/$parent:local")
    [[ -n $parent_id ]] || return 1
    context_hash "$images/$ctx" "args=$args" "kind=$kind" "repos=$repos" "parent=$parent_id"
}

# Builds one image in the background-friendly way: output to its log, status as exit code.
build_one() {
    local row=$1 name ctx args kind repos hash t0 a
    name=$(field "$row" 0)
    ctx=$(field "$row" 1)
    args=$(field "$row" 3)
    kind=$(field "$row" 4)
    repos=$(field "$row" 5)
    hash=$(wanted_hash "$row") || { echo "parent of $name is missing" >"$cache/logs/$name.log"; return 1; }
    local cmd=(docker build --force-rm --rm -t "$prefix/$name:local"
        --label "$label=$kind" --label "$label.component=$name"
        --label "$label.context-hash=$hash")
    if [[ -n $repos ]]; then cmd+=(--label "$label.upstream=$repos"); fi
    for a in $args; do cmd+=(--build-arg "$a"); done
    for a in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
        if [[ -n ${!a:-} ]]; then cmd+=(--build-arg "$a=${!a}"); fi
    done
    if [[ ${http_proxy:-${HTTP_PROXY:-}} =~ ://(127\.|localhost|\[::1\]) ]]; then
        cmd+=(--network host)
    fi
    t0=$(date +%s%N)
    "${cmd[@]}" "$images/$ctx" >"$cache/logs/$name.log" 2>&1 || return 1
    printf '%s\n' "$(elapsed "$t0")" >"$cache/logs/$name.time"
}

build_all() {
    local -A state=() pid_of=()
    local row name parent running=0 done_pid st any_failed=0 hash
    local -a order=()
    for row in "${table[@]}"; do
        name=$(field "$row" 0)
        order+=("$name")
        state[$name]=pending
    done
    declare -A row_of=()
    for row in "${table[@]}"; do row_of[$(field "$row" 0)]=$row; done
    state[base]=ready

    while :; do
        local progressed=0
        for name in "${order[@]}"; do
            [[ ${state[$name]} == pending ]] || continue
            parent=$(field "${row_of[$name]}" 2)
            case ${state[$parent]} in
                failed | skipped)
                    state[$name]=skipped
                    say "$name: skipped, $parent failed"
                    progressed=1
                    continue
                    ;;
                ready) ;;
                *) continue ;;
            esac
            hash=$(wanted_hash "${row_of[$name]}" || true)
            if [[ -n $hash && $(image_hash "$prefix/$name:local") == "$hash" ]]; then
                state[$name]=ready
                say "$name: up to date"
                progressed=1
                continue
            fi
            ((running < jobs)) || continue
            say "$name: building (log $cache/logs/$name.log)"
            build_one "${row_of[$name]}" &
            pid_of[$!]=$name
            state[$name]=running
            running=$((running + 1))
            progressed=1
        done
        if ((running == 0)); then
            ((progressed)) || break
            continue
        fi
        ((progressed)) && continue
        st=0
        wait -n -p done_pid || st=$?
        name=${pid_of[$done_pid]}
        unset "pid_of[$done_pid]"
        running=$((running - 1))
        if ((st == 0)); then
            state[$name]=ready
            say "$name: built in $(cat "$cache/logs/$name.time") s"
        else
            state[$name]=failed
            any_failed=1
            say "$name: FAILED; last lines of $cache/logs/$name.log:"
            tail -n 25 "$cache/logs/$name.log" >&2
        fi
    done
    return "$any_failed"
}

# Points every upstream tag at the image standing in for it, touching only those that differ.
tag_all() {
    local -A have=()
    local line ref id row name repos repo v want n=0
    while read -r line; do
        have[${line% *}]=${line#* }
    done < <(docker images --no-trunc --format '{{.Repository}}:{{.Tag}} {{.ID}}')
    for row in "${table[@]}"; do
        name=$(field "$row" 0)
        repos=$(field "$row" 5)
        [[ -n $repos ]] || continue
        want=$(image_id "$prefix/$name:local")
        [[ -n $want ]] || continue
        for repo in $repos; do
            for v in $versions; do
                ref="$repo:$v"
                if [[ ${have[$ref]:-} != "$want" ]]; then
                    docker tag "$want" "$ref"
                    n=$((n + 1))
                fi
            done
        done
    done
    say "tags: $n (re)pointed, versions: $versions"
}

cmd_build() {
    mkdir -p "$cache/logs"
    ensure_engine
    say "engine: ${DOCKER_HOST:-default socket}, $(docker version --format 'server {{.Server.Version}}')"
    build_base
    local st=0
    build_all || st=$?
    tag_all
    # Images of ours that a rebuild left without a tag.
    local freed
    freed=$(docker image prune -f --filter "label=$label" 2>/dev/null | sed -n 's/^Total reclaimed space: //p')
    say "superseded images pruned (${freed:-0B})"
    if ((st)); then
        die "some images failed to build (see above)"
    fi
    say "done in $(elapsed "$t_start") s"
}

cmd_list() {
    ensure_engine
    local row name repos kind v id size
    printf '%-42s %-8s %-14s %-14s %s\n' TAG KIND COMPONENT ID SIZE
    for row in "${table[@]}"; do
        name=$(field "$row" 0)
        repos=$(field "$row" 5)
        kind=$(field "$row" 4)
        for repo in $repos; do
            for v in $versions; do
                id=$(docker image inspect --format '{{.Id}}' "$repo:$v" 2>/dev/null | cut -c8-19 || true)
                size=$(docker image inspect --format '{{.Size}}' "$repo:$v" 2>/dev/null || true)
                [[ -n $size ]] && size="$((size / 1000000)) MB"
                printf '%-42s %-8s %-14s %-14s %s\n' "$repo:$v" "$kind" "$name" "${id:-missing}" "${size:-}"
            done
        done
    done
}

cmd_rmi() {
    ensure_engine
    local refs ids
    # Tags first (upstream names, then ours), then whatever untagged image of ours is left;
    # a few passes because children block their parents.
    for _ in 1 2 3 4; do
        mapfile -t refs < <(docker images --filter "label=$label" --format '{{.Repository}}:{{.Tag}}' | grep -v '<none>' || true)
        if ((${#refs[@]})); then docker rmi "${refs[@]}" >/dev/null 2>&1 || true; fi
        mapfile -t ids < <(docker images -q --no-trunc --filter "label=$label" | sort -u)
        ((${#ids[@]})) || break
        docker rmi "${ids[@]}" >/dev/null 2>&1 || true
    done
    mapfile -t ids < <(docker images -q --filter "label=$label")
    if ((${#ids[@]})); then
        die "${#ids[@]} image(s) of ours remain (used by containers?): ${ids[*]}"
    fi
    say "removed every image labelled $label"
}

case ${1:-build} in
    build) cmd_build ;;
    list) cmd_list ;;
    rmi) cmd_rmi ;;
    *) die "usage: $0 [build|list|rmi]" ;;
esac
