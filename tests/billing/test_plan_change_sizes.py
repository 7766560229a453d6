"""A plan change's server size reaches the servers on its effective date (Art. 32(2), Asia/Seoul): at once
when that day has come, else by the daily `plan-changes` job, which re-checks what it acts on."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from controlplane.cli import main
from controlplane.clock import FixedClock
from controlplane.db import session_scope
from controlplane.models import Contract, Server
from controlplane.models.billing import FeePeriod
from controlplane.models.server import DesiredState
from controlplane.services.contracts import plan_changes
from scheduler.registry import REGISTRY, JobContext, load_job_modules
from tests.utils.api import Api, make_api
from tests.utils.factories import make_contract, make_customer

DOWNSIZE = {"vcpus": 2, "memory_mib": 2048}
# Seoul is UTC+9: 15:05 UTC on 31 March is 00:05 on 1 April in Seoul, when the job fires.
EVE_OF_APRIL = datetime(2027, 3, 31, 14, 59, tzinfo=UTC)  # 23:59 on 31 March, Seoul
APRIL_FIRST = datetime(2027, 3, 31, 15, 5, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def api(request: pytest.FixtureRequest) -> Api:
    engine: Engine = request.getfixturevalue("sqlite_engine" if request.param == "sqlite" else "pg_engine")
    harness = make_api(engine)  # the clock says 2027-03-02 (Seoul)
    harness.add_host("hv1")
    return harness


@pytest.fixture
def contract_id(api: Api) -> int:
    with session_scope(api.engine) as session:
        contract = make_contract(session, make_customer(session))
        assert contract.id is not None
        return contract.id


def _server(api: Api, contract_id: int, name: str = "web") -> str:
    made = api.add_server(name, contract_id=contract_id, vcpus=4, memory_mib=4096, disk_gib=10)
    return str(made["id"])


def _change_plan(api: Api, contract_id: int, effective_from: str, size: dict[str, int]) -> dict[str, Any]:
    body = {"plan": "std-1", "effective_from": effective_from, "monthly_fee": 60_000, "server_size": size}
    response = api.call("POST", f"/v1/contracts/{contract_id}/plan-changes", role="billing", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def _size(api: Api, server_id: str) -> tuple[int, int, int]:
    desired = api.call("GET", f"/v1/hosts/hv1/servers/{server_id}/desired-state", role="agent:hv1").json()
    return desired["vcpus"], desired["memory_mib"], desired["disk_gib"]


def _run_job(api: Api, now: datetime) -> None:
    load_job_modules()
    spec = REGISTRY.get("plan-changes")
    assert spec is not None
    spec.func(JobContext(engine=api.engine, settings=api.settings, clock=FixedClock(now)))


def _delete(api: Api, server_id: str) -> None:
    with session_scope(api.engine) as session:
        row = session.get(Server, server_id)
        assert row is not None
        row.desired_state, row.deleted_at = DesiredState.DELETED, datetime(2027, 4, 2, tzinfo=UTC)


def _audit(api: Api, server_id: str) -> list[dict[str, Any]]:
    path = f"/v1/audit?entity_type=server&entity_id={server_id}"
    events: list[dict[str, Any]] = api.call("GET", path, role="auditor").json()
    return [e for e in events if e["action"].startswith("resize")]


def test_a_future_dated_downsize_keeps_the_old_size_until_its_day(api: Api, contract_id: int) -> None:
    server = _server(api, contract_id)
    _change_plan(api, contract_id, "2027-04-01", DOWNSIZE)
    _run_job(api, EVE_OF_APRIL)
    assert _size(api, server) == (4, 4096, 10)
    assert _audit(api, server) == []


def test_a_future_dated_downsize_applies_on_its_seoul_day(api: Api, contract_id: int) -> None:
    server = _server(api, contract_id)
    _change_plan(api, contract_id, "2027-04-01", DOWNSIZE)
    _run_job(api, APRIL_FIRST)
    assert _size(api, server) == (2, 2048, 10)
    (event,) = _audit(api, server)
    assert (event["actor"], event["clause"]) == ("system:plan-changes", "Art. 32(2)")


def test_a_change_dated_today_in_seoul_resizes_at_once(api: Api, contract_id: int) -> None:
    server = _server(api, contract_id)
    api.clock.now = APRIL_FIRST  # still 31 March in UTC
    _change_plan(api, contract_id, "2027-04-01", DOWNSIZE)
    assert _size(api, server) == (2, 2048, 10)


def test_rerunning_the_job_on_the_same_day_does_nothing_more(api: Api, contract_id: int) -> None:
    server = _server(api, contract_id)
    _change_plan(api, contract_id, "2027-04-01", DOWNSIZE)
    _run_job(api, APRIL_FIRST)
    with Session(api.engine) as session:
        generation = session.get(Server, server).generation  # type: ignore[union-attr]
    _run_job(api, APRIL_FIRST.replace(hour=20))
    with Session(api.engine) as session:
        assert session.get(Server, server).generation == generation  # type: ignore[union-attr]
    assert len(_audit(api, server)) == 1


def test_a_missed_day_is_caught_up_on_the_next_run(api: Api, contract_id: int) -> None:
    server = _server(api, contract_id)
    _change_plan(api, contract_id, "2027-04-01", DOWNSIZE)
    _run_job(api, datetime(2027, 4, 3, 1, tzinfo=UTC))
    assert _size(api, server) == (2, 2048, 10)


def test_a_server_deleted_before_the_day_is_skipped(api: Api, contract_id: int) -> None:
    kept, gone = _server(api, contract_id, "web"), _server(api, contract_id, "db")
    _change_plan(api, contract_id, "2027-04-01", DOWNSIZE)
    with session_scope(api.engine) as session:
        server = session.get(Server, gone)
        assert server is not None
        server.desired_state, server.deleted_at = DesiredState.DELETED, datetime(2027, 3, 20, tzinfo=UTC)
    _run_job(api, APRIL_FIRST)
    assert _size(api, kept) == (2, 2048, 10)
    with Session(api.engine) as session:
        deleted = session.get(Server, gone)
        assert deleted is not None and (deleted.vcpus, deleted.memory_mib) == (4, 4096)
    assert _audit(api, gone) == []


def test_a_contract_that_left_service_before_the_day_keeps_its_servers_size(
    api: Api, contract_id: int
) -> None:
    server = _server(api, contract_id)
    _change_plan(api, contract_id, "2027-04-01", DOWNSIZE)
    with session_scope(api.engine) as session:
        contract = session.get(Contract, contract_id)
        assert contract is not None
        contract.state = "terminating"
    _run_job(api, APRIL_FIRST)
    assert _size(api, server) == (4, 4096, 10)
    events = api.call("GET", f"/v1/audit?entity_type=contract&entity_id={contract_id}", role="auditor").json()
    assert [e["clause"] for e in events if e["action"] == "plan_size_skipped"] == ["Art. 32(2)"]


def test_an_upsize_that_no_longer_fits_on_its_day_is_left_and_audited(api: Api, contract_id: int) -> None:
    server = _server(api, contract_id)
    _change_plan(api, contract_id, "2027-04-01", {"memory_mib": 8192})
    api.add_server("filler", memory_mib=65536 - 4096 - 1024)  # the host (64 GiB) has 1 GiB left
    _run_job(api, APRIL_FIRST)
    assert _size(api, server) == (4, 4096, 10)
    (event,) = _audit(api, server)
    assert (event["action"], event["clause"]) == ("resize_failed", "Art. 32(2)")
    _run_job(api, APRIL_FIRST.replace(hour=20))  # still waiting: retried, not audited again
    assert len(_audit(api, server)) == 1


def test_an_upsize_left_for_a_full_host_applies_once_the_host_has_room(api: Api, contract_id: int) -> None:
    server = _server(api, contract_id)
    _change_plan(api, contract_id, "2027-04-01", {"memory_mib": 8192})
    filler = str(api.add_server("filler", memory_mib=65536 - 4096 - 1024)["id"])
    _run_job(api, APRIL_FIRST)
    _run_job(api, datetime(2027, 4, 2, 1, tzinfo=UTC))
    assert _size(api, server) == (4, 4096, 10)
    _delete(api, filler)
    _run_job(api, datetime(2027, 4, 3, 1, tzinfo=UTC))
    assert _size(api, server) == (4, 8192, 10)
    assert sorted(e["action"] for e in _audit(api, server)) == ["resize", "resize_failed"]


def test_a_disk_grown_past_the_plan_is_refused_for_good(api: Api, contract_id: int) -> None:
    server = _server(api, contract_id)
    _change_plan(api, contract_id, "2027-04-01", {"disk_gib": 20})
    with session_scope(api.engine) as session:
        row = session.get(Server, server)
        assert row is not None
        row.disk_gib = 30  # grown by an operator after the change was recorded
    _run_job(api, APRIL_FIRST)
    _run_job(api, datetime(2027, 4, 2, 1, tzinfo=UTC))
    assert [e["action"] for e in _audit(api, server)] == ["resize_failed"]
    with Session(api.engine) as session:
        (period,) = session.exec(select(FeePeriod).where(FeePeriod.effective_from == date(2027, 4, 1))).all()
        assert period.server_size_settled_at is not None


def test_an_unexpected_error_on_one_contract_stops_no_other(
    api: Api, contract_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = _server(api, contract_id)
    with session_scope(api.engine) as session:
        other = make_contract(session, make_customer(session))
        other_id = other.id or 0
    fine = _server(api, other_id, "other")
    _change_plan(api, contract_id, "2027-04-01", DOWNSIZE)
    _change_plan(api, other_id, "2027-04-01", DOWNSIZE)
    real = plan_changes.resize_for_plan

    def resize(session: Session, *, server: Server, **kwargs: Any) -> bool:
        if server.id == broken:
            raise RuntimeError("the database went away")
        return real(session, server=server, **kwargs)

    monkeypatch.setattr(plan_changes, "resize_for_plan", resize)
    _run_job(api, APRIL_FIRST)
    assert (_size(api, broken), _size(api, fine)) == ((4, 4096, 10), (2, 2048, 10))
    monkeypatch.setattr(plan_changes, "resize_for_plan", real)
    _run_job(api, datetime(2027, 4, 2, 1, tzinfo=UTC))  # left waiting: the next run applies it
    assert _size(api, broken) == (2, 2048, 10)


def _contract_actions(api: Api, contract_id: int, action: str) -> list[dict[str, Any]]:
    events = api.call("GET", f"/v1/audit?entity_type=contract&entity_id={contract_id}", role="auditor").json()
    return [e for e in events if e["action"] == action]


def test_a_change_recorded_late_never_lands_on_a_later_plan_in_force(api: Api, contract_id: int) -> None:
    server = _server(api, contract_id)
    _change_plan(api, contract_id, "2027-04-10", {"vcpus": 3})
    _run_job(api, datetime(2027, 4, 10, 1, tzinfo=UTC))
    assert _size(api, server) == (3, 4096, 10)
    api.clock.now = datetime(2027, 4, 15, 1, tzinfo=UTC)
    _change_plan(api, contract_id, "2027-04-05", {"vcpus": 2})  # dated before the plan in force
    assert _size(api, server) == (3, 4096, 10)
    _run_job(api, datetime(2027, 4, 16, 1, tzinfo=UTC))
    assert _size(api, server) == (3, 4096, 10)
    (event,) = _contract_actions(api, contract_id, "plan_size_superseded")
    assert (event["clause"], event["after"]["effective_from"], event["after"]["superseded_by"]) == (
        "Art. 32(2)",
        "2027-04-05",
        "2027-04-10",
    )


def test_a_change_applied_at_once_supersedes_an_earlier_one_still_waiting(api: Api, contract_id: int) -> None:
    server = _server(api, contract_id)
    _change_plan(api, contract_id, "2027-04-01", {"vcpus": 2})  # due, but the job has not run yet
    api.clock.now = datetime(2027, 4, 3, 1, tzinfo=UTC)
    _change_plan(api, contract_id, "2027-04-03", {"vcpus": 3})
    assert _size(api, server) == (3, 4096, 10)
    _run_job(api, datetime(2027, 4, 3, 2, tzinfo=UTC))
    assert _size(api, server) == (3, 4096, 10)
    (event,) = _contract_actions(api, contract_id, "plan_size_superseded")
    assert (event["after"]["effective_from"], event["after"]["superseded_by"]) == ("2027-04-01", "2027-04-03")


def test_the_job_applies_only_the_latest_of_several_due_changes(api: Api, contract_id: int) -> None:
    server = _server(api, contract_id)
    _change_plan(api, contract_id, "2027-04-01", {"vcpus": 2})
    _change_plan(api, contract_id, "2027-04-02", {"vcpus": 3})
    _run_job(api, datetime(2027, 4, 3, 1, tzinfo=UTC))  # both missed
    assert _size(api, server) == (3, 4096, 10)
    assert [e["after"]["vcpus"] for e in _audit(api, server)] == [3]
    assert len(_contract_actions(api, contract_id, "plan_size_superseded")) == 1


def test_a_future_change_is_checked_against_the_size_the_change_before_it_gives(
    api: Api, contract_id: int
) -> None:
    _server(api, contract_id)
    _change_plan(api, contract_id, "2027-04-01", {"disk_gib": 20})
    body = {"effective_from": "2027-05-01", "monthly_fee": 60_000, "server_size": {"disk_gib": 15}}
    response = api.call("POST", f"/v1/contracts/{contract_id}/plan-changes", role="billing", json=body)
    assert response.status_code == 409, response.text
    assert "20 GiB the plan change before it" in response.json()["detail"]


def test_a_future_dated_upsize_that_does_not_fit_today_is_refused_and_nothing_written(
    api: Api, contract_id: int
) -> None:
    _server(api, contract_id)
    body = {"effective_from": "2027-04-01", "monthly_fee": 60_000, "server_size": {"memory_mib": 131072}}
    response = api.call("POST", f"/v1/contracts/{contract_id}/plan-changes", role="billing", json=body)
    assert response.status_code == 409
    with Session(api.engine) as session:
        assert session.exec(select(FeePeriod)).all() == []


def test_the_contract_shows_its_pending_plan_change_until_its_day(api: Api, contract_id: int) -> None:
    _server(api, contract_id)
    shown = _change_plan(api, contract_id, "2027-04-01", DOWNSIZE)
    (pending,) = shown["pending_plan_changes"]
    assert pending == {
        "effective_from": "2027-04-01",
        "monthly_fee": 60_000,
        "discount": 0,
        "server_size": {"vcpus": 2, "memory_mib": 2048, "disk_gib": None},
    }
    assert api.call("GET", f"/v1/contracts/{contract_id}").json()["pending_plan_changes"] == [pending]
    _run_job(api, APRIL_FIRST)
    api.clock.now = APRIL_FIRST
    assert api.call("GET", f"/v1/contracts/{contract_id}").json()["pending_plan_changes"] == []


def test_dcloud_jobs_run_plan_changes_as_of_the_day_resizes(
    api: Api,
    contract_id: int,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    server = _server(api, contract_id)
    _change_plan(api, contract_id, "2027-04-01", DOWNSIZE)
    monkeypatch.setenv("DCLOUD_DATABASE_URL", str(api.engine.url))
    monkeypatch.chdir(tmp_path)
    assert main(["jobs", "run", "plan-changes", "--as-of", "2027-04-01"]) == 0
    assert json.loads(capsys.readouterr().out)["outcome"] == "succeeded"
    assert _size(api, server) == (2, 2048, 10)
