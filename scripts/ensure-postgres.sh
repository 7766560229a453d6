#!/usr/bin/env bash
# Makes sure PostgreSQL answers at 127.0.0.1:5432 (user postgres, database test, trust auth) for the
# concurrency tests: starts the cluster if it stopped, installs and configures it on a bare machine.
set -euo pipefail

ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

if ! command -v pg_ctlcluster >/dev/null 2>&1; then
  echo "== installing postgresql"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq postgresql >/dev/null
fi
if ! ready; then
  ver=$(ls /etc/postgresql | sort -V | tail -n1)
  echo "== starting postgresql $ver"
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  for _ in $(seq 1 50); do ready && break; sleep 0.2; done
fi
ready || { echo "PostgreSQL is not reachable at 127.0.0.1:5432" >&2; exit 1; }

if ! psql -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; then
  # A bare install asks for passwords on TCP; the tests expect trust on loopback only.
  ver=$(ls /etc/postgresql | sort -V | tail -n1)
  hba=/etc/postgresql/$ver/main/pg_hba.conf
  sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  pg_ctlcluster --skip-systemctl-redirect "$ver" main reload
  sleep 1
fi
psql -h 127.0.0.1 -U postgres -d postgres -Atc "select 1 from pg_database where datname='test'" | grep -q 1 \
  || psql -h 127.0.0.1 -U postgres -d postgres -c 'create database test' >/dev/null
echo "== postgresql ready"
