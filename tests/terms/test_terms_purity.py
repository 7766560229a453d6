"""The terms core imports nothing but the standard library and itself (no store, clock, libvirt, HTTP)."""

import ast
import sys
from pathlib import Path

import controlplane.terms

TERMS_DIR = Path(controlplane.terms.__file__).parent


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_terms_modules_import_only_the_standard_library_and_terms() -> None:
    offenders = {}
    for path in sorted(TERMS_DIR.glob("*.py")):
        bad = {m for m in imported_modules(path)
               if not m.startswith("controlplane.terms") and m.split(".")[0] not in sys.stdlib_module_names}
        if bad:
            offenders[path.name] = bad
    assert offenders == {}
