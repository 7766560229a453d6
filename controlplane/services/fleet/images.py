"""Images (issue 9): import (importing -> active | failed with the reason), list, hide, delete.

The import is two steps: `register_import` records the image as `importing` and commits (the request
answers at once); `run_import` is the batch job that streams the file, hashes, inspects and settles the
image in its own transaction, removing whatever it wrote when the image fails.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from controlplane.clock import Clock
from controlplane.config import Settings
from controlplane.db import session_scope
from controlplane.errors import Conflict, InvalidInput, NotFound
from controlplane.models.image import Image, ImageState
from controlplane.models.server import Server
from controlplane.protocol import DesiredImage, DiskFormat
from controlplane.schemas.images import ImageImport
from controlplane.services.audit import record_change
from controlplane.services.fleet import image_store
from controlplane.services.fleet.image_files import (
    ImageRejected,
    inspect_image,
    local_source_path,
    min_disk_gib,
    stream_to_file,
)

log = logging.getLogger(__name__)


def image_snapshot(image: Image) -> dict[str, object]:
    return {
        "name": image.name,
        "state": image.state,
        "sha256": image.sha256,
        "disk_format": image.disk_format,
        "hidden": image.hidden,
    }


def _display_source(source: str) -> str:
    """The source as stored and shown: a URL without any user:password part."""
    parts = urlsplit(source)
    if parts.scheme.lower() in ("http", "https") and "@" in parts.netloc:
        return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    return source


def register_import(
    session: Session, *, now: datetime, actor: str, data: ImageImport, settings: Settings
) -> Image:
    if data.source_path is not None:
        try:
            local_source_path(data.source_path, settings.import_roots())
        except ImageRejected as exc:
            raise InvalidInput(str(exc), field="source_path") from None
    image = Image(
        name=data.name,
        source=_display_source(data.source),
        expected_sha256=data.sha256,
        min_disk_gib=data.min_disk_gib,
        created_at=now,
        updated_at=now,
    )
    session.add(image)
    session.flush()
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="image",
        entity_id=image.id,
        action="import",
        after={**image_snapshot(image), "source": image.source},
    )
    session.commit()
    return image


def run_import(engine: Engine, *, image_id: str, source: str, settings: Settings, clock: Clock) -> None:
    """Fetch, verify and inspect one importing image; it ends active or failed, never half-done."""
    partial = image_store.import_partial_path(settings, image_id)
    partial.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with session_scope(engine) as session:
        image = session.get(Image, image_id)
        if image is None or image.state != ImageState.IMPORTING:
            return
        expected, wanted_min = image.expected_sha256, image.min_disk_gib
    try:
        arrived = stream_to_file(
            source,
            partial,
            import_roots=settings.import_roots(),
            timeout_s=settings.image_fetch_timeout_s,
            deadline_s=settings.image_fetch_deadline_s,
            max_bytes=settings.image_max_bytes,
        )
        if expected is not None and arrived.sha256 != expected:
            raise ImageRejected(f"sha256 mismatch: expected {expected}, got {arrived.sha256}")
        inspected = inspect_image(partial)
        final = image_store.image_path(settings, image_id, inspected.disk_format)
        partial.rename(final)
        final.chmod(0o600)
        image_store.remember_checked(final, arrived.sha256)
    except (ImageRejected, OSError) as exc:
        partial.unlink(missing_ok=True)
        _settle(engine, image_id, clock(), failure=str(exc) or type(exc).__name__)
        return
    minimum = max(min_disk_gib(inspected.virtual_size_bytes), wanted_min or 0)
    settled = _settle(
        engine,
        image_id,
        clock(),
        sha256=arrived.sha256,
        size_bytes=arrived.size_bytes,
        disk_format=inspected.disk_format,
        virtual_size_bytes=inspected.virtual_size_bytes,
        min_disk=minimum,
    )
    if not settled:  # declared interrupted (or deleted) meanwhile: no record owns the file any more
        final.unlink(missing_ok=True)
        image_store.forget_checked(final)


def _settle(
    engine: Engine,
    image_id: str,
    now: datetime,
    *,
    failure: str | None = None,
    sha256: str | None = None,
    size_bytes: int | None = None,
    disk_format: DiskFormat | None = None,
    virtual_size_bytes: int | None = None,
    min_disk: int | None = None,
) -> bool:
    """Record the import's outcome; False (nothing written) when the image is no longer importing."""
    with session_scope(engine) as session:
        image = session.get(Image, image_id)
        if image is None or image.state != ImageState.IMPORTING:
            # Declared interrupted meanwhile (fail_interrupted_imports) or deleted: the record stands.
            log.warning("image %s import ended after the image became %s", image_id, image and image.state)
            return False
        before = image_snapshot(image)
        image.state = ImageState.FAILED if failure else ImageState.ACTIVE
        image.failure_reason = failure[:1024] if failure else None
        image.sha256, image.size_bytes, image.disk_format = sha256, size_bytes, disk_format
        image.virtual_size_bytes, image.min_disk_gib = virtual_size_bytes, min_disk
        image.updated_at = now
        session.add(image)
        record_change(
            session,
            at=now,
            actor="system:image-import",
            entity_type="image",
            entity_id=image_id,
            action="import_failed" if failure else "import_done",
            before=before,
            after={**image_snapshot(image), "failure_reason": image.failure_reason},
        )
    if failure:
        log.warning("image %s import failed: %s", image_id, failure)
    return True


