#!/usr/bin/env bash
# Smoke test of the test images against a bundle harbor-deploy rendered: Debian's
# docker-compose (v1) brings the bundle up under a project name of its own, then the
# script checks, from a container on the project's network and from 127.0.0.1:
#   registry /v2/ answers 401 (htpasswd from the rendered passwd), 200 with the rendered
#   REGISTRY_CREDENTIAL_PASSWORD; Redis answers PING; PostgreSQL takes the rendered
#   password (and refuses another) and holds the registry database; the proxy answers on
#   127.0.0.1:HPT_SMOKE_PORT with the portal page and core's /api/v2.0/ping; the stand-ins
#   answer their health endpoints; the log container writes every service's syslog lines
#   into the host log directory. Then `docker-compose down -v` and the work directory go.
#
#   scripts/smoke-test-images.sh [--full]
#
# --full renders with the Trivy adapter and metrics too, so every stand-in runs.
#
# The configuration is the built-in default (harbor-prep/src/default.yml, hostname
# harbor.example.test) with data_volume and log.local.location moved into the work
# directory, so that nothing is written to /data or /var/log/harbor. The rendered compose
# file publishes the proxy as "80:8080" (every interface); Compose v1 appends override
# ports instead of replacing them, so the test runs a copy of the compose file in which
# that one entry reads 127.0.0.1:HPT_SMOKE_PORT:8080 (and, with --full, the proxy's metrics
# port "9090:9090" reads 127.0.0.1:HPT_SMOKE_METRICS_PORT:9090, default 19090), and refuses
# to start if any port would still be published off loopback.
#
# Settings (environment): HPT_SMOKE_PORT (default 18080), HPT_SMOKE_PROJECT (default
# hpt-smoke), HPT_SMOKE_TIMEOUT seconds for health (default 180), HPT_SMOKE_KEEP=1 keeps
# the deployment and work directory for a look, HARBOR_DEPLOY a harbor-deploy binary
# (default: built with cargo).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
port=${HPT_SMOKE_PORT:-18080}
metrics_port=${HPT_SMOKE_METRICS_PORT:-19090}
project=${HPT_SMOKE_PROJECT:-hpt-smoke}
timeout_secs=${HPT_SMOKE_TIMEOUT:-180}
full=0
if [[ ${1:-} == --full ]]; then full=1; fi

t_start=$(date +%s%N)
elapsed() { printf '%d.%01d' $((($(date +%s%N) - $1) / 1000000000)) $(((($(date +%s%N) - $1) / 100000000) % 10)); }
say() { printf '[%6ss] %s\n' "$(elapsed "$t_start")" "$*" >&2; }
die() { say "error: $*"; exit 1; }

passed=0
failed=0
failures=()
pass() { passed=$((passed + 1)); say "PASS $*"; }
fail() { failed=$((failed + 1)); failures+=("$*"); say "FAIL $*"; }

# --- engine, tools -------------------------------------------------------------------
if ! docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
    eval "$("$here/dockerd.sh")"
    export DOCKER_HOST
fi
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 || die "no Docker engine answers"
if ! command -v docker-compose >/dev/null; then
    [[ $(id -u) -eq 0 ]] || die "docker-compose is missing; apt-get install docker-compose"
    say "installing docker-compose"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
fi

if [[ -n ${HARBOR_DEPLOY:-} ]]; then
    deploy=$HARBOR_DEPLOY
else
    say "building harbor-deploy"
    (cd "$repo" && cargo build -q -p harbor-deploy)
    deploy="${CARGO_TARGET_DIR:-$repo/target}/debug/harbor-deploy"
fi
[[ -x $deploy ]] || die "no harbor-deploy binary at $deploy"

# --- render ----------------------------------------------------------------------------
work=$(mktemp -d /tmp/hpt-smoke.XXXXXX)
chmod 0755 "$work"
out="$work/harbor"
compose_file="$out/docker-compose.smoke.yml"
dc() { docker-compose --ansi never -p "$project" -f "$compose_file" "$@"; }
started=0

