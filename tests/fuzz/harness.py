"""Drives schemathesis through every operation of the OpenAPI as one role and collects what breaks.

Each operation runs against its own copy of the seeded store (what one operation deletes or revokes
cannot starve the next), in process through schemathesis' ASGI transport. Failures are collected, not
raised inside Hypothesis: one run lists every broken operation at once, without minutes of shrinking.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet
from schemathesis.core.failures import FailureGroup
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fuzz.world import RealIds

# Examples per operation, per generation mode. CI's default keeps the whole group to a few minutes;
# `DCLOUD_FUZZ_EXAMPLES=200` is a deep run.
EXAMPLES = int(os.environ.get("DCLOUD_FUZZ_EXAMPLES", "5"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
_SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    # Reproducible in CI: the same requests every run. A deep run may set DCLOUD_FUZZ_RANDOM=1.
    derandomize=os.environ.get("DCLOUD_FUZZ_RANDOM") != "1",
    suppress_health_check=list(HealthCheck),
    phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
)


@dataclass
class Finding:
    operation: str
    status: int
    check: str
    request: str


@dataclass
class Report:
    requests: int = 0
    findings: list[Finding] = field(default_factory=list)

    def by_kind(self) -> Counter[str]:
        return Counter(f"{f.check} {f.status} {f.operation}" for f in self.findings)

    def summary(self) -> str:
        lines = [f"{count:4} x {kind}" for kind, count in sorted(self.by_kind().items())]
        firsts: dict[str, Finding] = {}
        for finding in self.findings:
            firsts.setdefault(f"{finding.check} {finding.operation}", finding)
        examples = [f"  e.g. {f.request} -> {f.status} ({f.check})" for f in firsts.values()]
        return "\n".join([f"{len(self.findings)} failures in {self.requests} requests:", *lines, *examples])


AppFactory = Callable[[], AbstractContextManager[FastAPI]]


def load_schema(app: FastAPI) -> Any:
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def operations(schema: Any) -> Iterator[Any]:
    for result in schema.get_all_operations():
        yield result.ok()


def _case_strategy(operation: Any, real: RealIds) -> st.SearchStrategy[Any]:
    """Valid requests with ids from the declared ranges, valid requests naming seeded rows, and
    invalid requests (every kind of wrong value the schema rules out)."""
    modes = schemathesis.GenerationMode
    strategies = [operation.as_strategy(), operation.as_strategy(generation_mode=modes.NEGATIVE)]
    names = [p.name for p in operation.path_parameters]
    if names and all(name in real.values for name in names):
        seeded = st.fixed_dictionaries({name: st.sampled_from(real.values[name]) for name in names})
        strategies.append(seeded.flatmap(lambda path: operation.as_strategy(path_parameters=path)))
    return st.one_of(strategies)


def _describe(case: Any) -> str:
    query = f"?{case.query}" if case.query else ""
    body = "" if isinstance(case.body, NotSet) else f" body={case.body!r}"[:300]
    return f"{case.method} {case.formatted_path}{query}{body}"


def fuzz_operation(operation: Any, app: FastAPI, token: str, real: RealIds, report: Report) -> None:
    headers = {"Authorization": f"Bearer {token}"}

    @_SETTINGS
    @hypothesis.given(case=_case_strategy(operation, real))
    def run(case: Any) -> None:
        report.requests += 1
        try:
            response = case.call(app=app, headers=headers)
        except Exception as error:  # the app raised past its handlers: a 500 to a real client
            check = f"ServerError {type(error).__name__}: {str(error).splitlines()[0][:120]}"
            report.findings.append(Finding(operation.label, 500, check, _describe(case)))
            return
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as group:
            for failure in group.exceptions:
                name = type(failure).__name__
                report.findings.append(Finding(operation.label, response.status_code, name, _describe(case)))
        except AssertionError as error:  # a check that reports by assertion
            report.findings.append(Finding(operation.label, response.status_code, str(error)[:80], ""))

    try:
        run()
    finally:
        shutdown_lifespans()


def fuzz_role(schema: Any, app_for: AppFactory, token: str, real: RealIds) -> Report:
    report = Report()
    for operation in operations(schema):
        with app_for() as app:
            fuzz_operation(operation, app, token, real, report)
    return report
