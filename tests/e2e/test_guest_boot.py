"""The test guest boots under TCG and runs the real cloud-init from a NoCloud seed (made directly here,
without dcloud): proved from inside the guest through its serial console.

Behind the `guest` marker: the image is built once per recipe (scripts/build-test-image.sh, cached under
/var/cache/dcloud/test-images) and each boot takes minutes on a loaded machine.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import libvirt
import pytest

from agents.events import start_event_loop
from tests.utils.console_client import login_and_run
from tests.utils.guest import (
    FINISHED_MARK,
    SeedConfig,
    booted_guest,
    guest_domain_xml,
    guest_image,
    make_overlay,
    password_hash,
    ssh_public_key,
    write_seed,
)
from tests.utils.libvirt_net import isolated_network

pytestmark = [pytest.mark.libvirt, pytest.mark.guest, pytest.mark.timeout(1500)]

POOL_ROOT = Path("/var/lib/dcloud-test")
PASSWORD = "dctest-console-pw"


@pytest.fixture
def workdir() -> Iterator[Path]:
    path = POOL_ROOT / f"dctest-guest-{time.monotonic_ns():x}"
    path.mkdir(parents=True, mode=0o755)
    try:
        yield path
    finally:
        for child in path.iterdir():
            child.unlink()
        path.rmdir()


def test_the_test_guest_takes_hostname_key_and_static_address_from_its_seed(workdir: Path) -> None:
    start_event_loop()
    image = guest_image()
    conn = libvirt.open("qemu:///system")
    try:
        with isolated_network(conn, "dctest-guest") as net:
            attachment = net.attachment(10)
            key = ssh_public_key()
            gateway = str(next(net.subnet.hosts()))
            seed = SeedConfig(
                instance_id=f"dctest-{workdir.name}",
                hostname="dctest-guest",
                ssh_keys=(key,),
                password_hash=password_hash(PASSWORD),
                mac=attachment.mac,
                address=f"{attachment.ip}/{net.subnet.prefixlen}",
                gateway=gateway,
            )
            xml = guest_domain_xml(
                f"dctest-guest-{workdir.name[-8:]}",
                disk=make_overlay(image, workdir / "disk.qcow2"),
                seed=write_seed(workdir / "seed.iso", seed),
                network=net.name,
                mac=attachment.mac,
            )
            with booted_guest(conn, xml) as (_dom, console):
                console.wait_for(FINISHED_MARK, 900)
                inside = login_and_run(
                    console,
                    user="root",
                    password=PASSWORD,
                    command="hostname; ip -4 -o addr show scope global; ip route show default; "
                    "cat /home/debian/.ssh/authorized_keys",
                )
    finally:
        conn.close()
    assert "dctest-guest" in inside.splitlines()[0]
    assert f"inet {attachment.ip}/{net.subnet.prefixlen}" in inside
    assert f"default via {gateway}" in inside
    assert key in inside
