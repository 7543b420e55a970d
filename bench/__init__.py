"""Benchmarks: `python -m bench [name ...]` (or `make bench`). Each prints its figures and the
ratio against a baseline measured in the same run, on the same database."""
