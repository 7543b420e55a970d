"""`python -m bench import_responses`: see bench/imports.py. Target (PostgreSQL): 1,000,000 rows
at >= 20,000 rows/s and <= 200 MB peak."""
from bench.imports import run_import


def run(count: int = 1_000_000) -> dict:
    return run_import("responses", count)
