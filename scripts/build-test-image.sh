#!/usr/bin/env bash
# Builds the e2e tests' guest: a minimal Debian 12 with the real cloud-init, openssh-server and
# qemu-guest-agent, as a BIOS-bootable qcow2, from Debian packages and without mounting anything
# (no loop devices here): mmdebstrap into a directory, `mkfs.ext4 -d` into a file, sfdisk for the
# partition table, and a GRUB core image written to the gap after the MBR with dd.
#
# The result is cached under $DCLOUD_TEST_IMAGE_CACHE (default /var/cache/dcloud/test-images, owned
# by scripts/setup-host.sh) in a directory named after the sha256 of this script, so changing the
# recipe (this file) builds a new image and an unchanged one is never rebuilt. Prints the image path.
#
# Why each choice (TCG boots are slow: every unit and every probe costs seconds):
# - GRUB's core image carries its own config (boot /vmlinuz at once), so no menu, no timeout and no
#   modules read from disk; the kernel and initrd symlinks Debian keeps in / follow kernel upgrades.
# - initramfs-tools with MODULES=list: only virtio and ext4, so the initrd is small to load and unpack.
# - cloud-init looks only for NoCloud and renders networkd (no ifupdown, no netplan, no DHCP client
#   probes); systemd-networkd-wait-online gives up after 15 s instead of 2 min on a server with no NIC.
# - docs, man pages and locales are never unpacked; apt timers and e2scrub are off.
set -euo pipefail

