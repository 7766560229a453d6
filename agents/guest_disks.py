"""A server's disks on the host: the system disk (blank raw, or built on a cached image) and its seed.

The seed cdrom is rebuilt whenever its documents change (a new address, say): its fingerprint lives in
the domain metadata, so the agent knows without reading the ISO back. Seed and system disk are the
server's own volumes (`dcloud-<id>-disk0`, `dcloud-<id>-seed`), wiped on delete; the base is not.
"""

from __future__ import annotations

from dataclasses import dataclass

import libvirt

from agents import storage
from agents.domain_xml import GuestDisks, domain_name_for
from agents.image_cache import ImageCache
from agents.seed import build_seed_iso, seed_documents
from controlplane.protocol import DesiredServer, DiskFormat

GIB = storage.GIB


def disk_volume_name(server_id: str, index: int = 0) -> str:
    return f"{domain_name_for(server_id)}-disk{index}"


def seed_volume_name(server_id: str) -> str:
    return f"{domain_name_for(server_id)}-seed"


@dataclass(frozen=True)
class PreparedDisks:
    disks: GuestDisks
    # The seed's fingerprint (None: the server has no seed).
    seed_mark: str | None


def prepare_disks(
    conn: libvirt.virConnect,
    pool: libvirt.virStoragePool,
    cache: ImageCache,
    server: DesiredServer,
    dom: libvirt.virDomain | None,
    *,
    seed_mark_now: str | None,
    full_copy: bool = False,
) -> PreparedDisks:
    """Create or grow the system disk and (re)write the seed when its content changed.

    When that fails (a full pool, say), the volumes this call created are deleted again: they were
    never attached to a guest, so they hold no customer data, and a failed server leaves nothing.
    """
    existing = {vol.name() for vol in pool.listAllVolumes(0)}
    try:
        return _prepare(conn, pool, cache, server, dom, seed_mark_now=seed_mark_now, full_copy=full_copy)
    except libvirt.libvirtError:
        own = {disk_volume_name(server.id), seed_volume_name(server.id)} - existing
        pool.refresh(0)
        for vol in pool.listAllVolumes(0):
            if vol.name() in own:
                storage.delete_volume(vol)
        raise


def _prepare(
    conn: libvirt.virConnect,
    pool: libvirt.virStoragePool,
    cache: ImageCache,
    server: DesiredServer,
    dom: libvirt.virDomain | None,
    *,
    seed_mark_now: str | None,
    full_copy: bool,
) -> PreparedDisks:
    want = server.disk_gib * GIB
    name = disk_volume_name(server.id)
    if server.image is None:
        vol = storage.ensure_raw_volume(pool, name, want, dom)
        disk_format = DiskFormat.RAW
    else:
        base = cache.ensure_base(server.image)
        # Never smaller than the image itself, whatever the order says (the control plane checks too).
        want = max(want, server.image.virtual_size_bytes)
        vol = storage.ensure_image_volume(
            pool, name, want, base, server.image.disk_format, dom, full_copy=full_copy
        )
        disk_format = DiskFormat.QCOW2
    seed_path, mark = None, None
    if server.first_boot is not None:
        documents = seed_documents(server)
        mark = documents.fingerprint()
        seed = storage.find_volume(pool, seed_volume_name(server.id))
        if seed is None or mark != seed_mark_now:
            seed = storage.write_volume_bytes(
                conn, pool, seed_volume_name(server.id), build_seed_iso(documents)
            )
        seed_path = seed.path()
    return PreparedDisks(GuestDisks(path=vol.path(), disk_format=disk_format, seed_path=seed_path), mark)
