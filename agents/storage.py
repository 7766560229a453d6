"""Server disks: the directory storage pool and the raw volumes in it, all idempotent."""

from __future__ import annotations

import logging
import re

import libvirt
from lxml import etree

log = logging.getLogger(__name__)

GIB = 1024**3


def find_pool(conn: libvirt.virConnect, name: str) -> libvirt.virStoragePool | None:
    try:
        return conn.storagePoolLookupByName(name)
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_POOL:
            return None
        raise


def ensure_dir_pool(conn: libvirt.virConnect, name: str, path: str) -> libvirt.virStoragePool:
    """The directory pool `name` at `path`: defined, built, autostarted and active."""
    pool = find_pool(conn, name)
    if pool is None:
        pool = conn.storagePoolDefineXML(dir_pool_xml(name, path), 0)
        pool.build(0)
        pool.setAutostart(1)
        log.info("defined storage pool %s at %s", name, path)
    if not pool.isActive():
        pool.create(0)
    return pool


def ensure_raw_volume(
    pool: libvirt.virStoragePool, name: str, capacity_bytes: int, dom: libvirt.virDomain | None
) -> libvirt.virStorageVol:
    """A sparse raw volume of at least `capacity_bytes`; disks only grow, never shrink."""
    try:
        vol = pool.storageVolLookupByName(name)
    except libvirt.libvirtError as err:
        if err.get_error_code() != libvirt.VIR_ERR_NO_STORAGE_VOL:
            raise
        return pool.createXML(raw_volume_xml(name, capacity_bytes), 0)
    if vol.info()[1] < capacity_bytes:
        # A running guest must be told through blockResize; a stopped one just gets a bigger file.
        if dom is not None and dom.isActive():
            dom.blockResize(vol.path(), capacity_bytes, libvirt.VIR_DOMAIN_BLOCK_RESIZE_BYTES)
        else:
            vol.resize(capacity_bytes, 0)
    return vol


def volumes_named(pool: libvirt.virStoragePool, pattern: re.Pattern[str]) -> list[libvirt.virStorageVol]:
    return [vol for vol in pool.listAllVolumes(0) if pattern.match(vol.name())]


def delete_volume(vol: libvirt.virStorageVol) -> None:
    """Delete a volume; one that is already gone is fine (a resumed delete)."""
    try:
        vol.delete(0)
    except libvirt.libvirtError as err:
        if err.get_error_code() != libvirt.VIR_ERR_NO_STORAGE_VOL:
            raise


def dir_pool_xml(name: str, path: str) -> str:
    root = etree.Element("pool", type="dir")
    etree.SubElement(root, "name").text = name
    target = etree.SubElement(root, "target")
    etree.SubElement(target, "path").text = path
    # Customer disks: others may traverse (QEMU runs as its own user) but not list.
    etree.SubElement(etree.SubElement(target, "permissions"), "mode").text = "0711"
    return etree.tostring(root, encoding="unicode")


def raw_volume_xml(name: str, capacity_bytes: int, *, allocation_bytes: int = 0) -> str:
    root = etree.Element("volume")
    etree.SubElement(root, "name").text = name
    etree.SubElement(root, "capacity", unit="bytes").text = str(capacity_bytes)
    # Allocation 0 (a disk): a sparse raw file; unwritten regions are holes and hold no customer data.
    etree.SubElement(root, "allocation", unit="bytes").text = str(allocation_bytes)
    target = etree.SubElement(root, "target")
    etree.SubElement(target, "format", type="raw")
    etree.SubElement(etree.SubElement(target, "permissions"), "mode").text = "0600"
    return etree.tostring(root, encoding="unicode")


def find_volume(pool: libvirt.virStoragePool, name: str) -> libvirt.virStorageVol | None:
    try:
        return pool.storageVolLookupByName(name)
    except libvirt.libvirtError as err:
        if err.get_error_code() == libvirt.VIR_ERR_NO_STORAGE_VOL:
            return None
        raise


def grow_volume(vol: libvirt.virStorageVol, capacity_bytes: int, dom: libvirt.virDomain | None) -> None:
    """Grow (never shrink) a server disk: blockResize while the guest runs, else resize the file."""
    if vol.info()[1] >= capacity_bytes:
        return
    if dom is not None and dom.isActive():
        dom.blockResize(vol.path(), capacity_bytes, libvirt.VIR_DOMAIN_BLOCK_RESIZE_BYTES)
    else:
        vol.resize(capacity_bytes, 0)


def ensure_image_volume(
    pool: libvirt.virStoragePool,
    name: str,
    capacity_bytes: int,
    base: libvirt.virStorageVol,
    base_format: str,
    dom: libvirt.virDomain | None,
    *,
    full_copy: bool = False,
) -> libvirt.virStorageVol:
    """A server disk built on an image base: a qcow2 overlay naming its backing format, or a full copy."""
    vol = find_volume(pool, name)
    if vol is None:
        if full_copy:
            # createXMLFrom converts with qemu-img, told both formats; the copy has no backing file.
            vol = pool.createXMLFrom(qcow2_volume_xml(name, capacity_bytes), base, 0)
        else:
            vol = pool.createXML(qcow2_volume_xml(name, capacity_bytes, base.path(), base_format), 0)
    grow_volume(vol, capacity_bytes, dom)
    return vol


def qcow2_volume_xml(
    name: str, capacity_bytes: int, backing_path: str | None = None, backing_format: str | None = None
) -> str:
    root = etree.Element("volume")
    etree.SubElement(root, "name").text = name
    etree.SubElement(root, "capacity", unit="bytes").text = str(capacity_bytes)
    etree.SubElement(root, "allocation", unit="bytes").text = "0"
    target = etree.SubElement(root, "target")
    etree.SubElement(target, "format", type="qcow2")
    etree.SubElement(etree.SubElement(target, "permissions"), "mode").text = "0600"
    if backing_path is not None:
        # The backing format is always written into the overlay (-F): QEMU must never probe the base.
        backing = etree.SubElement(root, "backingStore")
        etree.SubElement(backing, "path").text = backing_path
        etree.SubElement(backing, "format", type=backing_format or "raw")
    return etree.tostring(root, encoding="unicode")


def backing_path_of(vol: libvirt.virStorageVol) -> str | None:
    """The backing file a volume names (its qcow2 header, as libvirt reads it), or None."""
    root = etree.fromstring(vol.XMLDesc(0).encode())
    return root.findtext("backingStore/path")


def write_volume_bytes(
    conn: libvirt.virConnect, pool: libvirt.virStoragePool, name: str, data: bytes
) -> libvirt.virStorageVol:
    """A raw volume holding exactly `data` (replacing an older one), uploaded through libvirt."""
    old = find_volume(pool, name)
    if old is not None and old.info()[1] != len(data):
        old.delete(0)
        old = None
    # Fully allocated up front: on a full pool the create fails with ENOSPC, where a sparse file took
    # the upload and kept a truncated copy without any error from the stream.
    vol = old or pool.createXML(raw_volume_xml(name, len(data), allocation_bytes=len(data)), 0)
    try:
        stream = conn.newStream(0)
        vol.upload(stream, 0, len(data), 0)
        stream.send(data)
        stream.finish()
    except libvirt.libvirtError:
        delete_volume(vol)  # never leave a partial copy behind
        raise
    return vol
