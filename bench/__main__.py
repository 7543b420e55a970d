"""python -m bench [dispatch] [report] [web] [import_responses] [import_tickets]
[batch] [dashboard] [--small] (import-tickets with a dash works too): each prints its figures and ratios
against a baseline measured in the same run. BENCH_DATABASE_URL=postgresql://... runs them on
PostgreSQL instead of SQLite. `web` includes the ticket intake rate."""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

BENCHES = {"dispatch": {"count": 1_000_000, "scheduler_count": 200_000}, "report": {"count": 200_000, "copies": 5, "factor": 10}, "web": {},
           "import_responses": {"count": 1_000_000}, "import_tickets": {"count": 1_000_000},
           "batch": {"count": 100_000}, "dashboard": {"customers": 400, "count": 20_000, "copies": 50, "factor": 10}}
SMALL = {"dispatch": {"count": 20_000, "scheduler_count": 5_000}, "report": {"count": 20_000, "copies": 5, "factor": 10}, "web": {"seconds": 3, "rounds": 1},
         "import_responses": {"count": 20_000}, "import_tickets": {"count": 10_000},
         "batch": {"count": 5_000}, "dashboard": {"customers": 60, "count": 2_000, "copies": 10, "factor": 10}}


def main() -> int:
    parser = argparse.ArgumentParser(description="Huifang benchmarks")
    # No `choices` here: argparse checks an empty list against them and refuses it.
    parser.add_argument("names", nargs="*", help=f"any of {', '.join(BENCHES)} (default: all)")
    parser.add_argument("--small", action="store_true", help="small sizes, for a quick check")
    args = parser.parse_args()
    args.names = [n.replace("-", "_") for n in args.names]  # import-tickets as the command is named
    unknown = [n for n in args.names if n not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    failed = False
    for name in args.names or BENCHES:
        module = importlib.import_module(f"bench.{name}")
        result = module.run(**(SMALL if args.small else BENCHES)[name])
        failed |= bool(result.get("loss") or result.get("duplicates") or result.get("errors"))
        print()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
