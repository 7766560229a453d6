"""The host's image cache: each image's base once per host, in its own libvirt dir pool.

A base is shared by every server built on the image and never written by a guest (the servers get qcow2
overlays on it), so it holds no customer data and is never wiped. It is deleted only when no overlay in
the server pool names it as backing file any more (`bases_in_use` counts from the pool itself, which is
what QEMU will open): the Nova lesson of a cached base deleted under live overlays.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import libvirt

from agents import storage
from agents.image_fetch import ImageFetchFailed, ImageSource
from controlplane.protocol import DesiredImage

log = logging.getLogger(__name__)


def base_volume_name(image: DesiredImage) -> str:
    return f"{image.id}.{image.disk_format}"


class ImageCache:
    def __init__(
        self,
        conn: libvirt.virConnect,
        *,
        pool_name: str,
        pool_path: str,
        source: ImageSource | None,
        partial_dir: str | None = None,
    ) -> None:
        self.conn = conn
        self.pool_name = pool_name
        self.pool_path = pool_path
        self.source = source
        # Partial downloads live beside the pool (not in it: a refresh would list them as volumes).
        self.partial_dir = Path(partial_dir or f"{pool_path.rstrip('/')}.partial")

    def pool(self) -> libvirt.virStoragePool:
        pool = storage.ensure_dir_pool(self.conn, self.pool_name, self.pool_path)
        # Bases are read by QEMU as the guest's user: readable, never writable, by others.
        os.chmod(self.pool_path, 0o755)
        return pool

    def cached(self, image: DesiredImage) -> libvirt.virStorageVol | None:
        return storage.find_volume(self.pool(), base_volume_name(image))

    def ensure_base(self, image: DesiredImage) -> libvirt.virStorageVol:
        """The image's base in the cache, fetched (and verified) first when the host lacks it."""
        pool = self.pool()
        name = base_volume_name(image)
        vol = storage.find_volume(pool, name)
        if vol is not None:
            return vol
        if self.source is None:
            raise ImageFetchFailed(f"image {image.id} is not cached here and no image source is configured")
        self.partial_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = self.partial_dir / name
        self.source.fetch_image(image, partial)
        final = Path(self.pool_path) / name
        # Same filesystem in the usual layout (a rename); a copy otherwise.
        shutil.move(partial, final)
        final.chmod(0o644)
        pool.refresh(0)
        log.info("cached image %s (%d bytes) as %s", image.id, image.size_bytes, final)
        return pool.storageVolLookupByName(name)

    def bases_in_use(self, server_pool: libvirt.virStoragePool) -> dict[str, list[str]]:
        """base path -> names of the overlays in `server_pool` that name it as their backing file."""
        users: dict[str, list[str]] = {}
        for vol in server_pool.listAllVolumes(0):
            backing = storage.backing_path_of(vol)
            if backing is not None:
                users.setdefault(os.path.realpath(backing), []).append(vol.name())
        return users

    def prune_unused(self, server_pool: libvirt.virStoragePool, *, keep: set[str]) -> list[str]:
        """Delete cached bases no overlay uses and no listed image id needs; returns the names removed."""
        in_use = self.bases_in_use(server_pool)
        removed = []
        for vol in self.pool().listAllVolumes(0):
            image_id = vol.name().rpartition(".")[0]
            if image_id in keep or in_use.get(os.path.realpath(vol.path())):
                continue
            storage.delete_volume(vol)
            removed.append(vol.name())
        return removed
