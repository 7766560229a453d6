"""Combines every router of the API (one module per resource under routes/)."""

from __future__ import annotations

from fastapi import APIRouter

from controlplane.api.routes import (
    agent,
    agent_console,
    audit,
    blocks,
    console,
    contract_changes,
    contracts,
    customers,
    disputes,
    enforcement,
    fee_increases,
    firewall,
    health,
    hosts,
    images,
    invoices,
    maintenance_windows,
    metrics,
    outages,
    payments,
    policies,
    servers,
    spam,
    terminations,
    terms_responses,
    tokens,
)

api_router = APIRouter()
api_router.include_router(metrics.router)
# Liveness and readiness probes for a load balancer in front of several replicas.
api_router.include_router(health.router)
api_router.include_router(hosts.router)
api_router.include_router(agent.router)
api_router.include_router(servers.router)
# Images servers boot from (issue 9).
api_router.include_router(images.router)
api_router.include_router(tokens.router)
api_router.include_router(audit.router)
# Billing: customers, contracts, invoices, payments.
api_router.include_router(customers.router)
api_router.include_router(contracts.router)
api_router.include_router(invoices.router)
api_router.include_router(payments.router)
# Enforcement: the sweep, blocks, terminations, outages and availability credit.
api_router.include_router(enforcement.router)
api_router.include_router(disputes.router)
api_router.include_router(blocks.router)
api_router.include_router(terminations.router)
api_router.include_router(outages.router)
# The terms policy versions contracts are pinned to (Art. 3(4)).
api_router.include_router(policies.router)
# Customers' objections to and acceptances of new terms versions (Art. 3(3),(4)).
api_router.include_router(terms_responses.router)
# Maintenance windows (Art. 10(8), 14).
api_router.include_router(maintenance_windows.router)
# The terms' remaining workflows (issue 12): firewall add-on, spam complaints, fee
# increases, open-date postponement, succession, address agreements.
api_router.include_router(firewall.router)
api_router.include_router(spam.router)
api_router.include_router(fee_increases.router)
api_router.include_router(contract_changes.router)
# Serial console: tickets and the WebSocket for callers, the watch and stream for agents.
api_router.include_router(console.router)
api_router.include_router(agent_console.router)
