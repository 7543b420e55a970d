"""Text from outside (API, forms, SMS, CSV): control characters never reach the database
(PostgreSQL refuses NUL outright)."""
from __future__ import annotations

import re

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def has_control(value: str) -> bool:
    return bool(CONTROL.search(value))


def strip_control(value: str) -> str:
    """For free text a person wrote: keep tabs and line breaks, drop the rest."""
    return CONTROL.sub("", value)
