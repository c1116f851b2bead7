#!/usr/bin/env bash
# Installs the programs the tests talk to: the real docker-compose v1, nginx, rsyslog and
# htpasswd read what harbor-prep writes, openssl checks its keys, PyYAML re-reads its YAML;
# python3 with its headers and library for the Python binding (pyo3 links libpython into the
# binding's test harness), node and npm for the Node binding.
set -euo pipefail

need=()
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v nginx >/dev/null || need+=(nginx-light)
command -v rsyslogd >/dev/null || need+=(rsyslog)
command -v htpasswd >/dev/null || need+=(apache2-utils)
command -v openssl >/dev/null || need+=(openssl)
command -v python3 >/dev/null || need+=(python3)
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
python3 -c 'import os, sys, sysconfig
lib = os.path.join(sysconfig.get_config_var("LIBDIR") or "", sysconfig.get_config_var("LDLIBRARY") or "")
sys.exit(not os.path.exists(lib))' 2>/dev/null || need+=(python3-dev)
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)

if ((${#need[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "missing: ${need[*]}; install them (apt-get install ${need[*]}) or run as root" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

if ! python3 -c 'import yaml' 2>/dev/null; then
    python3 -m pip install --quiet pyyaml
fi
