"""Issue 9 end to end with a real guest, through the public API only: the test image imported over
`/v1/images` from a loopback HTTP server, a server created from it with a hostname, an SSH key and a
password hash in a pool with a static address on an isolated network (a documentation range), booted as
a TCG domain by the real agent, and looked into through dcloud's serial console WebSocket: in its first
boot, cloud-init ran on dcloud's seed and set the hostname, the key and the address; a soft reboot then
boots the guest again (a new boot id) in the same QEMU process. No packet is sent to the guest's
address. Then the server is deleted and its record shows every own volume wiped and the shared base
untouched.
"""

from __future__ import annotations

from pathlib import Path

import libvirt
import pytest

from tests.e2e.guest_server import (
    addressed_pool,
    create_guest_server,
    file_sha256,
    import_image,
    open_console,
)
from tests.e2e.stack import LiveStack, wait_for
from tests.utils.console_client import login_and_run
from tests.utils.guest import FINISHED_MARK, guest_image, password_hash, ssh_public_key
from tests.utils.libvirt_net import isolated_network

pytestmark = [pytest.mark.libvirt, pytest.mark.guest, pytest.mark.timeout(1800)]

BOOT_TIMEOUT_S = 900.0
PASSWORD = "dctest-console-pw"
HOSTNAME = "dctest-first-boot"
# What the guest is asked, in one shell line on its console (after cloud-init has finished). Kernel
# messages share the console, so they are silenced first and every answer is labelled.
INSIDE = (
    "dmesg -n 1; cloud-init status --wait >/dev/null; echo instance=$(cat /run/cloud-init/.instance-id); "
    "echo hostname=$(hostname); ip -4 -o addr show scope global; ip route show default; "
    "cat /home/debian/.ssh/authorized_keys; echo boot=$(cat /proc/sys/kernel/random/boot_id)"
)
BOOT_ID = "echo boot=$(cat /proc/sys/kernel/random/boot_id)"


def test_a_server_from_an_image_boots_with_its_hostname_key_and_static_address(stack: LiveStack) -> None:
    image = guest_image()
    sha = file_sha256(image)
    imported = import_image(stack, image, sha256=sha)
    key = ssh_public_key()
    with isolated_network(stack.conn, "dctest-fb") as net:
        pool = addressed_pool(stack, net)
        server = create_guest_server(
            stack,
            image_id=imported["id"],
            pool=pool,
            hostname=HOSTNAME,
            ssh_authorized_keys=[key],
            password_hash=password_hash(PASSWORD),
        )
        sid = server["id"]
        (address,) = server["addresses"]
        wait_for(lambda: stack.domain_state(sid) == libvirt.VIR_DOMAIN_RUNNING, timeout=300, what="running")
        console = open_console(stack, sid)
        try:
            console.wait_for(FINISHED_MARK, BOOT_TIMEOUT_S)
            inside = login_and_run(console, user="root", password=PASSWORD, command=INSIDE)
            # A soft reboot (issue 9, item 6) goes through the guest: a new boot in the same QEMU process.
            mark = len(console.raw())
            assert stack.api("POST", f"/v1/servers/{sid}/reboot", json={"hard": False}).status_code == 200
            again = console.wait_for(FINISHED_MARK, BOOT_TIMEOUT_S, after=mark)
            rebooted = login_and_run(console, user="root", password=PASSWORD, command=BOOT_ID, after=again)
        finally:
            console.close()
        gateway = str(next(net.subnet.hosts()))

        assert _answer(inside, "instance") == sid  # dcloud's seed, not a stale or fallback datasource
        assert _answer(inside, "hostname") == HOSTNAME
        assert key in inside
        (inet,) = [line for line in inside.splitlines() if f" inet {address['address']}/" in line]
        assert f"inet {address['address']}/{net.subnet.prefixlen} " in inet
        assert "dynamic" not in inet  # configured from network-config, not leased by DHCP
        assert f"default via {gateway}" in inside
        assert _qemu_starts(sid) == 1  # all of the above in one QEMU process: its first boot, then ...
        first_boot = _answer(inside, "boot")
        assert first_boot is not None and _answer(rebooted, "boot") not in (None, first_boot)  # ... a reboot

        assert stack.api("DELETE", f"/v1/servers/{sid}").status_code == 202
        record = wait_for(
            lambda: (
                (r := stack.api("GET", f"/v1/servers/{sid}/deletion-record")).status_code == 200 and r.json()
            ),
            timeout=300,
            what="the deletion record",
        )
    volumes = {v["name"]: v for v in record["volumes"]}
    assert set(volumes) == {f"dcloud-{sid}-disk0", f"dcloud-{sid}-seed"}
    assert "zero" in record["method"], record["method"]
    for volume in volumes.values():  # each held what the guest and its seed wrote, and was overwritten
        assert volume["bytes_overwritten"] > 0, volume
    assert [(b["image_id"], b["customer_data"]) for b in record["shared_bases"]] == [(imported["id"], False)]
    (base,) = record["shared_bases"]
    # The guest wrote only to its overlay: the cached base is still the imported file, byte for byte.
    assert file_sha256(Path(base["path"])) == sha
    assert not any(name.startswith(f"dcloud-{sid}") for name in stack.volumes())


def _answer(inside: str, label: str) -> str | None:
    found = [
        line.strip().removeprefix(f"{label}=") for line in inside.splitlines() if line.startswith(f"{label}=")
    ]
    return found[0] if len(found) == 1 else None


def _qemu_starts(server_id: str) -> int:
    """How many times libvirt started this domain's QEMU: its log has one 'starting up' line per start."""
    log = Path(f"/var/log/libvirt/qemu/dcloud-{server_id}.log").read_text(errors="replace")
    return log.count("starting up")
