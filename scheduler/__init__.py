"""Periodic jobs (invoicing, enforcement, renewals...) run by one elected leader among control planes."""
