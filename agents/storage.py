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


def raw_volume_xml(name: str, capacity_bytes: int) -> str:
    root = etree.Element("volume")
    etree.SubElement(root, "name").text = name
    etree.SubElement(root, "capacity", unit="bytes").text = str(capacity_bytes)
    # Allocation 0: a sparse raw file; unwritten regions are holes and hold no customer data.
    etree.SubElement(root, "allocation", unit="bytes").text = "0"
    target = etree.SubElement(root, "target")
    etree.SubElement(target, "format", type="raw")
    etree.SubElement(etree.SubElement(target, "permissions"), "mode").text = "0600"
    return etree.tostring(root, encoding="unicode")
