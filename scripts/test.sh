#!/usr/bin/env bash
# Sets up this host and runs every test: lint, then the whole pytest suite against real libvirtd and PostgreSQL.
# Exits non-zero when anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-host.sh
bash scripts/ensure-postgres.sh
export DCLOUD_TEST_PG_URL=${DCLOUD_TEST_PG_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test}
echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
echo "== mypy"
.venv/bin/mypy
echo "== lint-imports (layer contract in pyproject.toml)"
.venv/bin/lint-imports --no-logo
echo "== pytest"
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
