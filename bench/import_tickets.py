"""`python -m bench import_tickets`: see bench/imports.py. Target (PostgreSQL): 1,000,000 rows
at >= 5,000 rows/s, invitations and callback tasks planned."""
from bench.imports import run_import


def run(count: int = 1_000_000) -> dict:
    return run_import("tickets", count)
