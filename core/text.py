"""Text from outside (API, forms, SMS, CSV): control characters never reach the database
(PostgreSQL refuses NUL outright), and phone numbers are E.164."""
from __future__ import annotations

import functools
import re

import phonenumbers

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def has_control(value: str) -> bool:
    return bool(CONTROL.search(value))


def strip_control(value: str) -> str:
    """For free text a person wrote: keep tabs and line breaks, drop the rest."""
    return CONTROL.sub("", value)


@functools.lru_cache(maxsize=20_000)  # bulk intake sees each customer's number many times
def normalise_phone(raw: str) -> str | None:
    """E.164 or None."""
    if not re.fullmatch(r"\+[1-9]\d{6,14}", raw):
        return None
    try:
        number = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
