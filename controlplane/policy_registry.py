"""Which policy (terms version) applies: the current one for new contracts, the pinned one afterwards.

The registry holds the built-in DEFAULT_POLICY plus the deployment's versions from DCLOUD_POLICY_FILE
(a JSON list of `Policy.to_dict()`-shaped objects; missing numbers keep DEFAULT_POLICY's). It is loaded
once at startup (`configure_policies`); a bad file fails startup naming the version and the field.

A contract is pinned to its version for good (Art. 3(4)). `policy_for` never falls back to another
version: an unknown pin raises `UnknownPolicyVersion`, and each caller fails that contract's action
loudly instead of deciding it with numbers the customer never agreed to.

The registry sits below the services (beside config): services and the network module both read it,
and it imports nothing but the terms and the error hierarchy.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

from controlplane.errors import Conflict, NotFound
from controlplane.terms.deadlines import check_announcement
from controlplane.terms.errors import PolicyInvalid, TermsError
from controlplane.terms.policy import DEFAULT_POLICY, Policy

log = logging.getLogger(__name__)


class UnknownPolicyVersion(TermsError):
    """A contract pinned to a version this deployment does not define (a TermsError, so bulk runs that
    skip a contract on TermsError count it as failed)."""

    def __init__(self, version: str) -> None:
        super().__init__(
            f"terms version {version!r} is not defined in this deployment (DCLOUD_POLICY_FILE); "
            "no decision is taken with another version's numbers",
            field="terms_version",
        )
        self.version = version


class PolicyFileInvalid(TermsError):
    """DCLOUD_POLICY_FILE cannot be used; the message names the file, the version and the field."""


# Deployment versions win a tie on effective_from against the built-in default (overriding from day one).
_BUILTIN: dict[str, Policy] = {DEFAULT_POLICY.version: DEFAULT_POLICY}
_lock = threading.Lock()
_policies: dict[str, Policy] = dict(_BUILTIN)
_from_file: set[str] = set()
_loaded_path: str | None = None


def _order(policy: Policy) -> tuple[date, bool]:
    return policy.effective_from, policy.version in _from_file


def current_policy(as_of: date | None = None) -> Policy:
    """The version new applications are pinned to: the latest effective on `as_of` (any, if None)."""
    candidates = [p for p in _policies.values() if as_of is None or p.effective_from <= as_of]
    if not candidates:  # every version starts later: the earliest one is the first that will apply
        return min(_policies.values(), key=_order)
    return max(candidates, key=_order)


def policy_for(version: str) -> Policy:
    """The policy a contract is pinned to; an unknown version raises UnknownPolicyVersion."""
    found = _policies.get(version)
    if found is None:
        raise UnknownPolicyVersion(version)
    return found


def pinned_policy(version: str) -> Policy:
    """`policy_for` for request paths: an unknown pin is a 409 naming `terms_version`."""
    try:
        return policy_for(version)
    except UnknownPolicyVersion as exc:
        log.error("refused: %s", exc.message)
        raise Conflict(exc.message, field="terms_version") from exc


def policy_or_not_found(version: str) -> Policy:
    """`policy_for` for look-ups by name (API, CLI): an unknown version is a 404 naming `version`."""
    found = _policies.get(version)
    if found is None:
        raise NotFound(f"no terms policy version {version!r}", field="version")
    return found


def is_builtin(policy: Policy) -> bool:
    """True for the code's default, False for a version from DCLOUD_POLICY_FILE (even one redefining it)."""
    return policy.version not in _from_file


def known_policies() -> list[Policy]:
    """Every registered version, oldest effective first."""
    return sorted(_policies.values(), key=_order)


class PolicyLookup:
    """Per-run cache for bulk paths: one registry look-up per version, an unknown version remembered."""

    def __init__(self) -> None:
        self._found: dict[str, Policy | UnknownPolicyVersion] = {}

    def get(self, version: str) -> Policy:
        hit = self._found.get(version)
        if hit is None:
            try:
                hit = policy_for(version)
            except UnknownPolicyVersion as exc:
                hit = exc
            self._found[version] = hit
        if isinstance(hit, UnknownPolicyVersion):
            raise hit
        return hit


