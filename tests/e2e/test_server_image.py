"""End to end (issue 9): an image imported over the API, fetched by the real agent through its own
route, a server built on it with its seed, rebooted and grown, then deleted with its shared base kept."""

from __future__ import annotations

from pathlib import Path

import libvirt
import pytest

from agents.domain_xml import METADATA_NS
from tests.e2e.stack import LiveStack, wait_for
from tests.utils.images import raw_image, sha256_of, ssh_key

pytestmark = [pytest.mark.libvirt]
GIB = 1024**3


def _server(stack: LiveStack, sid: str) -> dict:  # type: ignore[type-arg]
    return stack.api("GET", f"/v1/servers/{sid}").json()  # type: ignore[no-any-return]


def _reboot_mark(stack: LiveStack, sid: str) -> str | None:
    dom = stack.conn.lookupByName(f"dcloud-{sid}")
    xml = dom.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, METADATA_NS, 0)
    marker = "<reboot>"
    return xml.split(marker, 1)[1].split("<", 1)[0] if marker in xml else None


def test_a_server_from_an_image_lives_and_dies_without_touching_the_base(stack: LiveStack) -> None:
    import_dir = Path(stack.agent_settings.import_roots()[0])
    import_dir.mkdir(parents=True, exist_ok=True)
    path = raw_image(import_dir / "base.raw", size_mib=32)
    body = {"name": "dctest base", "source_path": str(path), "sha256": sha256_of(path)}
    image = stack.api("POST", "/v1/images", json=body).json()
    wait_for(
        lambda: stack.api("GET", f"/v1/images/{image['id']}").json()["state"] == "active", what="image active"
    )
    server = stack.create_server(
        "dctest e2e image",
        image_id=image["id"],
        hostname="e2e-1",
        ssh_authorized_keys=[ssh_key()],
        domain_type="qemu",
    )
    sid = server["id"]
    wait_for(lambda: stack.domain_state(sid) == libvirt.VIR_DOMAIN_RUNNING, what="domain running")
    assert {f"dcloud-{sid}-disk0", f"dcloud-{sid}-seed"} <= set(stack.volumes())
    base_pool = stack.conn.storagePoolLookupByName(f"{stack.run_id}-images")
    assert [v.name() for v in base_pool.listAllVolumes(0)] == [f"{image['id']}.raw"]

    assert stack.api("POST", f"/v1/servers/{sid}/reboot", json={"hard": True}).status_code == 200
    wait_for(lambda: _reboot_mark(stack, sid) == "1", what="the reboot carried out")

    assert stack.api("POST", f"/v1/servers/{sid}/resize", json={"disk_gib": 2}).status_code == 200
    wait_for(lambda: _server(stack, sid)["observed_disk_bytes"] == 2 * GIB, what="the grown disk observed")
    assert stack.domain_state(sid) == libvirt.VIR_DOMAIN_RUNNING

    assert stack.api("DELETE", f"/v1/images/{image['id']}").status_code == 409
    assert stack.api("DELETE", f"/v1/servers/{sid}").status_code == 202
    record = wait_for(
        lambda: (r := stack.api("GET", f"/v1/servers/{sid}/deletion-record")).status_code == 200 and r.json(),
        what="the deletion record",
    )
    assert sorted(v["name"] for v in record["volumes"]) == [f"dcloud-{sid}-disk0", f"dcloud-{sid}-seed"]
    assert [(b["image_id"], b["customer_data"]) for b in record["shared_bases"]] == [(image["id"], False)]
    base_pool.refresh(0)
    assert [v.name() for v in base_pool.listAllVolumes(0)] == [f"{image['id']}.raw"]
    assert not any(name.startswith(f"dcloud-{sid}") for name in stack.volumes())
