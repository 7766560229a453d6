"""dcloud control plane: API, store, services and the terms engine."""
