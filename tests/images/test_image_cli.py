"""`dcloud image import|list|hide|delete` speak to the API and print what it answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controlplane.cli import build_parser
from tests.utils.api import Api
from tests.utils.images import raw_image, sha256_of, vmdk_image


def _cli(api: Api, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    args = build_parser().parse_args(list(argv))
    api.client.headers["Authorization"] = f"Bearer {api.tokens['operator']}"
    code = int(args.func(args, client=api.client))
    out, err = capsys.readouterr()
    return code, out, err


def test_import_waits_for_active_then_list_hide_delete(
    api: Api, capsys: pytest.CaptureFixture[str], import_dir: Path
) -> None:
    path = raw_image(import_dir / "d.raw")
    code, out, _ = _cli(api, capsys, "image", "import", "debian", str(path), "--sha256", sha256_of(path))
    image = json.loads(out)
    assert code == 0 and image["state"] == "active"
    code, out, _ = _cli(api, capsys, "image", "list")
    assert [i["id"] for i in json.loads(out)] == [image["id"]]
    code, out, _ = _cli(api, capsys, "image", "hide", image["id"])
    assert json.loads(out)["hidden"] is True
    code, out, _ = _cli(api, capsys, "image", "list", "--visible")
    assert json.loads(out) == []
    code, out, _ = _cli(api, capsys, "image", "delete", image["id"])
    assert code == 0 and json.loads(out)["state"] == "deleted"


def test_a_failed_import_exits_1_with_the_reason(
    api: Api, capsys: pytest.CaptureFixture[str], import_dir: Path
) -> None:
    code, _out, err = _cli(api, capsys, "image", "import", "x", str(vmdk_image(import_dir / "x.vmdk")))
    assert code == 1 and "unsupported image format vmdk" in err


def test_a_refused_import_names_the_field(
    api: Api, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _out, err = _cli(api, capsys, "image", "import", "x", str(raw_image(tmp_path / "o.raw")))
    assert code == 1 and "source_path" in err
