"""Tables of the network module (pools, addresses, leases, disclosures)."""
