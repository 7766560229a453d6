"""Network module: IPAM, address history, WHOIS server, RDAP and disclosure (Art. 24).

What other parts call:
- `network.service.allocate_server_address(session, *, server, at)`: the one address per server
  (Art. 24(1)); idempotent; None when no pool serves the server's host; `PoolExhausted` (a NoCapacity,
  409) when every address is assigned or in quarantine.
- `network.service.allocate_extra_address(session, *, server, contract, at)`: only within
  `contract.extra_addresses_allowed` / `extra_addresses_approved_by`; else `ExtraAddressNotAgreed` (409).
- `network.service.release_server_addresses(session, *, server_id, at)`: ends the leases; each address
  rests in quarantine (policy `address_quarantine_days`, default 30) before reuse.
- `network.service.attachments_for(session, server_ids)`: `NetworkAttachment`s for the desired state.
- `network.whois_server.run_whois_server(settings, stop_event=None, *, bind=..., port=...)`: blocking.
- `network.metrics.register_network_metrics(registry, engine, clock)`: pool gauges + WHOIS counters.
These flush but never commit: the caller's transaction decides. Only the use cases behind the routes
and the CLI (`pools.register_pool`, `service.add_extra_address`, the writes of `disclosure`) commit, once
at their end (the convention in `controlplane/db.py`).

Modules: models (tables), ipam (pure address arithmetic), pools, service (leases), history,
disclosure, registry (what WHOIS/RDAP publish, privacy applied), whois_format, whois_server, rdap,
identity (the company in WHOIS/RDAP, DCLOUD_OPERATOR_*), policy, metrics, schemas, api, cli.
"""
