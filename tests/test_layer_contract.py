"""The layer contract in pyproject.toml ([tool.importlinter]) holds, and its lists leave nothing out.

`lint-imports` checks each contract; the tests below make sure the two "imports nothing but ..." contracts
still name every part of the tree and every installed dependency, so a new module or package cannot slip
past them unlisted.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())


def contract(contract_id: str) -> dict[str, Any]:
    contracts: list[dict[str, Any]] = CONFIG["tool"]["importlinter"]["contracts"]
    return next(c for c in contracts if c["id"] == contract_id)


def controlplane_parts() -> set[str]:
    return {
        f"controlplane.{p.stem}"
        for p in (ROOT / "controlplane").iterdir()
        if not p.name.startswith("_") and (p.suffix == ".py" or (p / "__init__.py").exists())
    }


def dependency_imports() -> set[str]:
    """The import names of pyproject's runtime dependencies (libvirt-python is imported as libvirt)."""
    names = {re.split(r"[\[=<>]", d)[0].lower().replace("-", "_") for d in CONFIG["project"]["dependencies"]}
    return {"libvirt" if n == "libvirt_python" else n for n in names}


def test_every_import_contract_is_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout, not whatever is installed
    result = subprocess.run(
        [str(lint), "--no-cache", "--no-logo"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_terms_contract_forbids_every_other_part_and_every_dependency() -> None:
    forbidden = set(contract("terms-pure")["forbidden_modules"])
    expected = (controlplane_parts() - {"controlplane.terms"}) | {"network", "agents", "scheduler"}
    assert expected - forbidden == set()
    assert dependency_imports() - forbidden == set()


def test_agents_contract_allows_exactly_protocol_clock_and_config() -> None:
    forbidden = set(contract("agents-protocol-only")["forbidden_modules"])
    allowed = {"controlplane.protocol", "controlplane.clock", "controlplane.config"}
    assert controlplane_parts() - forbidden == allowed
