#!/usr/bin/env bash
# Sets up this host and runs the whole of dcloud on it: API, scheduler, local agent and WHOIS server,
# with the embedded default store (SQLite under ./var) and the local libvirt.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-host.sh
exec .venv/bin/dcloud up "$@"
