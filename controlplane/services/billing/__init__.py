"""Invoices, payments, credit and late fees (Art. 30-35)."""
