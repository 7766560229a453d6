"""Hosts and servers: placement, desired and observed state, what agents read and write."""