INTERRUPTED = (
    "interrupted: the import did not finish within the fetch deadline (the API process that ran it "
    "may have stopped); import it again"
)


def _interrupted(image: Image, now: datetime, settings: Settings) -> bool:
    """Importing for longer than any live import can run: the fetch deadline bounds the transfer, one
    read timeout and a minute cover the hash, the inspection and the commit."""
    bound = timedelta(seconds=settings.image_fetch_deadline_s + settings.image_fetch_timeout_s + 60)
    return image.state == ImageState.IMPORTING and now - image.updated_at > bound


def _mark_interrupted(session: Session, image: Image, now: datetime, settings: Settings) -> None:
    before = image_snapshot(image)
    image.state, image.failure_reason, image.updated_at = ImageState.FAILED, INTERRUPTED, now
    session.add(image)
    record_change(
        session,
        at=now,
        actor="system:image-import",
        entity_type="image",
        entity_id=image.id,
        action="import_failed",
        before=before,
        after={**image_snapshot(image), "failure_reason": INTERRUPTED},
    )
    image_store.import_partial_path(settings, image.id).unlink(missing_ok=True)
    log.warning("image %s: import interrupted, marked failed", image.id)


def fail_interrupted_imports(engine: Engine, *, now: datetime, settings: Settings) -> list[str]:
    """Imports whose process died (an API restart) would stay `importing` for ever; they fail instead."""
    with session_scope(engine) as session:
        stuck = session.exec(select(Image).where(Image.state == ImageState.IMPORTING)).all()
        failed = [image for image in stuck if _interrupted(image, now, settings)]
        for image in failed:
            _mark_interrupted(session, image, now, settings)
        return [image.id for image in failed]


def get_image(session: Session, image_id: str) -> Image:
    image = session.get(Image, image_id)
    if image is None or image.state == ImageState.DELETED:
        raise NotFound(f"no image {image_id!r}", field="image_id")
    return image


def list_images(session: Session, *, include_hidden: bool = True) -> list[Image]:
    query = select(Image).where(Image.state != ImageState.DELETED)
    if not include_hidden:
        query = query.where(col(Image.hidden).is_(False))
    return list(session.exec(query.order_by(col(Image.created_at), col(Image.id))).all())


def usable_image(session: Session, image_id: str) -> Image:
    """An image a new server may boot from: active and not hidden (else 422 naming `image_id`)."""
    image = session.get(Image, image_id)
    if image is None or image.state == ImageState.DELETED:
        raise InvalidInput(f"no image {image_id!r}", field="image_id")
    if image.state != ImageState.ACTIVE:
        raise InvalidInput(f"image {image_id} is {image.state}, not active", field="image_id")
    if image.hidden:
        raise InvalidInput(f"image {image_id} is hidden from new servers", field="image_id")
    return image


def servable_image(session: Session, image_id: str) -> Image:
    """An image whose file an agent may fetch: active (hidden ones too, their servers still need them)."""
    image = get_image(session, image_id)
    if image.state != ImageState.ACTIVE:
        raise NotFound(f"image {image_id} has no file to serve (it is {image.state})", field="image_id")
    return image


def desired_image(image: Image) -> DesiredImage:
    return DesiredImage(
        id=image.id,
        sha256=image.sha256 or "",
        disk_format=DiskFormat(image.disk_format or DiskFormat.RAW),
        size_bytes=image.size_bytes or 0,
        virtual_size_bytes=image.virtual_size_bytes or 0,
    )


def set_hidden(session: Session, *, now: datetime, actor: str, image_id: str, hidden: bool) -> Image:
    image = get_image(session, image_id)
    if image.hidden == hidden:
        return image
    before = image_snapshot(image)
    image.hidden, image.updated_at = hidden, now
    session.add(image)
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="image",
        entity_id=image_id,
        action="hide" if hidden else "unhide",
        before=before,
        after=image_snapshot(image),
    )
    session.commit()
    return image


def servers_using(session: Session, image_id: str) -> list[str]:
    """Servers not yet wiped whose disk is built on the image (their hosts still need its base)."""
    query = select(Server.id).where(Server.image_id == image_id, col(Server.deleted_at).is_(None))
    return list(session.exec(query.order_by(col(Server.id))).all())


def delete_image(session: Session, *, now: datetime, actor: str, image_id: str, settings: Settings) -> Image:
    """Removes the file and marks the image deleted; refused (409) while a server is built on it."""
    image = get_image(session, image_id)
    if _interrupted(image, now, settings):
        _mark_interrupted(session, image, now, settings)
    if image.state == ImageState.IMPORTING:
        raise Conflict(f"image {image_id} is still importing", field="image_id")
    users = servers_using(session, image_id)
    if users:
        raise Conflict(
            f"image {image_id} is in use by {len(users)} server(s) (first {users[0]}); hide it instead",
            field="image_id",
        )
    before = image_snapshot(image)
    path = image_store.image_path(settings, image.id, image.disk_format) if image.disk_format else None
    image.state, image.updated_at = ImageState.DELETED, now
    session.add(image)
    record_change(
        session,
        at=now,
        actor=actor,
        entity_type="image",
        entity_id=image_id,
        action="delete",
        before=before,
        after=image_snapshot(image),
    )
    session.commit()
    if path is not None:  # after the commit: a failed commit must not leave an active image without file
        path.unlink(missing_ok=True)
    return image
