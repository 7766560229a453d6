"""The terms of service as pure functions: plain values in, plain values out, each result citing its clause.

Nothing here reads the clock, the store, libvirt or the network; callers pass `as_of` dates and facts.
"""
