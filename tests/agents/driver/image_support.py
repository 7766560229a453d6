"""Images for the driver tests: files built with qemu-img, served over loopback HTTP to the agent's real
fetcher (agents/image_fetch.py), and this run's dctest image-cache pool."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import libvirt

from agents.image_fetch import DEFAULT_DEADLINE_S, download_image
from controlplane.protocol import DesiredImage, DiskFormat
from tests.utils.images import sha256_of


@dataclass
class LoopbackImageSource:
    """An ImageSource fetching `/<image id>` from a loopback server with the agent's own downloader."""

    base_url: str
    fetched: list[str] = field(default_factory=list)
    deadline_s: float = DEFAULT_DEADLINE_S

    def fetch_image(self, image: DesiredImage, dest: Path) -> None:
        self.fetched.append(image.id)
        with httpx.Client(base_url=self.base_url, timeout=5) as http:
            download_image(
                http, f"/{image.id}", image, dest, attempts=3, backoff_s=0.05, deadline_s=self.deadline_s
            )


def desired_image(path: Path, image_id: str, disk_format: DiskFormat, virtual_size: int) -> DesiredImage:
    return DesiredImage(
        id=image_id,
        sha256=sha256_of(path),
        disk_format=disk_format,
        size_bytes=path.stat().st_size,
        virtual_size_bytes=virtual_size,
    )


@contextlib.contextmanager
def image_pool(name: str, path: str) -> Iterator[tuple[str, str]]:
    """(pool name, path) of a cache pool removed at the end, its volumes and partial dir included."""
    try:
        yield name, path
    finally:
        # A fresh connection: the test's own may have died with a libvirtd restart.
        conn = libvirt.open("qemu:///system")
        with contextlib.suppress(libvirt.libvirtError):
            pool = conn.storagePoolLookupByName(name)
            for vol in pool.listAllVolumes(0):
                with contextlib.suppress(libvirt.libvirtError):
                    vol.delete(0)
            with contextlib.suppress(libvirt.libvirtError):
                pool.destroy()
            pool.undefine()
        shutil.rmtree(path, ignore_errors=True)
        shutil.rmtree(f"{path}.partial", ignore_errors=True)
        conn.close()