cleanup() {
    local st=$?
    if [[ ${HPT_SMOKE_KEEP:-} == 1 ]]; then
        say "kept: project $project, work directory $work (docker-compose -p $project -f $compose_file down -v)"
        return
    fi
    if ((started)); then
        say "docker-compose down -v"
        dc down -v --remove-orphans >"$work/down.log" 2>&1 || { say "down failed:"; cat "$work/down.log" >&2; }
    fi
    rm -rf "$work"
    exit "$st"
}
trap cleanup EXIT

sed -e 's/{{HOSTNAME}}/harbor.example.test/' \
    -e "s|^data_volume: /data\$|data_volume: $work/data|" \
    -e "s|^    location: /var/log/harbor\$|    location: $work/log|" \
    "$repo/harbor-prep/src/default.yml" >"$work/harbor.yml"
grep -q "^data_volume: $work/data\$" "$work/harbor.yml" || die "default.yml has no 'data_volume: /data' line to move"
grep -q "^    location: $work/log\$" "$work/harbor.yml" || die "default.yml has no log location line to move"
render_args=()
if ((full)); then
    printf '\nmetric:\n  enabled: true\n  port: 9090\n  path: /metrics\n' >>"$work/harbor.yml"
    render_args+=(--with-trivy)
fi
"$deploy" prepare --config "$work/harbor.yml" --out "$out" "${render_args[@]}" >"$work/prepare.log" 2>&1 ||
    { cat "$work/prepare.log" >&2; die "harbor-deploy prepare failed"; }
say "rendered: $(tail -n 1 "$work/prepare.log")"

n=$(grep -c '^      - 80:8080$' "$out/docker-compose.yml" || true)
[[ $n == 1 ]] || die "expected one '- 80:8080' line in the rendered compose file, found $n"
sed -e "s|^      - 80:8080\$|      - \"127.0.0.1:$port:8080\"|" \
    -e "s|^      - 9090:9090\$|      - \"127.0.0.1:$metrics_port:9090\"|" \
    "$out/docker-compose.yml" >"$compose_file"

# Every published port must be bound to loopback; every image must exist locally.
python3 - "$compose_file" >"$work/images.txt" <<'PY' || die "the compose file would publish off loopback (above)"
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
bad = False
for name, svc in doc["services"].items():
    print(svc["image"])
    for p in svc.get("ports", []):
        s = str(p)
        if isinstance(p, dict):
            ok = p.get("host_ip") == "127.0.0.1"
        else:
            ok = s.startswith("127.0.0.1:")
        if not ok:
            print(f"{name}: port {s} is not bound to 127.0.0.1", file=sys.stderr)
            bad = True
sys.exit(1 if bad else 0)
PY
missing=()
while read -r img; do
    docker image inspect "$img" >/dev/null 2>&1 || missing+=("$img")
