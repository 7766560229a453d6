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
if (($#)); then
  echo "== pytest $*"
  exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
fi
echo "== pytest"
.venv/bin/python -m pytest -q -p no:cacheprovider -m "not guest"
# Bounded: the image is built once per recipe and cached; each test boots one real guest under TCG.
echo "== guest tests (real test guest under TCG; image cached in /var/cache/dcloud/test-images)"
bash scripts/build-test-image.sh >/dev/null
timeout 3600 .venv/bin/python -m pytest -q -p no:cacheprovider -m guest --timeout=1500
