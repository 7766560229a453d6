#!/usr/bin/env bash
# Installs dcloud on a fresh Debian 12 host, as root, from a checkout:  bash deploy/install.sh
#   - the system packages a host of its role needs (scripts/setup-host.sh --runtime ROLE)
#   - the `dcloud` system user (the API and WHOIS run as it; the agent as root with one capability)
#   - a non-editable build of this checkout in its own virtualenv, /opt/dcloud (bin/dcloud)
#   - /etc/dcloud/dcloud.env, policy.json and agent.token in the format the units read (kept if present)
#   - the systemd units in /etc/systemd/system (enabled and started only with --start)
# Options: --role control-plane|hypervisor|all (default all: which system packages), --no-packages,
# --no-user (do not create the user; --user creates it even under DESTDIR), --no-systemctl (do not call
# systemctl), --start.
# DESTDIR=/some/root installs under that root instead of / (what the tests do); implies --no-user and
# --no-packages.
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
ROOT="${DESTDIR:-}"
OPT="$ROOT/opt/dcloud" ETC="$ROOT/etc/dcloud" UNITS="$ROOT/etc/systemd/system"
make_user=1 systemctl=1 start=0 packages=1 role=all
[ -n "$ROOT" ] && make_user=0 packages=0
while (($#)); do
  arg=$1
  shift
  case "$arg" in
    --role)
      role=${1:-}
      shift || true
      ;;
    --role=*) role=${arg#--role=} ;;
    --no-packages) packages=0 ;;
    --no-user) make_user=0 ;;
    --user) make_user=1 ;;
    --no-systemctl) systemctl=0 ;;
    --start) start=1 ;;
    *) echo "install.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done
log() { printf '== %s\n' "$*"; }
case "$role" in
  control-plane | hypervisor | all) ;;
  *) echo "install.sh: --role must be control-plane, hypervisor or all, not '$role'" >&2; exit 2 ;;
esac

if ((packages)); then
  log "system packages for a $role host"
  bash "$SRC/scripts/setup-host.sh" --runtime "$role"
fi

if ((make_user)) && ! getent passwd dcloud >/dev/null; then
  log "creating system user dcloud"
  adduser --system --group --home /var/lib/dcloud --no-create-home dcloud >/dev/null
fi

log "building dcloud into $OPT (non-editable)"
# Debian's own Python: a pyenv or other Python under /root would not be readable by the dcloud user.
PYTHON=${PYTHON:-/usr/bin/python3}
[ -x "$OPT/bin/python" ] || "$PYTHON" -m venv "$OPT"
"$OPT/bin/python" -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
# A copy of the source, so the build never writes into the checkout (and nothing points back at it).
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
tar -C "$SRC" --exclude=.venv --exclude=.git --exclude=var --exclude='*.egg-info' -cf - . | tar -C "$build" -xf -
"$OPT/bin/python" -m pip install -q --no-cache-dir "$build" 2>&1 | grep -v '^WARNING: Location' || true
"$OPT/bin/dcloud" --help >/dev/null
cp "$SRC/README.md" "$OPT/README.md"

log "configuration in $ETC (existing files are kept)"
install -d -m 0750 "$ETC"
put() {  # put SOURCE DEST MODE: copy unless DEST exists
  [ -e "$2" ] || install -m "$3" "$1" "$2"
}
put "$SRC/deploy/dcloud.env.example" "$ETC/dcloud.env" 0640
put "$SRC/deploy/policy.example.json" "$ETC/policy.json" 0640
if [ ! -e "$ETC/agent.token" ]; then
  # An EnvironmentFile: `dcloud token create --role agent --host <this host>` on a control-plane machine.
  umask 077
  printf '# DCLOUD_TOKEN=<agent token of this host>\n' >"$ETC/agent.token"
  chmod 0600 "$ETC/agent.token"
fi
if ((make_user)); then
  chgrp dcloud "$ETC" "$ETC/dcloud.env" "$ETC/policy.json"
fi

log "systemd units in $UNITS"
install -d "$UNITS"
for unit in "$SRC"/deploy/systemd/*.service; do
  install -m 0644 "$unit" "$UNITS/"
done
if ((systemctl)) && [ -z "$ROOT" ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  if ((start)); then
    systemctl enable --now dcloud-api.service dcloud-whois.service
    log "on a hypervisor: put its token in $ETC/agent.token, then systemctl enable --now dcloud-agent"
  fi
fi
log "installed; edit $ETC/dcloud.env (DCLOUD_DATABASE_URL, DCLOUD_API_URL, DCLOUD_HOST_NAME)"
