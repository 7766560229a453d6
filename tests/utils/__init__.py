"""Reusable factories and fixtures' building blocks for the control-plane tests."""
