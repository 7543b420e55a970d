"""`import-tickets FILE.csv`: batch intake, each good row through the same rules as the API."""
from __future__ import annotations

from typing import IO

from core.csvimport import HeaderError, ImportReport, rows
from core.settings import get_rules
from tickets.services import intake_ticket, validate_ticket

COLUMNS = ("external_id", "kind", "handled_at", "customer_id", "customer_name", "phone", "email",
           "locale", "category", "region", "agent", "channel")


def import_tickets_csv(fh: IO[str]) -> ImportReport:
    report = ImportReport()
    rules = get_rules()
    try:
        for line, row in rows(fh, ("external_id", "kind", "handled_at", "customer_id"), COLUMNS):
            if "__extra__" in row:
                report.errors.append((line, "the row has more cells than the header"))
                continue
            body = {"external_id": row.get("external_id"), "kind": row.get("kind"),
                    "handled_at": row.get("handled_at"),
                    "customer": {"id": row.get("customer_id"), "name": row.get("customer_name"),
                                 "phone": row.get("phone") or None, "email": row.get("email") or None,
                                 "locale": row.get("locale") or None},
                    **{k: row.get(k) for k in ("category", "region", "agent", "channel")}}
            clean, errors = validate_ticket(body)
            if errors:
                report.errors.append((line, "; ".join(f"{k} {v}" for k, v in sorted(errors.items()))))
                continue
            if intake_ticket(clean, rules).created:  # one transaction per row: never half a ticket
                report.imported += 1
    except HeaderError as exc:
        report.errors.append((1, str(exc)))
    return report
