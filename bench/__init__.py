"""Benchmarks printed by `python -m bench` (not timed tests), each against a baseline from the same run."""
