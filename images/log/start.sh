#!/bin/bash
# Starts the log container: hands the log directory to uid 10000, runs logrotate every
# LOGROTATE_INTERVAL seconds in the background and rsyslogd in the foreground, both as 10000.
set -euo pipefail

interval=${LOGROTATE_INTERVAL:-3600}
as_syslog=(setpriv --reuid=10000 --regid=10000 --clear-groups)

if [[ $(id -u) -eq 0 ]]; then
    chown -R 10000:10000 /var/log/docker
else
    as_syslog=()
fi
for f in /etc/rsyslog.d/*.conf; do
    if ! "${as_syslog[@]}" test -r "$f"; then
        echo "harbor-log: $f is not readable by uid 10000" >&2
        exit 3
    fi
done
if ! compgen -G '/etc/rsyslog.d/*.conf' >/dev/null; then
    echo "harbor-log: no rules in /etc/rsyslog.d (rsyslog_docker.conf not mounted?)" >&2
    exit 3
fi

# shellcheck disable=SC2016 # expanded by the inner shell
"${as_syslog[@]}" bash -c '
    while sleep "$1"; do
        logrotate -s /var/lib/logrotate/logrotate.status /etc/logrotate.conf || true
    done' logrotate "$interval" &

exec "${as_syslog[@]}" rsyslogd -n -iNONE
