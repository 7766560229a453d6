"""`/healthz` (the process is alive) and `/readyz` (it can serve: store reachable, schema current), for
load balancers and orchestrators in front of several replicas. No token: they reveal no data."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from controlplane.api.deps import EngineDep
from controlplane.services.health import store_readiness

router = APIRouter(tags=["health"])


@router.get("/healthz", include_in_schema=False)
def healthz() -> dict[str, str]:
    return {"status": "alive"}


@router.get("/readyz", include_in_schema=False)
def readyz(engine: EngineDep) -> JSONResponse:
    readiness = store_readiness(engine)
    body = {
        "status": "ready" if readiness.ready else "not ready",
        "revision": readiness.revision,
        "expected_revision": readiness.expected_revision,
    }
    if readiness.reason:
        body["reason"] = readiness.reason
    return JSONResponse(body, status_code=200 if readiness.ready else 503)