CACHE=${DCLOUD_TEST_IMAGE_CACHE:-/var/cache/dcloud/test-images}
SUITE=bookworm
MIRROR=${DCLOUD_TEST_IMAGE_MIRROR:-http://deb.debian.org/debian}
SIZE_MIB=1024
ROOT_UUID=6f1c2a0e-7d1b-4c55-9a0e-dc10dc10dc10
PACKAGES=(
  systemd-sysv udev linux-image-cloud-amd64 initramfs-tools
  cloud-init cloud-guest-utils fdisk e2fsprogs openssh-server qemu-guest-agent sudo iproute2 netbase
  # qemu-guest-agent reboots and shuts down with `shutdown -r +0`, which goes through logind over D-Bus.
  dbus
)

self=$(readlink -f "$0")
key=$(sha256sum "$self" | cut -c1-16)
out="$CACHE/$key"
if [ -s "$out/disk.qcow2" ]; then
  echo "$out/disk.qcow2"
  exit 0
fi
for tool in mmdebstrap mkfs.ext4 sfdisk grub-mkimage qemu-img; do
  command -v "$tool" >/dev/null || { echo "missing $tool: run scripts/setup-host.sh" >&2; exit 1; }
done

mkdir -p "$CACHE"
work=$(mktemp -d "$CACHE/.build-XXXXXX")
trap 'rm -rf "$work"' EXIT
started=$(date +%s.%N)

# Written before any package is unpacked, so the kernel's postinst builds the small initrd once.
cat >"$work/initramfs.conf" <<'EOF'
MODULES=list
COMPRESS=zstd
EOF
cat >"$work/modules" <<'EOF'
virtio_pci
virtio_blk
virtio_scsi
virtio_net
ext4
EOF

cat >"$work/customize.sh" <<EOF
#!/bin/sh
set -eu
root=\$1
cat >"\$root/etc/fstab" <<'FSTAB'
UUID=$ROOT_UUID / ext4 errors=remount-ro 0 1
FSTAB
# Each server is a new machine: empty machine-id and no host keys (cloud-init makes them at first boot).
: >"\$root/etc/machine-id"
rm -f "\$root"/etc/ssh/ssh_host_*
printf '' >"\$root/etc/hostname"
cat >"\$root/etc/cloud/cloud.cfg.d/90-dcloud-test-image.cfg" <<'CFG'
datasource_list: [ NoCloud, None ]
# RSA and DSA keys take tens of seconds to generate under TCG.
ssh_genkeytypes: [ ed25519, ecdsa ]
# Only what a dcloud seed uses: no apt, locale, ntp or package modules (each costs seconds here).
cloud_init_modules: [ bootcmd, write_files, growpart, resizefs, set_hostname, update_hostname,
                      update_etc_hosts, users_groups, ssh ]
cloud_config_modules: [ set_passwords, runcmd ]
cloud_final_modules: [ scripts_per_once, scripts_per_boot, scripts_per_instance, scripts_user,
                       ssh_authkey_fingerprints, keys_to_console, final_message, power_state_change ]
system_info:
  network:
    renderers: [ networkd ]
    activators: [ networkd ]
CFG
mkdir -p "\$root/etc/systemd/system/systemd-networkd-wait-online.service.d"
cat >"\$root/etc/systemd/system/systemd-networkd-wait-online.service.d/dcloud.conf" <<'UNIT'
[Service]
ExecStart=
ExecStart=/lib/systemd/systemd-networkd-wait-online --any --timeout=15
UNIT
chroot "\$root" systemctl enable systemd-networkd.service
# No VGA consoles to serve, and nothing to keep a journal for across boots of a test guest.
chroot "\$root" systemctl mask getty-static.service getty@tty1.service
mkdir -p "\$root/etc/systemd/journald.conf.d"
printf '[Journal]\nStorage=volatile\n' >"\$root/etc/systemd/journald.conf.d/dcloud.conf"
# A TCG guest has no use for nested KVM or CPU frequency drivers; udev would load them at boot.
printf 'blacklist kvm_amd\nblacklist kvm_intel\nblacklist kvm\nblacklist powernow_k8\n' \
  >"\$root/etc/modprobe.d/dcloud-test-image.conf"
for unit in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer; do
  chroot "\$root" systemctl disable "\$unit" 2>/dev/null || true
done
rm -rf "\$root"/var/lib/apt/lists/* "\$root"/var/cache/apt/*.bin "\$root"/var/cache/apt/archives/*.deb
rm -f "\$root"/var/log/*.log "\$root"/var/log/apt/* 
EOF
chmod +x "$work/customize.sh"

echo "== mmdebstrap $SUITE (${PACKAGES[*]})" >&2
mmdebstrap --variant=apt --quiet \
  --include="$(IFS=,; echo "${PACKAGES[*]}")" \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
  --dpkgopt='path-exclude=/usr/share/lintian/*' \
  --setup-hook='mkdir -p "$1/etc/initramfs-tools/conf.d"' \
  --setup-hook="cp '$work/initramfs.conf' \"\$1/etc/initramfs-tools/conf.d/dcloud\"" \
  --setup-hook="cp '$work/modules' \"\$1/etc/initramfs-tools/modules\"" \
  --customize-hook="'$work/customize.sh' \"\$1\"" \
  "$SUITE" "$work/root" "$MIRROR" >&2

kernel=$(readlink "$work/root/vmlinuz")
echo "== filesystem (kernel $kernel)" >&2
cat >"$work/early.cfg" <<EOF
set root=(hd0,msdos1)
linux /vmlinuz root=UUID=$ROOT_UUID ro console=ttyS0,115200n8
initrd /initrd.img
boot
EOF
part_mib=$((SIZE_MIB - 1))
truncate -s "${part_mib}M" "$work/root.ext4"
mkfs.ext4 -q -F -L dcloud-root -U "$ROOT_UUID" -d "$work/root" "$work/root.ext4"

echo "== disk" >&2
truncate -s "${SIZE_MIB}M" "$work/disk.raw"
echo 'label: dos
start=2048, type=83, bootable' | sfdisk -q "$work/disk.raw"
dd if="$work/root.ext4" of="$work/disk.raw" bs=1M seek=1 conv=notrunc,sparse status=none
# boot.img's default says core.img starts at sector 1, and diskboot's default block list is the
# contiguous sectors after it: exactly where dd puts it, so no grub-install (which needs a device).
grub-mkimage -O i386-pc -o "$work/core.img" -p '(hd0,msdos1)/boot/grub' -c "$work/early.cfg" \
  biosdisk part_msdos ext2 linux boot echo
dd if=/usr/lib/grub/i386-pc/boot.img of="$work/disk.raw" bs=440 count=1 conv=notrunc status=none
dd if="$work/core.img" of="$work/disk.raw" bs=512 seek=1 conv=notrunc status=none

qemu-img convert -q -f raw -O qcow2 "$work/disk.raw" "$work/disk.qcow2"
cp -L "$work/root/vmlinuz" "$work/vmlinuz"
cp -L "$work/root/initrd.img" "$work/initrd.img"
finished=$(date +%s.%N)
cat >"$work/manifest.json" <<EOF
{"recipe": "$key", "suite": "$SUITE", "kernel": "$kernel", "root_uuid": "$ROOT_UUID",
 "cmdline": "root=UUID=$ROOT_UUID ro console=ttyS0,115200n8",
 "virtual_size_mib": $SIZE_MIB, "disk_bytes": $(stat -c %s "$work/disk.qcow2"),
 "build_seconds": $(echo "$finished - $started" | bc), "built_at": "$(date -u +%FT%TZ)"}
EOF
rm -rf "$work/root" "$work/root.ext4" "$work/disk.raw"
mkdir -p "$out.tmp" && mv "$work"/disk.qcow2 "$work"/vmlinuz "$work"/initrd.img "$work"/manifest.json "$out.tmp/"
rm -rf "$out" && mv "$out.tmp" "$out"
echo "$out/disk.qcow2"
