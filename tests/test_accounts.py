"""Staff accounts: revocable sessions, idle timeout, two-step login (TOTP with recovery codes),
the password policy and password change."""
import re
import time

import pyotp
import pytest
from sqlalchemy import select

from core.accounts import AuditEvent, RecoveryCode, User, create_user
from core.db import db
from core.passwords import WeakPassword
from tests.conftest import csrf_token, login, post_form


def logout(client, page="/callbacks"):
    return post_form(client, "/logout", {}, token_from=page)


def test_a_cookie_replayed_after_logout_is_sent_to_login(ctx, app, client):
    login(client, "agent")
    stolen = client.get_cookie("session").value
    logout(client)
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    response = thief.get("/callbacks")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_deactivation_ends_the_sessions_of_the_account(ctx, app, client):
    agent = login(client, "agent")
    assert client.get("/callbacks").status_code == 200
    admin_client = app.test_client()
    login(admin_client, "admin")
    post_form(admin_client, f"/admin/users/{agent.id}/toggle", {}, token_from="/admin/users")
    response = client.get("/callbacks")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_password_change_ends_other_sessions_but_not_this_one(ctx, app, client):
    login(client, "agent")
    other = app.test_client()
    login(other, "agent")
    page = post_form(client, "/account/password", {"current": "correct-horse-1", "new": "blue-kettle-sings-42",
                                                   "repeat": "blue-kettle-sings-42"})
    assert page.status_code == 303
    assert client.get("/callbacks").status_code == 200
    assert other.get("/callbacks").status_code == 302
    assert db.session.scalar(select(User).where(User.email == "agent@example.com")).check_password("blue-kettle-sings-42")
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "change_password")) is not None


def test_password_change_refuses_a_weak_password_and_a_wrong_current_one(ctx, client):
    login(client, "agent")
    weak = post_form(client, "/account/password", {"current": "correct-horse-1", "new": "password",
                                                   "repeat": "password"}).get_data(as_text=True)
    assert weak.count("此密码太容易被猜到") == 1 and "这是最常见的 10 个密码之一" in weak
    wrong = post_form(client, "/account/password", {"current": "nope-nope-1", "new": "blue-kettle-sings-42",
                                                    "repeat": "blue-kettle-sings-42"})
    assert wrong.status_code == 400 and "当前密码错误" in wrong.get_data(as_text=True)
    assert db.session.scalar(select(User).where(User.email == "agent@example.com")).check_password("correct-horse-1")


def test_idle_sessions_end(ctx, app, client):
    login(client, "agent")
    with client.session_transaction() as session:
        session["seen"] = int(time.time()) - app.config["IDLE_MINUTES"] * 60 - 5
    response = client.get("/callbacks")
    assert response.status_code == 302 and "/login?next=/callbacks" in response.headers["Location"]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "分钟无操作,已自动退出登录" in page
    assert client.get("/callbacks").status_code == 302


def test_active_sessions_stay(ctx, app, client):
    login(client, "agent")
    with client.session_transaction() as session:
        session["seen"] = int(time.time()) - app.config["IDLE_MINUTES"] * 60 + 60
    assert client.get("/callbacks").status_code == 200
    with client.session_transaction() as session:
        assert session["seen"] >= int(time.time()) - 5  # the request renewed it


# ---- two-step login ---------------------------------------------------------------------------

def password_step(client, email, password="correct-horse-1"):
    return post_form(client, "/login", {"email": email, "password": password})


def test_manager_without_second_factor_enrols_after_the_password(ctx, client):
    create_user("boss@example.com", "Boss", "manager", "correct-horse-1")
    response = password_step(client, "boss@example.com")
    assert response.headers["Location"].endswith("/login/enrol")
    assert client.get("/dashboard").status_code == 302  # not logged in yet
    page = client.get("/login/enrol").get_data(as_text=True)
    assert "<svg" in page and "扫描此二维码" in page
    secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7]+)<', page).group(1)
    wrong = post_form(client, "/login/enrol", {"code": "000000"})
    assert wrong.status_code == 401 and "验证码错误" in wrong.get_data(as_text=True)
    done = post_form(client, "/login/enrol", {"code": pyotp.TOTP(secret).now()}).get_data(as_text=True)
    codes = re.findall(r"<code>([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})</code>", done)
    assert len(codes) == 10 and "只显示这一次" in done
    assert client.get("/dashboard").status_code == 200
    user = db.session.scalar(select(User).where(User.email == "boss@example.com"))
    stored = db.session.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)).all()
    assert len(stored) == 10 and not any(code.replace("-", "") in h or code in h for code in codes for h in stored)


