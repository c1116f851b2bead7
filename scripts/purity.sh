#!/usr/bin/env bash
# harbor-prep may do no I/O: its normal dependency tree must not hold an async runtime, the
# Docker client, or getrandom (which reads the OS's randomness).
set -euo pipefail
cd "$(dirname "$0")/.."

tree=$(cargo tree -p harbor-prep -e normal --target all --prefix none --locked)
bad=$(grep -E '^(tokio|bollard|getrandom|mio|hyper|reqwest) ' <<<"$tree" || true)
if [[ -n $bad ]]; then
    echo "harbor-prep must stay free of I/O, but its dependencies include:" >&2
    echo "$bad" >&2
    exit 1
fi
echo "harbor-prep's $(wc -l <<<"$tree") normal dependencies hold no runtime, docker client or OS randomness"
