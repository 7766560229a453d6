"""The transaction convention of controlplane/db.py holds: entry points never commit, helpers never commit,
and a use case that commits is never called from inside another transaction.

A read of the source (ast), not of the database: it names the function that breaks the rule.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Routes and CLI commands take a Session and call one use case, or hand the Engine to a batch job.
ENTRY_POINTS = [
    *sorted((ROOT / "controlplane" / "api").rglob("*.py")),
    ROOT / "network" / "api.py",
    *sorted((ROOT / "controlplane" / "cli").rglob("*.py")),
]
STORE = [
    *sorted((ROOT / "controlplane" / "services").glob("*.py")),
    *sorted(p for p in (ROOT / "network").glob("*.py") if p.name != "api.py"),
]

# Committing helpers, each documented in controlplane/db.py with its reason.
EXCEPTIONS = {"controlplane/services/agent_state.py:_refuse_unordered_deletions"}

_TRANSACTION_ENDS = {"commit", "rollback"}


def _functions(path: Path) -> Iterator[ast.FunctionDef]:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.FunctionDef):
            yield node


def _calls(node: ast.AST) -> Iterator[str]:
    """Names called in `node`: `f(...)` gives f, `x.f(...)` gives f."""
    for call in ast.walk(node):
        if isinstance(call, ast.Call):
            if isinstance(call.func, ast.Name):
                yield call.func.id
            elif isinstance(call.func, ast.Attribute):
                yield call.func.attr


def _session_commits(fn: ast.FunctionDef) -> bool:
    """`session.commit()` in the function's own body (a savepoint's rollback is not a commit)."""
    return any(
        isinstance(c, ast.Call)
        and isinstance(c.func, ast.Attribute)
        and c.func.attr == "commit"
        and isinstance(c.func.value, ast.Name)
        and c.func.value.id == "session"
        for c in ast.walk(fn)
    )


def _where(path: Path, fn: ast.FunctionDef) -> str:
    return f"{path.relative_to(ROOT)}:{fn.name}"


def _committers() -> dict[str, str]:
    """Function name -> where, for every store function that commits."""
    return {fn.name: _where(path, fn) for path in STORE for fn in _functions(path) if _session_commits(fn)}


def test_routes_and_cli_commands_never_commit() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{fn.name} calls {name}()"
        for path in ENTRY_POINTS
        for fn in _functions(path)
        for name in _calls(fn)
        if name in _TRANSACTION_ENDS | {"session_scope"}
    ]
    assert offenders == []


def test_only_public_use_cases_commit() -> None:
    helpers = sorted(
        where
        for where in _committers().values()
        if where.rsplit(":", 1)[1].startswith("_") and where not in EXCEPTIONS
    )
    assert helpers == []


def test_no_store_function_calls_a_use_case_that_commits() -> None:
    committers = _committers()
    nested = sorted(
        f"{_where(path, fn)} calls {committers[name]}"
        for path in STORE
        for fn in _functions(path)
        for name in set(_calls(fn))
        if name in committers and name != fn.name and committers[name] not in EXCEPTIONS
    )
    assert nested == []