def enrolled_admin(client):
    login(client, "admin")
    logout(client, "/admin/rules")
    return db.session.scalar(select(User).where(User.email == "admin@example.com"))


def test_admin_logs_in_with_a_real_totp_code_once(ctx, app, client):
    admin = enrolled_admin(client)
    response = password_step(client, "admin@example.com")
    assert response.headers["Location"].endswith("/login/code")
    assert client.get("/admin/rules").status_code == 302
    totp = pyotp.TOTP(admin.totp_secret)
    step = max(totp.timecode(time.time()), (admin.totp_last_step or 0) + 1)
    code = totp.generate_otp(step)
    assert post_form(client, "/login/code", {"code": code}).status_code == 302
    assert client.get("/admin/rules").status_code == 200
    # The same code a second time (replayed, overheard) is refused.
    other = app.test_client()
    password_step(other, "admin@example.com")
    replay = post_form(other, "/login/code", {"code": code})
    assert replay.status_code == 401 and "验证码错误或已使用过" in replay.get_data(as_text=True)
    assert other.get("/admin/rules").status_code == 302


def test_a_recovery_code_works_once(ctx, app, client):
    create_user("boss@example.com", "Boss", "manager", "correct-horse-1")
    password_step(client, "boss@example.com")
    secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7]+)<', client.get("/login/enrol").get_data(as_text=True)).group(1)
    page = post_form(client, "/login/enrol", {"code": pyotp.TOTP(secret).now()}).get_data(as_text=True)
    code = re.findall(r"<code>([A-Z0-9-]{19})</code>", page)[3]
    for attempt, expected in ((code.lower().replace("-", " "), 302), (code, 401)):
        fresh = app.test_client()
        password_step(fresh, "boss@example.com")
        response = post_form(fresh, "/login/code", {"code": attempt})
        assert response.status_code == expected
        if expected == 302:
            assert "还剩 9 个" in fresh.get("/dashboard").get_data(as_text=True)
    used = db.session.scalars(select(RecoveryCode).where(RecoveryCode.used_at.is_not(None))).all()
    assert len(used) == 1


def test_the_code_step_needs_the_password_step_first(ctx, client):
    enrolled_admin(client)
    response = post_form(client, "/login/code", {"code": "123456"}, token_from="/login")
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert client.get("/admin/rules").status_code == 302


def test_guessing_second_factor_codes_is_limited(ctx, client):
    enrolled_admin(client)
    password_step(client, "admin@example.com")
    statuses = [post_form(client, "/login/code", {"code": f"{n:06d}"}).status_code for n in range(6)]
    assert statuses == [401] * 5 + [429]


def test_agents_log_in_with_a_password_only(ctx, client):
    create_user("desk@example.com", "Desk", "agent", "correct-horse-1")
    response = password_step(client, "desk@example.com")
    assert response.headers["Location"] == "/"
    assert client.get("/callbacks").status_code == 200


# ---- password policy --------------------------------------------------------------------------

@pytest.mark.parametrize("password", ["password", "Password1!", "abcd1234", "qwertyuiop", "admin@example.com1"])
def test_common_and_guessable_passwords_are_refused(ctx, password):
    with pytest.raises(WeakPassword):
        create_user("admin@example.com", "Admin", "admin", password)
    assert db.session.scalar(select(User)) is None


def test_create_user_command_refuses_password_with_a_reason(ctx, app):
    result = app.test_cli_runner().invoke(args=["create-user", "--email", "new@example.com", "--role", "agent",
                                               "--password", "password"])
    assert result.exit_code != 0 and "top-10" not in result.output
    assert "太容易被猜到" in result.output and "too easy to guess" in result.output
    ok = app.test_cli_runner().invoke(args=["create-user", "--email", "new@example.com", "--role", "agent",
                                           "--password", "violet-harbour-trams"])
    assert ok.exit_code == 0, ok.output


def test_admin_user_form_refuses_password_with_a_reason(ctx, client):
    login(client, "admin")
    page = post_form(client, "/admin/users", {"email": "new@example.com", "name": "New", "role": "agent",
                                              "password": "password"}).get_data(as_text=True)
    assert "此密码太容易被猜到" in page
    assert db.session.scalar(select(User).where(User.email == "new@example.com")) is None


def test_login_form_posts_need_csrf(ctx, client):
    create_user("desk@example.com", "Desk", "agent", "correct-horse-1")
    response = client.post("/login", data={"email": "desk@example.com", "password": "correct-horse-1"})
    assert response.status_code == 400
    assert csrf_token(client, "/login")
