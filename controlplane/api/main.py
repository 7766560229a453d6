"""Combines every router of the API (one module per resource under routes/)."""

from __future__ import annotations

from fastapi import APIRouter

from controlplane.api.routes import (
    agent,
    audit,
    contracts,
    customers,
    hosts,
    invoices,
    payments,
    servers,
    tokens,
)

api_router = APIRouter()
api_router.include_router(hosts.router)
api_router.include_router(agent.router)
api_router.include_router(servers.router)
api_router.include_router(tokens.router)
api_router.include_router(audit.router)
# Billing (issue 3): customers, contracts, invoices, payments.
api_router.include_router(customers.router)
api_router.include_router(contracts.router)
api_router.include_router(invoices.router)
api_router.include_router(payments.router)
