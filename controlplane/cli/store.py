"""What `dcloud token|host ...` and `dcloud up` do to the store directly (no API round trip needed)."""

from __future__ import annotations

import os
import shutil
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlmodel import Session

from controlplane.clock import system_clock
from controlplane.config import Settings
from controlplane.db import make_engine
from controlplane.models.auth import Role
from controlplane.models.host import Host
from controlplane.schemas.hosts import HostCreate
from controlplane.services import tokens as token_service
from controlplane.services.fleet import hosts as host_service

CLI_ACTOR = "cli:" + (os.environ.get("SUDO_USER") or os.environ.get("USER") or "root")


@dataclass(frozen=True)
class Capacity:
    vcpus: int
    memory_mib: int
    disk_gib: int


def _engine(settings: Settings) -> Engine:
    return make_engine(settings.database_url)


def create_token(
    settings: Settings,
    *,
    role: str,
    host: str | None,
    name: str | None,
    customer_id: int | None = None,
    expires_at: datetime | None = None,
) -> str:
    engine = _engine(settings)
    try:
        with Session(engine, expire_on_commit=False) as session:
            issued = token_service.issue_token(
                session,
                now=system_clock(),
                actor=CLI_ACTOR,
                role=Role(role),
                name=name or role,
                host_name=host,
                customer_id=customer_id,
                expires_at=expires_at,
            )
        return issued.plaintext
    finally:
        engine.dispose()


def revoke_token(settings: Settings, *, token_id: int) -> None:
    engine = _engine(settings)
    try:
        with Session(engine, expire_on_commit=False) as session:
            token_service.revoke_token(session, now=system_clock(), actor=CLI_ACTOR, token_id=token_id)
    finally:
        engine.dispose()


def probe_libvirt_capacity(uri: str, *, pool_name: str, pool_path: str) -> Capacity:
    """CPUs and memory from `getInfo()`; disk from the storage pool, else the filesystem it would live on."""
    import libvirt

    import agents.driver  # noqa: F401  # silences libvirt's stderr printing of errors we handle

    conn = libvirt.open(uri)
    try:
        info = conn.getInfo()  # [model, memory MiB, cpus, mhz, nodes, sockets, cores, threads]
        try:
            disk_bytes = conn.storagePoolLookupByName(pool_name).info()[1]
        except libvirt.libvirtError:
            disk_bytes = _filesystem_bytes(Path(pool_path))
    finally:
        conn.close()
    return Capacity(vcpus=int(info[2]), memory_mib=int(info[1]), disk_gib=max(1, disk_bytes // (1 << 30)))


def _filesystem_bytes(path: Path) -> int:
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).total


def register_host(
    settings: Settings,
    *,
    name: str | None,
    libvirt_uri: str,
    vcpus: int | None = None,
    memory_mib: int | None = None,
    disk_gib: int | None = None,
) -> Host:
    if vcpus is None or memory_mib is None or disk_gib is None:
        probed = probe_libvirt_capacity(
            libvirt_uri, pool_name=settings.storage_pool, pool_path=settings.storage_pool_path
        )
        vcpus, memory_mib, disk_gib = (
            vcpus or probed.vcpus,
            memory_mib or probed.memory_mib,
            disk_gib or probed.disk_gib,
        )
    data = HostCreate(
        name=name or socket.gethostname(),
        libvirt_uri=libvirt_uri,
        vcpus=vcpus,
        memory_mib=memory_mib,
        disk_gib=disk_gib,
    )
    engine = _engine(settings)
    try:
        with Session(engine, expire_on_commit=False) as session:
            return host_service.register_host(session, now=system_clock(), actor=CLI_ACTOR, data=data)
    finally:
        engine.dispose()


def host_table(settings: Settings) -> str:
    engine = _engine(settings)
    try:
        with Session(engine) as session:
            hosts = host_service.list_hosts(session)
            usage = host_service.usage_by_host(session)
            now = system_clock()
            lines = [f"{'NAME':<24} {'HEALTH':<12} {'VCPUS':>11} {'MEMORY MIB':>17} {'DISK GIB':>13}  URI"]
            for h in hosts:
                u = usage.get(h.id or 0)
                health = host_service.host_health(h, now=now, settings=settings).value
                lines.append(
                    f"{h.name:<24} {health:<12} {(u.vcpus if u else 0):>5}/{h.vcpus:<5} "
                    f"{(u.memory_mib if u else 0):>8}/{h.memory_mib:<8} "
                    f"{(u.disk_gib if u else 0):>6}/{h.disk_gib:<6}  {h.libvirt_uri}"
                )
        return "\n".join(lines)
    finally:
        engine.dispose()


def write_secret(path: Path, secret: str) -> None:
    """Writes a token readable only by its owner (0600), never briefly world-readable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    os.chmod(path, 0o600)


def saved_token_is_valid(engine: Engine, path: Path) -> str | None:
    """The token stored at `path` if it still authenticates (exists and not revoked), else None."""
    if not path.exists():
        return None
    token = path.read_text().strip()
    with Session(engine) as session:
        row = token_service.live_token(session, token, now=system_clock())
    return token if row is not None else None
