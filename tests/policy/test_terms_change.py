"""Terms-version changes (Art. 3(2)-(4)): announced versions are validated and noticed once, silence
is consent at renewal, an objector who never accepts is not renewed, one who accepts renews onto it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from controlplane.db import session_scope
from controlplane.errors import InvalidInput
from controlplane.models import AuditEvent, Contract, Notice, Server, Termination
from controlplane.models.terms_response import TermsResponse
from controlplane.policy_registry import PolicyFileInvalid, load_policy_file, register_policies
from controlplane.services.contracts.renewal import renew_contracts
from controlplane.services.contracts.terms_changes import (
    accept_version,
    announce_terms_changes,
    object_to_version,
)
from controlplane.terms.policy import Policy
from tests.utils.api import Api, make_api
from tests.utils.factories import make_world, noon
from tests.utils.policies import DEFAULT_VERSION, write_policy_file
from tests.utils.terminations import deliver_notices_now

NEW = Policy(
    version="2028-01",
    effective_from=date(2028, 1, 1),
    announced_on=date(2027, 11, 15),
    unfavourable=True,
    restrict_after_overdue_days=20,
)
RENEWAL_DAY = date(2028, 1, 1)  # the day after the contracts' term ends (2027-12-31)


@pytest.fixture
def announced() -> None:
    register_policies([NEW])


def _contract(engine: Engine, version: str = DEFAULT_VERSION) -> int:
    with session_scope(engine) as session:
        return make_world(session, servers=1, terms_version=version)[0].id or 0


def _object(engine: Engine, contract_id: int, on: date) -> None:
    with Session(engine, expire_on_commit=False) as session:
        object_to_version(session, contract_id=contract_id, version=NEW.version, now=noon(on), actor="test")


def _accept(engine: Engine, contract_id: int, on: date) -> None:
    with Session(engine, expire_on_commit=False) as session:
        accept_version(session, contract_id=contract_id, version=NEW.version, now=noon(on), actor="test")


def _contract_row(engine: Engine, contract_id: int) -> Contract:
    with Session(engine) as session:
        contract = session.get(Contract, contract_id)
        assert contract is not None
        return contract


# --- the policy file -------------------------------------------------------------------------------------


def _entry(announced_on: str, unfavourable: bool) -> dict[str, object]:
    return {
        "version": "2028-01",
        "effective_from": "2028-01-01",
        "announced_on": announced_on,
        "unfavourable": unfavourable,
    }


def test_policy_file_rejects_a_version_announced_six_days_ahead(tmp_path: Path) -> None:
    path = write_policy_file(tmp_path / "p.json", [_entry("2027-12-26", False)])
    with pytest.raises(PolicyFileInvalid) as err:
        load_policy_file(path)
    assert err.value.field == "announced_on" and "'2028-01'" in err.value.message
    ok = write_policy_file(tmp_path / "ok.json", [_entry("2027-12-25", False)])
    assert load_policy_file(ok)[0].announced_on == date(2027, 12, 25)


def test_policy_file_needs_thirty_days_for_an_unfavourable_version(tmp_path: Path) -> None:
    late = write_policy_file(tmp_path / "late.json", [_entry("2027-12-03", True)])
    with pytest.raises(PolicyFileInvalid) as err:
        load_policy_file(late)
    assert err.value.field == "announced_on" and "2027-12-02" in err.value.message
    assert load_policy_file(write_policy_file(tmp_path / "ok.json", [_entry("2027-12-02", True)]))


# --- objections and acceptances ---------------------------------------------------------------------------


def test_objection_is_accepted_through_the_effective_date_plus_6(engine: Engine, announced: None) -> None:
    # Art. 3(3): the 7 days counting the effective date itself are E .. E+6.
    contract_id = _contract(engine)
    _object(engine, contract_id, NEW.effective_from + timedelta(days=6))
    with Session(engine) as session:
        response = session.exec(select(TermsResponse).where(TermsResponse.contract_id == contract_id)).one()
        assert response.objected_at is not None


def test_objection_on_the_effective_date_plus_7_is_refused_naming_version(
    engine: Engine, announced: None
) -> None:
    contract_id = _contract(engine)
    with pytest.raises(InvalidInput) as err:
        _object(engine, contract_id, NEW.effective_from + timedelta(days=7))
    assert err.value.field == "version"


@pytest.fixture
def api(engine: Engine) -> Iterator[Api]:
    yield make_api(engine)


def test_objection_and_acceptance_over_http(api: Api, announced: None) -> None:
    contract_id = _contract(api.engine)
    path = f"/v1/contracts/{contract_id}/terms-objections"
    assert api.call("POST", path, role="auditor", json={"version": NEW.version}).status_code == 403
    objected = api.call("POST", path, role="billing", json={"version": NEW.version})
    assert objected.status_code == 200, objected.text
    assert objected.json()["objected_at"] is not None and objected.json()["accepted_at"] is None
    accepted = api.call(
        "POST",
        f"/v1/contracts/{contract_id}/terms-acceptances",
        role="operator",
        json={"version": NEW.version},
    )
    assert accepted.status_code == 200 and accepted.json()["accepted_at"] is not None
    api.clock.advance(days=317)  # 2028-01-08 = E+7 for E = 2028-01-01: deemed consent, too late to object
    late = api.call("POST", path, role="billing", json={"version": NEW.version})
    assert late.status_code == 422 and late.json()["field"] == "version", late.text


# --- renewal ----------------------------------------------------------------------------------------------


def test_renewal_moves_a_silent_customer_to_the_new_version(engine: Engine, announced: None) -> None:
    contract_id = _contract(engine)
    report = renew_contracts(engine, as_of=RENEWAL_DAY, now=noon(RENEWAL_DAY))
    assert report.renewed == [contract_id]
    contract = _contract_row(engine, contract_id)
    assert (contract.terms_version, contract.term_end) == (NEW.version, date(2028, 12, 31))
    with Session(engine) as session:
        change = session.exec(select(AuditEvent).where(AuditEvent.action == "terms_version")).one()
        notices = session.exec(select(Notice).where(Notice.kind == "terms_version")).all()
    assert change.clause == "Art. 3(3)" and NEW.version in str(change.after)
    assert [n.clause for n in notices] == ["Art. 3(3)"]


def test_objector_who_never_accepts_is_not_renewed_and_the_contract_ends(
    engine: Engine, announced: None
) -> None:
    contract_id = _contract(engine)
    _object(engine, contract_id, date(2027, 12, 1))
    report = renew_contracts(engine, as_of=RENEWAL_DAY, now=noon(RENEWAL_DAY))
    assert (report.renewed, report.ended) == ([], [contract_id])
    contract = _contract_row(engine, contract_id)
    assert (contract.state, contract.terms_version) == ("terminating", DEFAULT_VERSION)
    with Session(engine) as session:
        termination = session.exec(select(Termination)).one()
        servers = session.exec(select(Server).where(Server.contract_id == contract_id)).all()
    assert (termination.kind, termination.clause) == ("terms_not_accepted", "Art. 3(4)")
    assert termination.effective_on == date(2027, 12, 31) and termination.started_at is not None
    assert termination.penalty == 0 and [s.desired_state for s in servers] == ["stopped"]
    deliver_notices_now(engine, noon(RENEWAL_DAY))  # the wipe order waits for the notice
    with Session(engine) as session:
        servers = session.exec(select(Server).where(Server.contract_id == contract_id)).all()
    assert [s.desired_state for s in servers] == ["deleted"]


def test_objector_who_accepts_renews_onto_the_new_version(engine: Engine, announced: None) -> None:
    contract_id = _contract(engine)
    _object(engine, contract_id, date(2027, 12, 1))
    _accept(engine, contract_id, date(2027, 12, 20))
    report = renew_contracts(engine, as_of=RENEWAL_DAY, now=noon(RENEWAL_DAY))
    assert report.renewed == [contract_id]
    assert _contract_row(engine, contract_id).terms_version == NEW.version
    with Session(engine) as session:
        assert session.exec(select(Termination)).all() == []


def test_objection_to_a_version_not_yet_in_force_at_renewal_does_not_end_the_contract(
    engine: Engine, announced: None
) -> None:
    contract_id = _contract(engine)
    with session_scope(engine) as session:  # the term ends a year before the objected version applies
        contract = session.get(Contract, contract_id)
        assert contract is not None
        contract.term_start, contract.term_end = date(2026, 1, 1), date(2026, 12, 31)
    _object(engine, contract_id, date(2026, 12, 1))
    report = renew_contracts(engine, as_of=date(2027, 1, 1), now=noon(date(2027, 1, 1)))
    assert report.renewed == [contract_id]
    assert _contract_row(engine, contract_id).terms_version == DEFAULT_VERSION


# --- announcement notices ---------------------------------------------------------------------------------


def _terms_notices(engine: Engine) -> list[Notice]:
    with Session(engine) as session:
        return list(session.exec(select(Notice).where(Notice.kind == "terms_change")).all())


def test_announced_version_is_noticed_once_to_contracts_on_an_older_version(
    engine: Engine, announced: None
) -> None:
    old = _contract(engine)
    _contract(engine, NEW.version)  # already on it: nothing to announce
    before = datetime(2027, 11, 14, 3, tzinfo=UTC)
    assert announce_terms_changes(engine, as_of=date(2027, 11, 14), now=before) == 0
    assert _terms_notices(engine) == []
    for _ in range(2):  # the daily job reruns; the dedupe key keeps it to one notice
        announce_terms_changes(engine, as_of=date(2027, 11, 15), now=noon(date(2027, 11, 15)))
    notices = _terms_notices(engine)
    assert [(n.contract_id, n.channel, n.clause) for n in notices] == [(old, "email", "Art. 3(3)")]
    assert "2028-01-01" in notices[0].body and "Art. 3(4)" in notices[0].body


def test_unannounced_override_is_not_noticed(engine: Engine) -> None:
    register_policies([NEW.replace(announced_on=None)])
    _contract(engine)
    assert announce_terms_changes(engine, as_of=date(2027, 12, 31), now=noon(date(2027, 12, 31))) == 0
    assert _terms_notices(engine) == []
