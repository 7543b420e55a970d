"""Customers and the tickets the operator's systems report: the start of every flow."""
