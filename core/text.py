"""Text from outside (API, forms, SMS, CSV): control characters never reach the database
(PostgreSQL refuses NUL outright), and phone numbers are E.164."""
from __future__ import annotations

import functools
import re
import unicodedata

import phonenumbers

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
CONTROL_OR_BREAK = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
SURROGATE = re.compile(r"[\ud800-\udfff]")


def without_surrogates(value: str) -> str:
    """JSON can carry lone UTF-16 surrogates, which no database stores and no person can read:
    each becomes U+FFFD, the replacement character, as a UTF-8 decoder would make it."""
    return SURROGATE.sub("\ufffd", value)


def has_control(value: str) -> bool:
    return bool(CONTROL.search(value))


def strip_control(value: str) -> str:
    """For free text a person wrote: keep tabs and line breaks, drop the rest."""
    return CONTROL.sub("", value)


def one_line(value: str | None) -> str:
    """For a one-line field (region, agent, a name): no control character at all (tabs and
    line breaks included), runs of white space as one space."""
    return " ".join(CONTROL_OR_BREAK.sub(" ", value or "").split())


def command_word(text: str | None) -> str:
    """What an SMS keyword reply says, however it is typed: "STOP.", "stop!", full-width
    "Ｓｔｏｐ", "退订。" and "Stop all" all read as one lower-case word (NFKC folds full-width
    forms, case-folding the letters; punctuation, symbols and white space go)."""
    folded = unicodedata.normalize("NFKC", text or "").casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] not in "PZCS")


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
