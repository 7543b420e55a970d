"""Secrets the app reads back (webhook signing secrets, second-factor seeds) are stored sealed
under the data keys (core/sealing.py): not in the database's text, not in a backup's, readable
after a key rotation, and a wrong key is a clear error."""
import gzip
import re

import pyotp
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from app import create_app
from core.accounts import AuditEvent, User
from core.db import db
from core.sealing import UnreadableSecret
from integrations.models import WebhookEndpoint, new_secret
from tests.conftest import login, post_form
from tests.test_accounts import enrolled_admin
from tests.test_backup import fresh_database_url


def stored(table: str, column: str, row_id: int) -> str:
    """The column's text as the database holds it."""
    db.session.expire_all()
    return db.session.scalar(text(f"SELECT {column} FROM {table} WHERE id = :id"), {"id": row_id})


def add_endpoint(secret: str | None = None) -> WebhookEndpoint:
    row = WebhookEndpoint(url="https://receiver.example.cn/hooks", event_types=["response.completed"],
                          **({"secret": secret} if secret else {}))
    db.session.add(row)
    db.session.commit()
    return row


@pytest.fixture
def data_keys(app):
    """Sets HUIFANG_DATA_KEYS (as config DATA_KEYS) for one test."""
    before = app.config.get("DATA_KEYS", [])
    yield lambda *keys: app.config.update(DATA_KEYS=[k.decode() for k in keys])
    app.config["DATA_KEYS"] = before


def test_a_webhook_secret_is_stored_sealed_and_shown_to_the_admin_in_clear(ctx, client):
    login(client, "admin")
    page = post_form(client, "/admin/webhooks", {"url": "https://receiver.example.cn/hooks", "description": "CRM",
                                                 "event_types": ["response.completed"]},
                     follow_redirects=True).get_data(as_text=True)
    secret = re.search(r"<code>(whsec_[^<]+)</code>", page).group(1)
    endpoint = db.session.scalar(select(WebhookEndpoint))
    raw = stored("webhook_endpoints", "secret", endpoint.id)
    assert raw.startswith("sealed:") and secret not in raw and secret[6:] not in raw
    assert endpoint.secret == secret


def test_a_second_factor_seed_is_stored_sealed_and_its_codes_still_log_in(ctx, client):
    admin = enrolled_admin(client)  # enrolled and logged in with a real code, then logged out
    raw = stored("users", "totp_secret", admin.id)
    assert raw.startswith("sealed:") and admin.totp_secret not in raw
    assert re.fullmatch(r"[A-Z2-7]{32}", admin.totp_secret)
    assert pyotp.TOTP(admin.totp_secret).now().isdigit()


def test_after_a_new_key_goes_first_old_secrets_read_and_rotation_moves_them_to_it(ctx, app, data_keys):
    old, new = Fernet.generate_key(), Fernet.generate_key()
    data_keys(old)
    secret = new_secret()
    endpoint = add_endpoint(secret)
    sealed_under_old = stored("webhook_endpoints", "secret", endpoint.id)
    data_keys(new, old)
    assert db.session.get(WebhookEndpoint, endpoint.id).secret == secret
    result = app.test_cli_runner().invoke(args=["rotate-data-keys"])
    assert result.exit_code == 0 and "1 secret(s) sealed" in result.output, result.output
    assert db.session.scalar(select(AuditEvent.details).where(AuditEvent.action == "rotate_data_keys")) == {"secrets": 1}
    assert stored("webhook_endpoints", "secret", endpoint.id) != sealed_under_old
    data_keys(new)  # the old key has left the list
    db.session.expire_all()
    assert db.session.get(WebhookEndpoint, endpoint.id).secret == secret
    data_keys(old)  # a key that never sealed it: a clear error, not a wrong secret
    db.session.expire_all()
    with pytest.raises(UnreadableSecret, match="HUIFANG_DATA_KEYS"):
        db.session.get(WebhookEndpoint, endpoint.id).secret  # noqa: B018