done <"$work/images.txt"
((${#missing[@]} == 0)) || die "images missing (run scripts/build-test-images.sh): ${missing[*]}"
say "images: $(wc -l <"$work/images.txt") present"

# Harbor's compose file fixes container names and the log port; say so before Compose fails.
mapfile -t names < <(python3 -c 'import sys,yaml; [print(s.get("container_name","")) for s in yaml.safe_load(open(sys.argv[1]))["services"].values()]' "$compose_file")
for c in "${names[@]}"; do
    if [[ -n $c ]] && docker container inspect "$c" >/dev/null 2>&1; then
        die "a container named $c exists already (container names are fixed by the compose file)"
    fi
done
for p in 1514 "$port" "$metrics_port"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
        die "127.0.0.1:$p is taken"
    fi
done

# --- up ---------------------------------------------------------------------------------
# The syslog driver dials 127.0.0.1:1514 from the engine when a container starts, so the
# log container must listen before the others start: up the log service first, wait.
# HPT_SMOKE_LOG_FIRST=0 runs a plain `docker-compose up -d`, as Harbor's install.sh does.
started=1
t_up=$(date +%s%N)
: >"$work/up.log"
if [[ ${HPT_SMOKE_LOG_FIRST:-1} == 1 ]]; then
    dc up -d log >>"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; die "docker-compose up -d log failed"; }
    for ((i = 0; i < 120; i++)); do
        [[ $(docker inspect --format '{{.State.Health.Status}}' harbor-log 2>/dev/null) == healthy ]] && break
        sleep 0.5
    done
    say "log container: $(docker inspect --format '{{.State.Health.Status}}' harbor-log)"
fi
if ! dc up -d >>"$work/up.log" 2>&1; then
    cat "$work/up.log" >&2
    fail "docker-compose up -d"
fi
say "docker-compose up -d returned after $(elapsed "$t_up") s"

deadline=$((SECONDS + timeout_secs))
while :; do
    mapfile -t ids < <(dc ps -q)
    states=()
    bad=0
    waiting=0
    for id in "${ids[@]}"; do
        line=$(docker inspect --format '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.RestartCount}}' "$id")
        read -r cname cstate chealth crestarts <<<"$line"
        states+=("${cname#/}=$cstate/$chealth")
        if [[ $cstate != running || $crestarts != 0 ]]; then
            bad=1
        elif [[ $chealth != healthy && $chealth != none ]]; then
            waiting=1
        fi
        if [[ $chealth == unhealthy ]]; then bad=1; fi
    done
    if ((!bad && !waiting && ${#ids[@]} == ${#names[@]})); then
        pass "all ${#ids[@]} containers healthy after $(elapsed "$t_up") s"
        break
    fi
    if ((bad || SECONDS >= deadline)); then
        fail "containers not healthy: ${states[*]}"
        for id in "${ids[@]}"; do
            read -r cname cstate chealth < <(docker inspect --format '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' "$id")
            if [[ $cstate != running || ($chealth != healthy && $chealth != none) ]]; then
                say "--- ${cname#/} ($cstate/$chealth), last log lines:"
                docker logs --tail 15 "$id" 2>&1 | sed 's/^/    /' >&2 || true
            fi
        done
        break
    fi
    sleep 1
done

# --- checks ------------------------------------------------------------------------------
net="${project}_harbor"
env_of() { docker inspect --format '{{range .Config.Env}}{{println .}}{{end}}' "$1" | sed -n "s/^$2=//p" | head -n 1; }
# Runs a command in a throwaway container of IMAGE on the project network.
probe() {
    local image=$1
    shift
    docker run --rm --network "$net" --label org.harbor-prep.test.probe=1 --entrypoint "$1" "$image" "${@:2}"
}
curl_img=$(grep -m1 'registry-photon' "$work/images.txt")
db_img=$(grep -m1 'harbor-db' "$work/images.txt")
redis_img=$(grep -m1 -E 'valkey-photon|redis-photon' "$work/images.txt")

reg_user=$(env_of harbor-core REGISTRY_CREDENTIAL_USERNAME)
reg_pass=$(env_of harbor-core REGISTRY_CREDENTIAL_PASSWORD)
db_pass=$(env_of harbor-db POSTGRES_PASSWORD)

r=$(probe "$curl_img" curl -s -o /dev/null -D - -w 'code=%{http_code}\n' http://registry:5000/v2/ 2>&1 || true)
if grep -q '^code=401' <<<"$r" && grep -qi '^www-authenticate: basic realm="harbor-registry-basic-realm"' <<<"$r"; then
    pass "registry /v2/ without credentials: 401, Basic realm harbor-registry-basic-realm"
else
    fail "registry /v2/ without credentials: $(tr '\r\n' '  ' <<<"$r")"
fi
r=$(probe "$curl_img" curl -s -o /dev/null -w '%{http_code}' -u "$reg_user:$reg_pass" http://registry:5000/v2/ 2>&1 || true)
if [[ $r == 200 ]]; then pass "registry /v2/ as $reg_user with the rendered password: 200"; else fail "registry /v2/ with the rendered password: $r"; fi
r=$(probe "$curl_img" curl -s -o /dev/null -w '%{http_code}' -u "$reg_user:wrong-$reg_pass" http://registry:5000/v2/ 2>&1 || true)
if [[ $r == 401 ]]; then pass "registry /v2/ with a wrong password: 401"; else fail "registry /v2/ with a wrong password: $r"; fi

r=$(probe "$redis_img" redis-cli -h redis -p 6379 PING 2>&1 || true)
if [[ $r == PONG ]]; then pass "redis PING: PONG"; else fail "redis PING: $r"; fi

r=$(probe "$db_img" env PGPASSWORD="$db_pass" psql -h postgresql -U postgres -d registry -tAc \
    "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'" 2>&1 || true)
if [[ $r == 1 ]]; then pass "postgres login with the rendered password; database registry has schema_migrations"; else fail "postgres login with the rendered password: $r"; fi
r=$(probe "$db_img" env PGPASSWORD="wrong-$db_pass" psql -h postgresql -U postgres -d registry -tAc 'SELECT 1' 2>&1 || true)
if grep -q 'password authentication failed' <<<"$r"; then pass "postgres refuses a wrong password"; else fail "postgres with a wrong password: $r"; fi

r=$(curl -s -o "$work/portal.html" -w '%{http_code}' "http://127.0.0.1:$port/" || true)
if [[ $r == 200 ]] && grep -q 'harbor-prep test portal' "$work/portal.html"; then
    pass "proxy on 127.0.0.1:$port: / is the portal page"
else
    fail "proxy on 127.0.0.1:$port /: $r"
fi
r=$(curl -s -D "$work/ping.headers" "http://127.0.0.1:$port/api/v2.0/ping" || true)
if [[ $r == Pong ]] && grep -qi '^x-harbor-prep-standin: core' "$work/ping.headers"; then
    pass "proxy on 127.0.0.1:$port: /api/v2.0/ping reaches core (stand-in): Pong"
else
    fail "proxy /api/v2.0/ping: $r"
fi
r=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v1/" || true)
if [[ $r == 404 ]]; then pass "proxy answers /v1/ with 404 as the rendered nginx.conf says"; else fail "proxy /v1/: $r"; fi

declare -A health=(
    [core]=/api/v2.0/ping [jobservice]=/api/v1/stats [registryctl]=/api/health
    [portal]=/ [exporter]=/metrics [trivy-adapter]=/probe/healthy
)
for svc in core jobservice registryctl portal exporter trivy-adapter; do
    grep -q "^  $svc:\$" "$compose_file" || continue
    r=$(probe "$curl_img" curl -s -o /dev/null -w '%{http_code}' "http://$svc:8080${health[$svc]}" 2>&1 || true)
    if [[ $r == 200 ]]; then pass "$svc:8080${health[$svc]}: 200"; else fail "$svc:8080${health[$svc]}: $r"; fi
done

# Syslog lines land in the host log directory, one file per tag.
sleep 2
mapfile -t tags < <(python3 -c 'import sys,yaml
for s in yaml.safe_load(open(sys.argv[1]))["services"].values():
    t = (s.get("logging") or {}).get("options", {}).get("tag")
    if t: print(t)' "$compose_file")
nolog=()
for t in "${tags[@]}"; do
    [[ -s $work/log/$t.log ]] || nolog+=("$t")
done
if ((${#nolog[@]} == 0)); then
    pass "host log directory has a non-empty file for each of ${#tags[@]} tags: ${tags[*]}"
else
    fail "no syslog lines in $work/log for: ${nolog[*]} (have: $(find "$work/log" -mindepth 1 -printf '%f ' 2>/dev/null))"
fi
if grep -q 'GET /api/v2.0/ping' "$work/log/proxy.log" 2>/dev/null; then
    pass "proxy.log holds the access line of the request just made"
else
    fail "proxy.log lacks the /api/v2.0/ping access line"
fi
owner=$(stat -c '%u:%g' "$work/log/registry.log" 2>/dev/null || true)
if [[ $owner == 10000:10000 ]]; then pass "log files belong to 10000:10000 as Harbor's log container writes them"; else fail "registry.log owner: $owner"; fi

# --- summary -----------------------------------------------------------------------------
say "done in $(elapsed "$t_start") s"
if ((failed)); then
    printf 'failed: %s\n' "${failures[@]}" >&2
fi
printf 'smoke: %d passed, %d failed\n' "$passed" "$failed"
((failed == 0))
