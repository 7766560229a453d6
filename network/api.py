"""HTTP routes of the network module; included by the control plane app. Thin: parse, call, shape."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, StreamingResponse
from sqlmodel import Session

from controlplane import personal_data
from controlplane.api.deps import ClockDep, CurrentPrincipal, EngineDep, Principal, SessionDep, require_roles
from controlplane.errors import Forbidden, InvalidInput, NotFound
from controlplane.models import Role
from controlplane.schemas.types import Count, Id, Key
from network import disclosure, history, ipam, pools, rdap, service
from network.identity import get_identity
from network.registry import escape_controls, lookup
from network.schemas import (
    AddressHistory,
    DisclosedHolder,
    DisclosureCreate,
    DisclosureRecord,
    PoolCreate,
    PoolPublic,
    PoolUpdate,
    TenurePublic,
    UsageRequestCreate,
    UsageRequestPublic,
    UsageResponseCreate,
    UtilisationPublic,
)

router = APIRouter()

Operator = Annotated[Principal, Depends(require_roles(Role.OPERATOR))]
Reader = Annotated[Principal, Depends(require_roles(Role.OPERATOR, Role.AUDITOR))]
Auditor = Annotated[Principal, Depends(require_roles(Role.AUDITOR))]


def disclosure_officer(principal: CurrentPrincipal) -> Principal:
    """Art. 24(5) lookups need the dedicated role; not even admin tokens may make them."""
    if principal.role != Role.LAW_ENFORCEMENT:
        raise Forbidden(f"role {principal.role.value!r} may not request disclosures; needs 'disclosure'")
    return principal


DisclosureOfficer = Annotated[Principal, Depends(disclosure_officer)]


@router.post("/v1/pools", status_code=201, response_model=PoolPublic, tags=["network"])
def create_pool(body: PoolCreate, _p: Operator, session: SessionDep, clock: ClockDep) -> Any:
    spec = pools.PoolSpec(
        **body.model_dump()
        | {
            "reserved": tuple(body.reserved),
            "host_names": tuple(body.host_names),
            "dns_servers": tuple(body.dns_servers),
        }
    )
    return pools.register_pool(session, spec=spec, at=clock())


@router.get("/v1/pools", response_model=list[PoolPublic], tags=["network"])
def list_pools(_p: Reader, session: SessionDep) -> Any:
    return pools.list_pools(session)


@router.patch("/v1/pools/{pool_id}", response_model=PoolPublic, tags=["network"])
def update_pool(pool_id: Id, body: PoolUpdate, _p: Operator, session: SessionDep) -> Any:
    return pools.update_pool(session, pool_id=pool_id, **body.model_dump())


@router.delete("/v1/pools/{pool_id}", status_code=204, tags=["network"])
def delete_pool(pool_id: Id, _p: Operator, session: SessionDep) -> None:
    pools.delete_pool(session, pool_id=pool_id)


@router.get("/v1/pools/{pool_id}/utilisation", response_model=UtilisationPublic, tags=["network"])
def pool_utilisation(pool_id: Id, _p: Reader, session: SessionDep, clock: ClockDep) -> Any:
    return pools.utilisation(session, pool=pools.get_pool(session, pool_id), at=clock())


@router.get("/v1/addresses/export.csv", tags=["network"])
def export_assignments(
    p: Reader, engine: EngineDep, session: SessionDep, clock: ClockDep
) -> StreamingResponse:
    # The holders' names leave in the file: the read is on the audit trail before the first byte does.
    reads = personal_data.same_fields(history.current_holder_ids(session), ("name",))
    personal_data.record_reads(
        session, now=clock(), actor=p.actor, reads=reads, via="GET /v1/addresses/export.csv"
    )

    def rows() -> Any:
        with Session(engine) as session:
            yield from history.current_assignments_csv(session)

    headers = {"Content-Disposition": 'attachment; filename="dcloud-assignments.csv"'}
    return StreamingResponse(rows(), media_type="text/csv; charset=utf-8", headers=headers)


@router.get("/v1/addresses/{ip}/history", response_model=AddressHistory, tags=["network"])
def address_history(ip: Key, p: Reader, session: SessionDep, clock: ClockDep) -> Any:
    tenures = history.address_history(session, address=ip)
    reads = personal_data.same_fields((t.customer_id for t in tenures), ("name",))
    via = f"GET /v1/addresses/{ip}/history"
    personal_data.record_reads(session, now=clock(), actor=p.actor, reads=reads, via=via)
    address = str(ipam.parse_address(ip, field="ip"))
    return AddressHistory(address=address, holders=[TenurePublic(**vars(t)) for t in tenures])


@router.post("/v1/servers/{server_id}/extra-addresses", status_code=201, tags=["network"])
def add_extra_address(server_id: Key, _p: Operator, session: SessionDep, clock: ClockDep) -> dict[str, str]:
    lease = service.add_extra_address(session, server_id=server_id, at=clock())
    return {"address": lease.address, "server_id": server_id}


@router.post("/v1/disclosures", response_model=DisclosedHolder, tags=["network"])
def create_disclosure(
    body: DisclosureCreate, p: DisclosureOfficer, session: SessionDep, clock: ClockDep
) -> Any:
    request = disclosure.DisclosureRequest(**body.model_dump())
    record = disclosure.disclose_holder(session, request=request, requested_by=p.actor, now=clock())
    # Raised after disclose_holder committed: a request that found nobody is still on the log.
    if record.returned is None:
        raise NotFound(f"no customer held {record.address} at {body.at.isoformat()}", field="address")
    return DisclosedHolder(**record.returned)


@router.get("/v1/disclosures", response_model=list[DisclosureRecord], tags=["network"])
def list_disclosures(
    p: Auditor,
    session: SessionDep,
    clock: ClockDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[Count, Query()] = 0,
) -> Any:
    return disclosure.list_disclosures(session, actor=p.actor, now=clock(), limit=limit, offset=offset)


@router.post("/v1/usage-requests", status_code=201, response_model=UsageRequestPublic, tags=["network"])
def create_usage_request(body: UsageRequestCreate, p: Operator, session: SessionDep, clock: ClockDep) -> Any:
    return disclosure.request_usage_information(
        session, customer_id=body.customer_id, reason=body.reason, requested_by=p.actor, now=clock()
    )


@router.post("/v1/usage-requests/{request_id}/response", response_model=UsageRequestPublic, tags=["network"])
def record_usage_response(
    request_id: Id, body: UsageResponseCreate, _p: Operator, session: SessionDep, clock: ClockDep
) -> Any:
    return disclosure.record_usage_response(
        session, request_id=request_id, response=body.response, now=clock()
    )


@router.get("/v1/usage-requests", response_model=list[UsageRequestPublic], tags=["network"])
def list_usage_requests(_p: Reader, session: SessionDep, customer_id: Id | None = None) -> Any:
    return disclosure.list_usage_requests(session, customer_id=customer_id)


class RdapResponse(JSONResponse):
    """RDAP JSON with no raw control or bidi character: json.dumps escapes only C0 (and Starlette keeps
    the rest raw, ensure_ascii=False), so C1, DEL, bidi and U+2028 are escaped after it."""

    media_type = rdap.RDAP_MEDIA_TYPE

    def render(self, content: Any) -> bytes:
        return escape_controls(super().render(content).decode("utf-8")).encode("utf-8")


def _rdap_answer(session: Session, query: str) -> JSONResponse:
    identity = get_identity()
    try:
        record = lookup(session, query, identity)
    except InvalidInput as exc:
        body = rdap.error_body(400, "Bad Request", exc.message)
        return RdapResponse(body, status_code=400)
    if record is None:
        body = rdap.error_body(404, "Not Found", f"{query} is not managed by this registry")
        return RdapResponse(body, status_code=404)
    return RdapResponse(rdap.ip_network(record, identity))


@router.get("/rdap/ip/{address}", tags=["rdap"])
def rdap_ip(address: str, session: SessionDep) -> JSONResponse:
    return _rdap_answer(session, address)


@router.get("/rdap/ip/{prefix}/{length}", tags=["rdap"])
def rdap_ip_prefix(prefix: str, length: str, session: SessionDep) -> JSONResponse:
    if not length.isdigit():
        body = rdap.error_body(400, "Bad Request", f"{length!r} is not a prefix length")
        return RdapResponse(body, status_code=400)
    return _rdap_answer(session, f"{prefix}/{length}")
