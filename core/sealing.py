"""Secrets the app has to read back (a webhook endpoint's signing secret, a staff member's
second-factor seed) are stored sealed: encrypted and authenticated with Fernet (AES-128-CBC and
HMAC-SHA256, from `cryptography`) under the installation's data keys. A copy of the database
or of a backup then gives away neither the webhook signatures nor the second factor.

`HUIFANG_DATA_KEYS` names the keys, comma-separated, each a Fernet key
(`Fernet.generate_key()`): the first seals, every one unseals, so a new key goes first and the
old one stays listed until `flask rotate-data-keys` has sealed every value anew. A key derived
from SECRET_KEY comes last: it seals when none is listed (fine for a trial; in production list
one, because a new SECRET_KEY would make what it sealed unreadable) and always unseals.

A stored value reads `sealed:` + the Fernet token. A value without that mark (one stored before
sealing) is read as it is, and a value already sealed is stored as it is (a backup's rows
restore unchanged)."""
from __future__ import annotations

import base64
import binascii
import functools
import hashlib

from flask import current_app
from sqlalchemy import MetaData, String, select, type_coerce, update
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator

MARK = "sealed:"


class UnreadableSecret(RuntimeError):
    """A sealed value none of the data keys opens: the keys changed without a rotation."""


def data_keys(config: dict) -> tuple[bytes, ...]:
    """The keys of HUIFANG_DATA_KEYS (config DATA_KEYS), then the one derived from SECRET_KEY,
    which seals only when none is listed and unseals always: an installation that starts
    listing keys reads what it sealed before, until rotate-data-keys moves it."""
    listed = [key.strip().encode() for key in config.get("DATA_KEYS", []) if key.strip()]
    digest = hashlib.sha256(b"huifang data key|" + str(config["SECRET_KEY"]).encode()).digest()
    return tuple(dict.fromkeys([*listed, base64.urlsafe_b64encode(digest)]))


@functools.lru_cache(maxsize=8)
def _fernet(keys: tuple[bytes, ...]):
    # Imported on the first secret sealed or read: ~9 MB that the processes which never touch
    # one (survey pages, imports, delivery workers) do not carry.
    from cryptography.fernet import Fernet, MultiFernet
    return MultiFernet([Fernet(key) for key in keys])


def check_data_keys(config: dict) -> None:
    """ValueError naming what is wrong, at start-up, rather than at the first secret read: a
    key is what Fernet takes, 32 bytes in url-safe base64."""
    for key in data_keys(config):
        try:
            valid = len(base64.urlsafe_b64decode(key)) == 32
        except (binascii.Error, ValueError):
            valid = False
        if not valid:
            raise ValueError("HUIFANG_DATA_KEYS: each key must be 32 url-safe base64-encoded bytes, as "
                             "Fernet.generate_key() makes")


def seal(value: str, keys: tuple[bytes, ...] | None = None) -> str:
    if value.startswith(MARK):
        return value
    return MARK + _fernet(keys or data_keys(current_app.config)).encrypt(value.encode()).decode()


def unseal(value: str, keys: tuple[bytes, ...] | None = None) -> str:
    if not value.startswith(MARK):
        return value
    from cryptography.fernet import InvalidToken
    try:
        return _fernet(keys or data_keys(current_app.config)).decrypt(value[len(MARK):].encode()).decode()
    except InvalidToken:
        raise UnreadableSecret("a sealed secret opens with none of HUIFANG_DATA_KEYS: list the key it was "
                               "sealed with (see core/sealing.py)") from None


def resealed(value: str, keys: tuple[bytes, ...] | None = None) -> str:
    """`value` sealed under the first key (rotation); a value not sealed yet is sealed."""
    from cryptography.fernet import InvalidToken
    fernet = _fernet(keys or data_keys(current_app.config))
    if not value.startswith(MARK):
        return seal(value, keys)
    try:
        return MARK + fernet.rotate(value[len(MARK):].encode()).decode()
    except InvalidToken:
        raise UnreadableSecret("a sealed secret opens with none of HUIFANG_DATA_KEYS") from None


class Sealed(TypeDecorator):
    """A string column stored sealed; reads and writes plain text."""

    impl = String(255)  # a webhook secret or a seed is 147 characters sealed; up to 127 fit
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect) -> str | None:
        return None if value is None else seal(value)

    def process_result_value(self, value: str | None, dialect) -> str | None:
        return None if value is None else unseal(value)


def as_stored(column):
    """`column` (a Sealed one) as the database holds it: the sealed text, not unsealed."""
    return type_coerce(column, String)


def reseal_all(session: Session, metadata: MetaData) -> int:
    """Seals every sealed column's values anew under the first data key (after a new key was
    put first in HUIFANG_DATA_KEYS); values stored before sealing are sealed. Returns the values
    rewritten; the caller commits. Then the old key can leave the list."""
    count = 0
    for table in metadata.sorted_tables:
        for column in (c for c in table.columns if isinstance(c.type, Sealed)):
            key = next(iter(table.primary_key.columns))
            for row_id, value in session.execute(select(key, as_stored(column)).where(column.isnot(None))).all():
                session.execute(update(table).where(key == row_id).values({column.name: type_coerce(
                    resealed(value), String)}))
                count += 1
    return count
