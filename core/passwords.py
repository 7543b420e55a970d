"""Password policy: zxcvbn's estimate of how guessable a password is, not character-class rules
(which push people to `Password1!`). Common, breached-style, keyboard-pattern and name-based
passwords score low and are refused with the reason in the reader's language."""
from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

MIN_LENGTH, MAX_LENGTH = 8, 128

# zxcvbn explains a low score in English; these are its warnings, in both languages.
WARNINGS = {
    "This is a top-10 common password.": _l("This is one of the 10 most common passwords."),
    "This is a top-100 common password.": _l("This is one of the 100 most common passwords."),
    "This is a very common password.": _l("This is a very common password."),
    "This is similar to a commonly used password.": _l("This is similar to a commonly used password."),
    "A word by itself is easy to guess.": _l("A word by itself is easy to guess."),
    "Names and surnames by themselves are easy to guess.": _l("Names by themselves are easy to guess."),
    "Common names and surnames are easy to guess.": _l("Names by themselves are easy to guess."),
    "Straight rows of keys are easy to guess.": _l("Rows of keys on the keyboard are easy to guess."),
    "Short keyboard patterns are easy to guess.": _l("Rows of keys on the keyboard are easy to guess."),
    'Repeats like "aaa" are easy to guess.': _l("Repeated characters are easy to guess."),
    'Sequences like "abc" or "6543" are easy to guess.': _l("Sequences like abc or 6543 are easy to guess."),
    "Recent years are easy to guess.": _l("Years and dates are easy to guess."),
    "Dates are often easy to guess.": _l("Years and dates are easy to guess."),
}


class WeakPassword(ValueError):
    """A password the policy refuses; str() is the reason, in the current locale."""


def password_problem(password: str, *personal: str) -> str | None:
    """Why `password` is refused, or None. `personal` (e-mail, name) counts as easy to guess."""
    if len(password) < MIN_LENGTH:
        return _("A password needs at least %(n)s characters.", n=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return _("A password may have at most %(n)s characters.", n=MAX_LENGTH)
    # Imported here, on the first password checked: its dictionaries are ~20 MB in every
    # process otherwise (web workers, the scheduler, a bulk import), most never set a password.
    from zxcvbn import zxcvbn

    inputs = [p for value in personal if value for p in (value, *value.replace("@", " ").replace(".", " ").split())]
    result = zxcvbn(password, user_inputs=inputs)
    minimum = current_app.config.get("PASSWORD_MIN_SCORE", 3)
    if result["score"] >= minimum:
        return None
    reason = WARNINGS.get(result["feedback"]["warning"], "")
    return " ".join(filter(None, [
        _("This password is too easy to guess (strength %(score)s of 4, at least %(min)s needed).",
          score=result["score"], min=minimum),
        str(reason),
        _("Use a few uncommon words, or a phrase only you would think of."),
    ]))


def require_strong(password: str, *personal: str) -> None:
    problem = password_problem(password, *personal)
    if problem:
        raise WeakPassword(problem)
