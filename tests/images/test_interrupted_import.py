"""An import whose API process stopped midway (a restart) does not stay `importing` for ever: once past
any live import's deadline it is failed with the reason, and can then be deleted."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session, select

from controlplane.models.audit import AuditEvent
from controlplane.models.image import Image, ImageState
from controlplane.schemas.images import ImageImport
from controlplane.services.fleet.images import INTERRUPTED, fail_interrupted_imports, register_import
from scheduler.jobs.fleet import image_imports
from scheduler.registry import JobContext
from tests.utils.api import Api
from tests.utils.images import raw_image


def _abandoned_import(api: Api, import_dir: Path) -> str:
    """An image registered as importing whose import never runs: the process died before it could."""
    (import_dir / "disk.raw").write_bytes(b"\0" * 4096)
    with Session(api.engine) as session:
        data = ImageImport(name="img", source_path=str(import_dir / "disk.raw"))
        image = register_import(session, now=api.clock(), actor="op", data=data, settings=api.settings)
        return image.id


def _bound_s(api: Api) -> float:
    return api.settings.image_fetch_deadline_s + api.settings.image_fetch_timeout_s + 60


def _state(api: Api, image_id: str) -> dict[str, object]:
    answer: dict[str, object] = api.call("GET", f"/v1/images/{image_id}", role="operator").json()
    return answer


def test_an_import_within_its_deadline_stays_importing_and_cannot_be_deleted(
    api: Api, import_dir: Path
) -> None:
    image_id = _abandoned_import(api, import_dir)
    api.clock.advance(seconds=_bound_s(api) - 1)
    assert fail_interrupted_imports(api.engine, now=api.clock(), settings=api.settings) == []
    assert _state(api, image_id)["state"] == "importing"
    assert api.call("DELETE", f"/v1/images/{image_id}", role="operator").status_code == 409


def test_the_job_fails_an_import_past_its_deadline_with_the_reason_and_an_audit_row(
    api: Api, import_dir: Path, image_dir: Path
) -> None:
    image_id = _abandoned_import(api, import_dir)
    image_dir.mkdir(exist_ok=True)
    (image_dir / f"{image_id}.part").write_bytes(b"half")
    api.clock.advance(seconds=_bound_s(api) + 1)
    image_imports(JobContext(engine=api.engine, settings=api.settings, clock=api.clock))
    shown = _state(api, image_id)
    assert (shown["state"], shown["failure_reason"]) == ("failed", INTERRUPTED)
    assert not (image_dir / f"{image_id}.part").exists()
    with Session(api.engine) as session:
        rows = session.exec(
            select(AuditEvent).where(AuditEvent.entity_type == "image", AuditEvent.entity_id == image_id)
        ).all()
    actions = [row.action for row in rows]
    assert actions == ["import", "import_failed"]


def test_an_import_past_its_deadline_can_be_deleted_at_once(api: Api, import_dir: Path) -> None:
    image_id = _abandoned_import(api, import_dir)
    api.clock.advance(seconds=_bound_s(api) + 1)
    assert api.call("DELETE", f"/v1/images/{image_id}", role="operator").status_code in (200, 204)
    assert api.call("GET", f"/v1/images/{image_id}", role="operator").status_code == 404


def test_an_import_that_ends_after_being_declared_interrupted_does_not_revive_it(
    api: Api, import_dir: Path
) -> None:
    from controlplane.services.fleet.images import _settle

    image_id = _abandoned_import(api, import_dir)
    api.clock.advance(seconds=_bound_s(api) + 1)
    fail_interrupted_imports(api.engine, now=api.clock(), settings=api.settings)
    _settle(api.engine, image_id, api.clock(), sha256="0" * 64, size_bytes=4096, disk_format="raw")
    with Session(api.engine) as session:
        image = session.get(Image, image_id)
        assert image is not None and image.state == ImageState.FAILED


def test_a_live_import_declared_interrupted_midway_leaves_no_file_and_stays_failed(
    api: Api, import_dir: Path, image_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The import is slower than the bound (a stalled API process that wakes up): the job marks it
    # failed after its file was moved into the image directory and before its outcome is recorded.
    from controlplane.services.fleet import image_store, images

    image_id = _abandoned_import(api, import_dir)
    raw_image(import_dir / "disk.raw", size_mib=2)  # an image the inspection accepts
    real_remember = image_store.remember_checked
    moved: list[Path] = []

    def remember_once_declared_interrupted(path: Path, sha256: str) -> None:
        moved.append(path)
        api.clock.advance(seconds=_bound_s(api) + 1)
        assert fail_interrupted_imports(api.engine, now=api.clock(), settings=api.settings) == [image_id]
        real_remember(path, sha256)

    monkeypatch.setattr(image_store, "remember_checked", remember_once_declared_interrupted)
    images.run_import(
        api.engine,
        image_id=image_id,
        source=str(import_dir / "disk.raw"),
        settings=api.settings,
        clock=api.clock,
    )
    assert moved == [image_dir / f"{image_id}.raw"]  # the file was in place when the mark came
    shown = _state(api, image_id)
    assert (shown["state"], shown["failure_reason"]) == ("failed", INTERRUPTED)
    assert list(image_dir.iterdir()) == []
    assert moved[0] not in image_store._checked