def test_an_installation_that_starts_listing_a_key_reads_what_the_derived_key_sealed(ctx, app, data_keys):
    secret = add_endpoint().secret  # no key listed: sealed under the one derived from SECRET_KEY
    listed = Fernet.generate_key()
    data_keys(listed)
    db.session.expire_all()
    assert db.session.get(WebhookEndpoint, endpoint_id := db.session.scalar(select(WebhookEndpoint.id))).secret == secret
    assert app.test_cli_runner().invoke(args=["rotate-data-keys"]).exit_code == 0
    raw = stored("webhook_endpoints", "secret", endpoint_id)
    assert Fernet(listed).decrypt(raw.removeprefix("sealed:").encode()).decode() == secret


def test_a_secret_stored_before_sealing_reads_as_it_is_until_rotation_seals_it(ctx, app):
    endpoint = add_endpoint()
    secret = endpoint.secret
    db.session.execute(text("UPDATE webhook_endpoints SET secret = :s WHERE id = :id"), {"s": secret, "id": endpoint.id})
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(WebhookEndpoint, endpoint.id).secret == secret
    assert app.test_cli_runner().invoke(args=["rotate-data-keys"]).exit_code == 0
    assert stored("webhook_endpoints", "secret", endpoint.id).startswith("sealed:")
    assert db.session.get(WebhookEndpoint, endpoint.id).secret == secret


def test_a_backup_carries_the_secrets_sealed(ctx, app, tmp_path):
    secret = add_endpoint().secret
    dump = tmp_path / "backup.jsonl.gz"
    assert app.test_cli_runner().invoke(args=["backup", "--out", str(dump)]).exit_code == 0
    with gzip.open(dump, "rt", encoding="utf-8") as backup:
        content = backup.read()
    assert secret not in content and '"secret": "sealed:' in content


def test_a_malformed_data_key_stops_the_start(app):
    with pytest.raises(ValueError, match="HUIFANG_DATA_KEYS"):
        create_app({**app.config, "DATA_KEYS": ["not-a-key"]})



def test_the_migration_seals_what_was_stored_in_clear_and_its_downgrade_unseals_it(app, tmp_path, worker_id):
    from flask_migrate import downgrade, upgrade

    secret, seed = new_secret(), pyotp.random_base32()
    older = create_app({**app.config, "SQLALCHEMY_DATABASE_URI": fresh_database_url(tmp_path, f"sealing_{worker_id}")})
    with older.app_context():
        upgrade(revision="9b4e6f1a3c27")  # before sealing
        db.session.execute(text("INSERT INTO users (email, name, role, password_hash, active, totp_secret, "
                                "created_at) VALUES ('a@example.cn', 'A', 'admin', 'x', :t, :seed, "
                                "CURRENT_TIMESTAMP)"), {"seed": seed, "t": True})
        db.session.execute(text("INSERT INTO webhook_endpoints (url, description, secret, event_types, active, "
                                "created_at) VALUES ('https://r.example.cn', '', :secret, '[]', :t, "
                                "CURRENT_TIMESTAMP)"), {"secret": secret, "t": True})
        db.session.commit()
        upgrade()
        assert stored("webhook_endpoints", "secret", 1).startswith("sealed:")
        assert stored("users", "totp_secret", 1).startswith("sealed:")
        assert db.session.get(WebhookEndpoint, 1).secret == secret and db.session.get(User, 1).totp_secret == seed
        db.session.commit()
        downgrade(revision="9b4e6f1a3c27")
        assert (stored("webhook_endpoints", "secret", 1), stored("users", "totp_secret", 1)) == (secret, seed)
        db.session.remove()
        db.engine.dispose()


def test_a_process_loads_the_cipher_and_the_password_checker_only_when_it_needs_them(app):
    """~9 MB (cryptography) and ~12 MB (zxcvbn) that survey pages, imports and delivery workers,
    which never read a secret or check a password, do not carry (the import's 200 MB budget)."""
    import subprocess
    import sys
    from pathlib import Path

    script = ("import sys; from app import create_app; create_app({'SQLALCHEMY_DATABASE_URI': 'sqlite://', "
              "'SECRET_KEY': 'x'}); print(sorted(m for m in ('cryptography', 'zxcvbn') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parent.parent, timeout=120).stdout.strip().splitlines()[-1]
    assert loaded == "[]"