def parse_policies(raw: Any, *, source: str = "policy file") -> list[Policy]:
    """Validated policies from a decoded JSON list; partial objects override DEFAULT_POLICY's numbers."""
    if not isinstance(raw, list):
        raise PolicyFileInvalid(f"{source}: expected a JSON list of policy versions", field="policies")
    parsed: list[Policy] = []
    for index, entry in enumerate(raw):
        parsed.append(_parse_entry(entry, index, source))
    _check_unique(parsed, source)
    _check_announcements(parsed, source)
    return parsed


def _check_announcements(parsed: list[Policy], source: str) -> None:
    """Art. 3(2): each announced version gave the notice the version before it promised."""
    for policy in parsed:
        earlier = [p for p in (*parsed, DEFAULT_POLICY) if p.effective_from < policy.effective_from]
        in_force = max(earlier, key=lambda p: p.effective_from, default=DEFAULT_POLICY)
        try:
            check_announcement(policy, in_force)
        except PolicyInvalid as exc:
            raise PolicyFileInvalid(
                f"{source}: version {policy.version!r}: {exc.message}", field=exc.field
            ) from exc


def _parse_entry(entry: Any, index: int, source: str) -> Policy:
    where = f"{source}: entry {index}"
    if not isinstance(entry, dict):
        raise PolicyFileInvalid(f"{where}: expected an object", field="policies")
    version = entry.get("version")
    if version is not None:
        where = f"{source}: version {version!r}"
    for required in ("version", "effective_from"):
        if required not in entry:
            raise PolicyFileInvalid(f"{where}: every version needs {required!r}", field=required)
    try:
        return Policy.from_dict(entry)
    except PolicyInvalid as exc:
        raise PolicyFileInvalid(f"{where}: {exc.message}", field=exc.field) from exc


def _check_unique(parsed: list[Policy], source: str) -> None:
    seen: dict[str, Policy] = {}
    days: dict[date, str] = {}
    for policy in parsed:
        if policy.version in seen:
            raise PolicyFileInvalid(f"{source}: version {policy.version!r} is defined twice", field="version")
        if policy.effective_from in days:
            # Two versions effective the same day would make "current" depend on file order.
            raise PolicyFileInvalid(
                f"{source}: version {policy.version!r} is effective on {policy.effective_from} like "
                f"version {days[policy.effective_from]!r}",
                field="effective_from",
            )
        seen[policy.version] = policy
        days[policy.effective_from] = policy.version


def load_policy_file(path: str | Path) -> list[Policy]:
    """Reads and validates a policy file (nothing is registered)."""
    source = f"policy file {path}"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        why = exc.strerror or str(exc)
        raise PolicyFileInvalid(f"{source}: cannot read it: {why}", field="policy_file") from exc
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PolicyFileInvalid(f"{source}: malformed JSON: {exc}", field="policy_file") from exc
    return parse_policies(raw, source=source)


def register_policies(policies: Iterable[Policy]) -> None:
    """Replaces the deployment's versions (the built-in default stays unless a version redefines it)."""
    global _policies, _from_file
    fresh = dict(_BUILTIN)
    names: set[str] = set()
    for policy in policies:
        if policy.version in _BUILTIN:
            log.warning("policy file redefines built-in terms version %s", policy.version)
        fresh[policy.version] = policy
        names.add(policy.version)
    with _lock:
        _policies, _from_file = fresh, names


def configure_policies(policy_file: str | None) -> list[Policy]:
    """Startup: loads DCLOUD_POLICY_FILE once; a repeat with the same path, or None, keeps what is
    registered (a process starts with the built-in default only)."""
    global _loaded_path
    if policy_file is None or policy_file == _loaded_path:
        return known_policies()
    policies = load_policy_file(policy_file)
    register_policies(policies)
    _loaded_path = policy_file
    versions = ", ".join(f"{p.version} from {p.effective_from}" for p in known_policies())
    log.info("terms policies: %s", versions)
    return known_policies()


def reset_policies() -> None:
    """Back to the built-in default only (tests, and a deployment without a policy file)."""
    global _loaded_path
    register_policies(())
    _loaded_path = None
