"""A customer token against every route of the app: its own resource, another customer's, a missing one.

RULES names every route the app serves (the first test fails when a route has no rule, so a new route
must say what a tenant may do with it). For each rule:
- `own`: the tenant's own resource answers one of `ok`; another customer's is a 404 whose body is the
  one a resource that does not exist gets (ids cannot be probed);
- `list`: 200 with only the tenant's own rows, and at least one of them;
- `forbidden`: 403 whatever the resource, the tenant's or another's;
- `shared`: no customer data (the terms versions), answered to every token;
- `public`: no token at all (RDAP, metrics).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.routing import APIRoute

from controlplane.terms.policy import DEFAULT_POLICY
from tests.utils.api import Api
from tests.utils.tenants import TenantWorld, make_tenant

Mine = Callable[[dict[str, Any], TenantWorld], bool]


@dataclass(frozen=True)
class Rule:
    kind: str
    ok: frozenset[int] = frozenset({200})
    body: dict[str, Any] | None = None
    query: str = ""
    mine: Mine | None = None
    # Which of the tenant's servers fills {server_id} (the deletion record is the wiped one's).
    server: str = "server_id"
    static: dict[str, str] = field(default_factory=dict)


def own(*ok: int, body: dict[str, Any] | None = None, query: str = "", server: str = "server_id") -> Rule:
    return Rule("own", frozenset(ok or {200}), body, query, server=server)


def listing(mine: Mine, query: str = "") -> Rule:
    return Rule("list", query=query, mine=mine)


FORBIDDEN = Rule("forbidden")
SHARED = Rule("shared")
PUBLIC = Rule("public")


def _by_contract(row: dict[str, Any], t: TenantWorld) -> bool:
    return bool(row["contract_id"] == t.contract_id)


def _by_customer(row: dict[str, Any], t: TenantWorld) -> bool:
    """A contract names its customer; a customer row is the customer."""
    return bool(row.get("customer_id", row.get("id")) == t.customer_id)


def _by_server(row: dict[str, Any], t: TenantWorld) -> bool:
    return row["id"] in (t.server_id, t.deleted_server_id)


DISPUTE = {"amount": 1000, "reason": "the plan line is wrong"}
TERMS = {"version": DEFAULT_POLICY.version}

RULES: dict[str, Rule] = {
    # customers
    "GET /v1/customers": listing(_by_customer),
    "POST /v1/customers": FORBIDDEN,
    "GET /v1/customers/{customer_id}": own(),
    "GET /v1/customers/{customer_id}/credit": own(),
    "POST /v1/customers/{customer_id}/refunds": FORBIDDEN,
    # contracts
    "GET /v1/contracts": listing(_by_customer),
    "POST /v1/contracts": FORBIDDEN,
    "GET /v1/contracts/{contract_id}": own(),
    "POST /v1/contracts/{contract_id}/hold": FORBIDDEN,
    "POST /v1/contracts/{contract_id}/approve": FORBIDDEN,
    "POST /v1/contracts/{contract_id}/activate": FORBIDDEN,
    "POST /v1/contracts/{contract_id}/plan-changes": FORBIDDEN,
    "POST /v1/contracts/{contract_id}/add-ons": FORBIDDEN,
    "GET /v1/contracts/{contract_id}/invoices": own(),
    "GET /v1/contracts/{contract_id}/invoices/preview": own(query="month=2027-02"),
    "POST /v1/contracts/{contract_id}/blocks": FORBIDDEN,
    "GET /v1/contracts/{contract_id}/blocks": own(),
    "POST /v1/blocks/{block_id}/lift": FORBIDDEN,
    "POST /v1/contracts/{contract_id}/terminations": FORBIDDEN,
    "GET /v1/terminations": listing(_by_contract),
    "GET /v1/terminations/{termination_id}": own(),
    "POST /v1/terminations/{termination_id}/confirm": FORBIDDEN,
    "POST /v1/terminations/{termination_id}/withdraw": FORBIDDEN,
    "GET /v1/contracts/{contract_id}/availability": own(query="month=2027-02"),
    "POST /v1/contracts/{contract_id}/availability-claims": FORBIDDEN,
    "POST /v1/contracts/{contract_id}/terms-objections": own(200, 409, 422, body=TERMS),
    "POST /v1/contracts/{contract_id}/terms-acceptances": own(200, 409, 422, body=TERMS),
    # servers
    "GET /v1/servers": listing(_by_server),
    "POST /v1/servers": FORBIDDEN,
    "GET /v1/servers/{server_id}": own(),
    "POST /v1/servers/{server_id}/start": own(),
    "POST /v1/servers/{server_id}/stop": own(),
    "POST /v1/servers/{server_id}/suspend": FORBIDDEN,
    "POST /v1/servers/{server_id}/resume": FORBIDDEN,
    "DELETE /v1/servers/{server_id}": FORBIDDEN,
    "GET /v1/servers/{server_id}/deletion-record": own(server="deleted_server_id"),
    "POST /v1/servers/{server_id}/console-tickets": own(201),
    "POST /v1/servers/{server_id}/reboot": own(),
    # a size change is a plan change (Art. 32(2)), which staff record
    "POST /v1/servers/{server_id}/resize": FORBIDDEN,
    "GET /v1/servers/{server_id}/console-sessions": own(),
    "POST /v1/servers/{server_id}/extra-addresses": FORBIDDEN,
    # invoices, disputes, payments
    "POST /v1/invoices/run": FORBIDDEN,
    "GET /v1/invoices/{invoice_id}": own(),
    "POST /v1/invoices/{invoice_id}/disputes": own(201, 409, 422, body=DISPUTE),
    "POST /v1/invoices/{invoice_id}/extension": FORBIDDEN,
    "GET /v1/disputes": listing(_by_contract),
    "POST /v1/disputes/{dispute_id}/answer": FORBIDDEN,
    "POST /v1/payments": FORBIDDEN,
    "GET /v1/payments/{payment_id}": own(),
    # availability
    "POST /v1/outages": FORBIDDEN,
    "PATCH /v1/outages/{outage_id}": FORBIDDEN,
    "GET /v1/outages": listing(_by_contract),
    # what a tenant may not touch at all
    # Maintenance windows are per host (Art. 10(8)); affected customers get the notice, not the window.
    "POST /v1/maintenance-windows": FORBIDDEN,
    "GET /v1/maintenance-windows": FORBIDDEN,
    "GET /v1/maintenance-windows/{window_id}": FORBIDDEN,
    "PATCH /v1/maintenance-windows/{window_id}": FORBIDDEN,
    "POST /v1/maintenance-windows/{window_id}/cancel": FORBIDDEN,
    "GET /v1/enforcement/plan": FORBIDDEN,
    "POST /v1/enforcement/apply": FORBIDDEN,
    "GET /v1/hosts": FORBIDDEN,
    "POST /v1/hosts": FORBIDDEN,
    "GET /v1/hosts/{host}": FORBIDDEN,
    "PATCH /v1/hosts/{host}": FORBIDDEN,
    "GET /v1/hosts/{host}/orphans": FORBIDDEN,
    "POST /v1/hosts/{host}/heartbeat": FORBIDDEN,
    "GET /v1/hosts/{host}/desired-state": FORBIDDEN,
    "GET /v1/hosts/{host}/desired-state/watch": FORBIDDEN,
    "GET /v1/hosts/{host}/console-sessions/watch": FORBIDDEN,
    "GET /v1/hosts/{host}/servers/{server_id}/desired-state": FORBIDDEN,
    "POST /v1/hosts/{host}/observed-state": FORBIDDEN,
    "GET /v1/tokens": FORBIDDEN,
    "POST /v1/tokens": FORBIDDEN,
    "DELETE /v1/tokens/{token_id}": FORBIDDEN,
    "GET /v1/audit": FORBIDDEN,
    "POST /v1/pools": FORBIDDEN,
    "GET /v1/pools": FORBIDDEN,
    "GET /v1/pools/{pool_id}/utilisation": FORBIDDEN,
    "GET /v1/addresses/export.csv": FORBIDDEN,
    "GET /v1/addresses/{ip}/history": FORBIDDEN,
    "POST /v1/disclosures": FORBIDDEN,
    "GET /v1/disclosures": FORBIDDEN,
    "POST /v1/usage-requests": FORBIDDEN,
    "POST /v1/usage-requests/{request_id}/response": FORBIDDEN,
    "GET /v1/usage-requests": FORBIDDEN,
    # The terms workflows (firewall, successions, fee increases, spam): staff only for now. The customer's
    # own answers (postpone, fee-increase answer, fix report, firewall) are candidates for a tenant rule.
    "DELETE /v1/contracts/{contract_id}/firewall": FORBIDDEN,
    "GET /v1/contracts/{contract_id}/address-agreements": FORBIDDEN,
    "GET /v1/contracts/{contract_id}/firewall": FORBIDDEN,
    "GET /v1/contracts/{contract_id}/successions": FORBIDDEN,
    "GET /v1/fee-increases": FORBIDDEN,
    "GET /v1/spam-complaints": FORBIDDEN,
    "GET /v1/spam-complaints/{complaint_id}": FORBIDDEN,
    "POST /v1/contracts/{contract_id}/address-agreements": FORBIDDEN,
    "POST /v1/contracts/{contract_id}/postpone-open-date": FORBIDDEN,
    "POST /v1/contracts/{contract_id}/successions": FORBIDDEN,
    "POST /v1/fee-increases": FORBIDDEN,
    "POST /v1/fee-increases/{proposal_id}/answer": FORBIDDEN,
    "POST /v1/spam-complaints": FORBIDDEN,
    "POST /v1/spam-complaints/{complaint_id}/answer": FORBIDDEN,
    "POST /v1/spam-complaints/{complaint_id}/ask-customer": FORBIDDEN,
    "POST /v1/spam-complaints/{complaint_id}/fix-report": FORBIDDEN,
    "POST /v1/spam-complaints/{complaint_id}/restrict": FORBIDDEN,
    "PUT /v1/contracts/{contract_id}/firewall": FORBIDDEN,
    # no customer data
    "GET /v1/policies": SHARED,
    "GET /v1/policies/{version}": SHARED,
    "GET /rdap/ip/{address}": PUBLIC,
    "GET /rdap/ip/{prefix}/{length}": PUBLIC,
    "GET /metrics": PUBLIC,
    "GET /healthz": PUBLIC,
    "GET /readyz": PUBLIC,
    # images: the catalogue is the operator's; a customer's servers are created by staff
    "GET /v1/images": FORBIDDEN,
    "POST /v1/images": FORBIDDEN,
    "GET /v1/images/{image_id}": FORBIDDEN,
    "POST /v1/images/{image_id}/hide": FORBIDDEN,
    "DELETE /v1/images/{image_id}": FORBIDDEN,
    "GET /v1/hosts/{host}/images/{image_id}/file": FORBIDDEN,
    "PATCH /v1/pools/{pool_id}": FORBIDDEN,
    "DELETE /v1/pools/{pool_id}": FORBIDDEN,
}

STATIC = {
    "host": "hv1",
    "pool_id": "1",
    "ip": "192.0.2.10",
    "token_id": "1",
    "version": DEFAULT_POLICY.version,
    "request_id": "1",
    "address": "192.0.2.10",
    "prefix": "192.0.2.0",
    "length": "24",
}
# Ids that name nothing: a missing resource must look exactly like another customer's.
MISSING = {k: "999999" for k in TenantWorld.__dataclass_fields__} | {"server_id": "nosuchserver"}


def _app_routes(api: Api) -> set[str]:
    """Every `METHOD path` the app serves, through included routers too (FastAPI nests them)."""
    found: set[str] = set()
    for route in api.client.app.routes:  # type: ignore[attr-defined]
        if isinstance(route, APIRoute):
            found |= {f"{m} {route.path}" for m in route.methods}
        elif hasattr(route, "effective_route_contexts"):
            found |= {f"{m} {c.path}" for c in route.effective_route_contexts() for m in c.methods}
    return found


def _fill(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), STATIC.get(m.group(1), "x")), path)


@dataclass
class Tenants:
    api: Api
    mine: TenantWorld
    theirs: TenantWorld

    def call(self, method: str, path: str, rule: Rule, ids: dict[str, str]) -> Any:
        url = _fill(path, ids) + (f"?{rule.query}" if rule.query else "")
        kwargs: dict[str, Any] = {"json": rule.body} if rule.body is not None else {}
        headers = {"Authorization": f"Bearer {self.mine.token}"}
        return self.api.client.request(method, url, headers=headers, **kwargs)

    def ids_of(self, world: TenantWorld, rule: Rule) -> dict[str, str]:
        return world.ids() | {"server_id": getattr(world, rule.server)}


@pytest.fixture
def tenants(api: Api) -> Tenants:
    from sqlmodel import Session

    from controlplane.models import Host

    api.add_host("hv1", vcpus=64, memory_mib=1 << 20, disk_gib=10000)
    with Session(api.engine, expire_on_commit=False) as session:
        host = session.get(Host, 1)
        assert host is not None
        mine = make_tenant(api, session, host, "mine")
        theirs = make_tenant(api, session, host, "theirs")
    return Tenants(api=api, mine=mine, theirs=theirs)


def test_every_route_has_a_tenant_rule(api: Api) -> None:
    served = _app_routes(api)
    assert served - set(RULES) == set(), (
        f"routes without a tenant rule: add them to RULES: {sorted(served - set(RULES))}"
    )
    assert set(RULES) - served == set(), "rules for routes that no longer exist"


@pytest.mark.parametrize("route", sorted(RULES))
def test_a_customer_reaches_only_its_own(tenants: Tenants, route: str) -> None:
    method, path = route.split(" ", 1)
    rule = RULES[route]
    t = tenants
    if rule.kind == "public":
        return
    mine = t.call(method, path, rule, t.ids_of(t.mine, rule))
    theirs = t.call(method, path, rule, t.ids_of(t.theirs, rule))
    if rule.kind == "forbidden":
        assert (mine.status_code, theirs.status_code) == (403, 403), (mine.text, theirs.text)
    elif rule.kind == "shared":
        assert mine.status_code == 200, mine.text
    elif rule.kind == "list":
        assert mine.status_code == 200, mine.text
        rows = mine.json()
        assert rows and all(rule.mine(row, t.mine) for row in rows), rows  # type: ignore[misc]
    else:
        assert mine.status_code in rule.ok, mine.text
        assert theirs.status_code == 404, theirs.text
        missing = t.call(method, path, rule, MISSING)
        assert missing.status_code == 404, missing.text
        assert _anonymous(theirs.json(), t.ids_of(t.theirs, rule)) == _anonymous(missing.json(), MISSING)


def _anonymous(body: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    detail = str(body.get("detail", ""))
    for value in sorted(ids.values(), key=len, reverse=True):
        detail = re.sub(rf"\b{re.escape(value)}\b", "ID", detail)
    return {**body, "detail": detail}


def _block(api: Api, contract_id: int, scope: str) -> None:
    body = {
        "kind": "security",
        "scope": scope,
        "item": 6,
        "reason": "infected server",
        "notice": "after",
        "notice_after_reason": "the server attacks others now",
    }
    response = api.call("POST", f"/v1/contracts/{contract_id}/blocks", role="operator", json=body)
    assert response.status_code == 201, response.text


def test_a_customer_cannot_start_stop_or_reboot_a_fully_restricted_server(tenants: Tenants) -> None:
    t = tenants
    _block(t.api, t.mine.contract_id, "full")
    for action in ("stop", "start", "reboot"):
        response = t.call("POST", f"/v1/servers/{{server_id}}/{action}", own(), t.mine.ids())
        assert response.status_code == 409, response.text
        assert "Art. 16(4)-6" in response.json()["detail"]


def test_a_partial_restriction_leaves_the_customer_its_power_actions(tenants: Tenants) -> None:
    t = tenants
    _block(t.api, t.mine.contract_id, "smtp")
    stopped = t.call("POST", "/v1/servers/{server_id}/stop", own(), t.mine.ids())
    assert (stopped.status_code, stopped.json()["desired_state"]) == (200, "stopped")
    started = t.call("POST", "/v1/servers/{server_id}/start", own(), t.mine.ids())
    assert (started.status_code, started.json()["desired_state"]) == (200, "running")


def test_asking_for_another_customers_contracts_lists_none(tenants: Tenants) -> None:
    t = tenants
    rule = listing(_by_customer, query=f"customer_id={t.theirs.customer_id}")
    response = t.call("GET", "/v1/contracts", rule, {})
    assert (response.status_code, response.json()) == (200, [])


def test_a_customers_power_action_is_audited_as_the_customer(tenants: Tenants) -> None:
    t = tenants
    assert t.call("POST", "/v1/servers/{server_id}/stop", own(), t.mine.ids()).status_code == 200
    events = t.api.call("GET", f"/v1/audit?entity_type=server&entity_id={t.mine.server_id}", role="auditor")
    assert events.json()[0]["actor"] == "customer:tenant-mine"
