"""/v1/images: import (answers `importing` at once; the import settles it), list, get, hide, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, status

from controlplane.api.deps import ClockDep, EngineDep, Principal, SessionDep, SettingsDep, require_roles
from controlplane.models.auth import Role
from controlplane.schemas.images import ImageHide, ImageImport, ImagePublic
from controlplane.schemas.types import Key
from controlplane.services.fleet import images as image_service

router = APIRouter(prefix="/v1/images", tags=["images"])

Writer = Annotated[Principal, Depends(require_roles(Role.OPERATOR))]
Reader = Annotated[Principal, Depends(require_roles(Role.OPERATOR, Role.AUDITOR))]


@router.post("", status_code=status.HTTP_202_ACCEPTED)
def import_image(
    body: ImageImport,
    who: Writer,
    session: SessionDep,
    engine: EngineDep,
    clock: ClockDep,
    settings: SettingsDep,
    background: BackgroundTasks,
) -> ImagePublic:
    """Accepted as `importing`; poll the image until it is `active` or `failed` (with the reason)."""
    image = image_service.register_import(session, now=clock(), actor=who.actor, data=body, settings=settings)
    background.add_task(
        image_service.run_import,
        engine,
        image_id=image.id,
        source=body.source,
        settings=settings,
        clock=clock,
    )
    return ImagePublic.model_validate(image, from_attributes=True)


@router.get("")
def list_images(_who: Reader, session: SessionDep, include_hidden: bool = True) -> list[ImagePublic]:
    images = image_service.list_images(session, include_hidden=include_hidden)
    return [ImagePublic.model_validate(i, from_attributes=True) for i in images]


@router.get("/{image_id}")
def get_image(image_id: Key, _who: Reader, session: SessionDep) -> ImagePublic:
    return ImagePublic.model_validate(image_service.get_image(session, image_id), from_attributes=True)


@router.post("/{image_id}/hide")
def hide_image(
    image_id: Key, who: Writer, session: SessionDep, clock: ClockDep, body: ImageHide | None = None
) -> ImagePublic:
    """Hidden from new servers (the servers built on it keep it); `{"hidden": false}` shows it again."""
    hidden = body.hidden if body is not None else True
    image = image_service.set_hidden(session, now=clock(), actor=who.actor, image_id=image_id, hidden=hidden)
    return ImagePublic.model_validate(image, from_attributes=True)


@router.delete("/{image_id}")
def delete_image(
    image_id: Key, who: Writer, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> ImagePublic:
    """409 while any server not yet wiped is built on it: hide it instead."""
    image = image_service.delete_image(
        session, now=clock(), actor=who.actor, image_id=image_id, settings=settings
    )
    return ImagePublic.model_validate(image, from_attributes=True)
