"""Contracts from application to renewal, customers, terms versions, and the contract lock."""
