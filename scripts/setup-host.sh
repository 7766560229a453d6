#!/usr/bin/env bash
# Prepares this Debian 12 host (as root) to run dcloud: system packages, libvirtd + virtlogd running,
# /dev/kvm usable by QEMU, and the project installed in ./.venv. Safe to run again.
# (prometheus brings promtool, which the tests use to check what /metrics exposes; mmdebstrap, grub-pc-bin,
# fdisk and e2fsprogs build the e2e tests' guest image without mounting anything; prometheus-libvirt-exporter
# is bench/scrape.py's baseline, which runs its own instance: the packaged service is kept off.)
#
#   scripts/setup-host.sh --runtime ROLE [--check]
# installs only what a production host of ROLE needs to run dcloud (deploy/install.sh calls it), where ROLE
# is control-plane, hypervisor or all; --check installs nothing, lists what is missing and exits 1 if any.
# This script is the one place that installs system packages.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '== %s\n' "$*"; }

# What a production host runs dcloud with. Every host builds the package, and libvirt-python has no
# wheel (gcc, python3-dev, pkg-config, libvirt-dev); the API runs `prlimit ... qemu-img` on imported
# images (qemu-utils, util-linux). A hypervisor adds libvirtd, QEMU, and what libvirt's isolated and NAT
# networks and nwfilter rules use (dnsmasq-base, ebtables); libvirt runs qemu-img for qcow2 overlays.
RUNTIME_CONTROL_PLANE=(python3 python3-venv python3-dev gcc pkg-config libvirt-dev qemu-utils util-linux)
RUNTIME_HYPERVISOR=(
  "${RUNTIME_CONTROL_PLANE[@]}" libvirt-daemon-system libvirt-clients qemu-system-x86 dnsmasq-base ebtables
)
APT_PACKAGES=(
  "${RUNTIME_HYPERVISOR[@]}"
  whois prometheus
  mmdebstrap grub-pc-bin fdisk e2fsprogs bc openssl
  # The README's examples (tests/operations/test_readme_examples.py runs them) use curl and jq.
  curl jq
  prometheus-libvirt-exporter
)

missing_of() {  # prints the packages of "$@" that are not installed
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || printf '%s\n' "$p"
  done
}

install_packages() {  # installs the packages of "$@" that are missing
  local missing
  mapfile -t missing < <(missing_of "$@")
  ((${#missing[@]})) || return 0
  log "installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # The exporter's postinst would start its service (systemd, or an init script where systemd is absent,
  # which can fail the install): a policy-rc.d refuses that one service for this install only, and asks
  # the host's own policy-rc.d, if any, about every other.
  policy=/usr/sbin/policy-rc.d
  saved=""
  if [ -e "$policy" ]; then saved="$policy.dcloud-saved"; mv "$policy" "$saved"; fi
  restore_policy() { rm -f "$policy"; if [ -n "$saved" ]; then mv "$saved" "$policy"; fi; }
  trap restore_policy EXIT
  printf '#!/bin/sh\ncase "$1" in prometheus-libvirt-exporter*) exit 101 ;; esac\n%s\n' \
    "${saved:+exec $saved \"\$@\"}" >"$policy"
  chmod 755 "$policy"
  apt-get install -y -qq "${missing[@]}" >/dev/null
  restore_policy
  trap - EXIT
}

if [ "${1:-}" = "--runtime" ]; then
  case "${2:-}" in
    control-plane) wanted=("${RUNTIME_CONTROL_PLANE[@]}") ;;
    hypervisor | all) wanted=("${RUNTIME_HYPERVISOR[@]}") ;;
    *) echo "setup-host.sh: --runtime needs control-plane, hypervisor or all" >&2; exit 2 ;;
  esac
  if [ "${3:-}" = "--check" ]; then
    mapfile -t missing < <(missing_of "${wanted[@]}")
    if ((${#missing[@]})); then
      echo "missing system packages for $2: ${missing[*]} (run: scripts/setup-host.sh --runtime $2)" >&2
      exit 1
    fi
    log "every system package for $2 is installed"
    exit 0
  fi
  install_packages "${wanted[@]}"
  exit 0
fi

install_packages "${APT_PACKAGES[@]}"

# Debian enables the exporter's service on install: on the next boot it would hold :9177 and scrape this
# libvirtd forever (and a copy installed before this script may be running). The bench starts its own.
if [ -d /run/systemd/system ]; then
  systemctl disable --now prometheus-libvirt-exporter.service >/dev/null 2>&1 || true
else
  /etc/init.d/prometheus-libvirt-exporter stop >/dev/null 2>&1 || true
  update-rc.d prometheus-libvirt-exporter disable >/dev/null 2>&1 || true
fi

# The test guest image (scripts/build-test-image.sh) is cached here, one directory per recipe.
mkdir -p /var/cache/dcloud/test-images

# QEMU runs as libvirt-qemu, which is in group kvm; without this it falls back to TCG or fails.
if [ -e /dev/kvm ]; then
  chgrp kvm /dev/kvm && chmod 660 /dev/kvm || true
fi

# No systemd in containers: start the daemons directly when they are not already up.
pgrep -x virtlogd >/dev/null || { log "starting virtlogd"; virtlogd -d; }
pgrep -x libvirtd >/dev/null || { log "starting libvirtd"; libvirtd -d; }
for _ in $(seq 1 50); do
  virsh -c qemu:///system version >/dev/null 2>&1 && break
  sleep 0.2
done
virsh -c qemu:///system version >/dev/null || { echo "libvirtd did not come up" >&2; exit 1; }

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  "$PYTHON" -m venv .venv
fi
log "installing dcloud into .venv"
.venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
.venv/bin/python -m pip install -q -e ".[dev]" 2>&1 | grep -v '^WARNING: Location' || true
.venv/bin/python -c "import libvirt, controlplane" || { echo "dcloud did not install" >&2; exit 1; }
log "host ready"
