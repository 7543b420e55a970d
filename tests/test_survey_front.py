"""The front of the web survey (surveys/front.py): a link's first visit answered before Flask is
the page the view sends, and every other request reaches the view as before."""
import gc
import os
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, text, update

from core.db import ReservedConnection, db, is_postgres, utcnow
from surveys import views
from surveys.answering import store_first_answer
from surveys.models import Invitation, QuestionnaireVersion
from surveys.views import VERSION_FIELD
from tests.conftest import sent_invitation
from tests.test_scheduler import wait_for
from tests.test_web_survey import _stored_rows, answer_page, hidden_fields, stored_response
from tickets.models import Ticket


@pytest.fixture
def front(app):
    views._PRISTINE.clear()  # the first page is rendered by the view first, in each test
    return app.wsgi_app


def _seen(response) -> tuple:
    return response.status, list(response.headers), response.get_data(as_text=True)


def test_a_first_visit_answered_in_front_is_the_page_the_view_sends(ctx, client, front):
    invitation = sent_invitation()
    served = front.served
    by_view = client.get(f"/s/{invitation.token}")
    assert front.served == served  # nothing rendered yet: the view renders and keeps the page
    by_front = client.get(f"/s/{invitation.token}")
    assert front.served == served + 1
    assert _seen(by_front) == _seen(by_view)
    assert by_front.status_code == 200 and "您对本次服务的总体满意度如何" in by_front.get_data(as_text=True)
    assert by_front.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert "Set-Cookie" not in by_front.headers


def test_another_invitations_first_page_from_the_front_carries_its_own_token_and_csrf(ctx, client, front):
    first, second = sent_invitation(), sent_invitation(id="C-2", phone="+8613800138001")
    client.get(f"/s/{first.token}")  # the view renders the version's first page
    served = front.served
    page = client.get(f"/s/{second.token}").get_data(as_text=True)
    assert front.served == served + 1
    assert second.token in page and first.token not in page
    # its CSRF value is the one the view checks: the answer is stored
    assert answer_page(client, second.token, {"overall": "2"}).status_code == 302
    # answer_page read the page there too (its hidden fields); on PostgreSQL the front stored
    # the answer as well
    assert front.served == served + 2 + is_postgres()
    db.session.refresh(second)
    assert second.state == "started"


def test_every_other_visit_reaches_the_view(ctx, client, front):
    invitation = sent_invitation()
    token = invitation.token
    client.get(f"/s/{token}")
    served = front.served
    english = client.get(f"/s/{token}?lang=en")  # a query string: the view (and its cookie)
    assert "How satisfied are you with this service overall?" in english.get_data(as_text=True)
    assert "survey_lang=en" in english.headers["Set-Cookie"]
    assert "How satisfied" in client.get(f"/s/{token}").get_data(as_text=True)  # the cookie: the view
    client.delete_cookie("survey_lang", path=f"/s/{token}")
    assert client.head(f"/s/{token}").status_code == 200
    before = front.served
    assert answer_page(client, token, {"overall": "4"}, page=1).status_code == 302
    served += front.served - before  # the first answer: the front's on PostgreSQL (tested below)
    resumed = client.get(f"/s/{token}")  # answers saved: the view shows the next page
    assert resumed.status_code == 200 and 'name="page" value="2"' in resumed.get_data(as_text=True)
    head = client.head(f"/s/{token}")  # HEAD of a page with answers saved: the page's status, no body
    assert head.status_code == 200 and head.get_data() == b""
    assert client.get("/s/nope").status_code == 404
    assert client.get(f"/s/{token}/").status_code in (308, 404)
    assert front.served == served


@pytest.mark.parametrize("change, status", [({"state": "completed"}, 410),
                                            ({"expires_at": utcnow() - timedelta(minutes=1)}, 410),
                                            ({"state": "suppressed"}, 404)])
def test_links_that_cannot_be_answered_get_the_views_page(ctx, client, front, change, status):
    invitation = sent_invitation()
    client.get(f"/s/{invitation.token}")
    db.session.execute(update(Invitation).where(Invitation.id == invitation.id).values(**change))
    db.session.commit()
    served = front.served
    refused = client.get(f"/s/{invitation.token}")
    assert refused.status_code == status and "<html" in refused.get_data(as_text=True)
    assert front.served == served


def test_when_the_fronts_read_fails_the_view_serves_the_page(ctx, client, front, monkeypatch):
    invitation = sent_invitation()
    client.get(f"/s/{invitation.token}")
    monkeypatch.setattr(front, "connection", ReservedConnection(create_engine("sqlite:////nonexistent-folder/huifang.db")))
    served = front.served
    page = client.get(f"/s/{invitation.token}")
    assert page.status_code == 200 and invitation.token in page.get_data(as_text=True)
    assert front.served == served


def _backend_pid(reader: ReservedConnection) -> int:
    return reader.first(text("SELECT pg_backend_pid()"), {})[0]


def _alive(backend: int) -> bool:
    alive = db.session.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": backend})
    db.session.commit()  # the server's activity view is read once a transaction: each look needs its own
    return alive > 0


@pytest.fixture
def reader(ctx):
    if not is_postgres():
        pytest.skip("PostgreSQL only: on SQLite a ReservedConnection keeps no connection (it reads with "
                    "read_first, which the front's other tests exercise there)")
    return ReservedConnection(db.engine)


def test_the_readers_connection_is_its_own_and_closes_with_it(reader):
    """In autocommit, it must never go back to the pool, where a transaction would get it."""
    checked_out = db.engine.pool.checkedout()
    reader = ReservedConnection(db.engine)  # the fixture's would outlive the test
    backend = _backend_pid(reader)
    assert db.engine.pool.checkedout() == checked_out
    del reader
    gc.collect()
    assert wait_for(lambda: not _alive(backend))


def test_the_readers_connection_stays_and_one_that_died_is_replaced(reader):
    first = _backend_pid(reader)
    assert _backend_pid(reader) == first  # the same connection, read after read
    db.session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
    db.session.commit()
    assert wait_for(lambda: not _alive(first))
    with pytest.raises(Exception, match="terminat|closed|server"):
        _backend_pid(reader)
    assert _backend_pid(reader) not in (first, None)  # another connection, checked out anew


def test_a_forked_child_reads_on_its_own_connection_and_leaves_its_parents_alone(reader):
    parent = _backend_pid(reader)
    readable, writable = os.pipe()
    child = os.fork()
    if child == 0:  # the child: a pool of its own (as a forked worker must), then the reader
        try:
            db.engine.dispose(close=False)
            os.write(writable, str(_backend_pid(reader)).encode())
        finally:
            os._exit(0)
    os.close(writable)
    os.waitpid(child, 0)
    with os.fdopen(readable) as pipe:
        seen_by_child = int(pipe.read() or 0)
    assert seen_by_child not in (0, parent)
    assert _backend_pid(reader) == parent  # the parent's connection still works


def _posted(client, token: str, answers: dict, **fields):
    """Page 1's answers as a browser sends them: with the page's hidden fields."""
    return client.post(f"/s/{token}", data={**hidden_fields(client, f"/s/{token}?page=1"), **fields, **answers})


def test_a_first_answer_stored_in_front_is_the_views_redirect_and_rows(ctx, app, client, front, monkeypatch):
    """On PostgreSQL the front stores a first answer in one statement; the view, on SQLite."""
    by_view_invitation, by_front_invitation = sent_invitation(), sent_invitation(id="C-2", phone="+8613800138001")
    db.session.execute(update(Ticket).values(region="华东", agent="A-7"))  # copied into the response
    db.session.commit()
    fields = hidden_fields(client, f"/s/{by_view_invitation.token}")
    monkeypatch.setattr(app, "wsgi_app", front.inner)  # the view alone
    by_view = client.post(f"/s/{by_view_invitation.token}", data={**fields, "overall": "2"})
    monkeypatch.undo()
    served = front.served
    by_front = _posted(client, by_front_invitation.token, {"overall": "2"})
    assert front.served == served + is_postgres()  # the page's GET had a query string: the view
    assert by_front.status_code == 302 and by_front.headers["Location"] == f"/s/{by_front_invitation.token}?page=2"
    swapped = [(name, value.replace(by_view_invitation.token, by_front_invitation.token))
               for name, value in by_view.headers]
    assert (by_front.status, list(by_front.headers)) == (by_view.status, swapped)
    assert by_front.get_data() == by_view.get_data().replace(by_view_invitation.token.encode(),
                                                             by_front_invitation.token.encode())
    stored = _stored_rows(by_front_invitation)
    assert stored == _stored_rows(by_view_invitation)
    assert stored["state"] == "started" and stored["answers"] == [("overall", 2.0, None)]
    assert stored["response"]["region"] == "华东" and stored["response"]["progress"] == 1


def test_first_answers_the_front_cannot_store_reach_the_view(ctx, client, front):
    invitation = sent_invitation(locale="en", id="C-EN", phone="+447700900123")
    token = invitation.token
    served = front.served
    missing = _posted(client, token, {})  # a required answer left out: the page again, in English
    assert missing.status_code == 400 and "Please answer this question." in missing.get_data(as_text=True)
    other_version = _posted(client, token, {"overall": "3"}, **{VERSION_FIELD: "1-" + "0" * 64})
    assert other_version.status_code == 302  # a version the front does not know: the view stores it
    assert stored_response(invitation.id).answer_map() == {"overall": 3}
    again = _posted(client, token, {"overall": "5"})  # answered already: the view changes the answer
    assert again.status_code == 302 and stored_response(invitation.id).answer_map() == {"overall": 5}
    forged = client.post(f"/s/{token}", data={"overall": "4", "page": "1", "csrf_token": "0" * 64})
    assert forged.status_code == 400 and stored_response(invitation.id).answer_map() == {"overall": 5}
    assert front.served == served


@pytest.mark.parametrize("change", [{"state": "completed"}, {"state": "suppressed"},
                                    {"expires_at": utcnow() - timedelta(minutes=1)}])
def test_the_fronts_statement_stores_nothing_for_an_invitation_that_cannot_take_it(ctx, change):
    if not is_postgres():
        pytest.skip("PostgreSQL only: the statement is PostgreSQL's (on SQLite the view stores answers)")
    invitation = sent_invitation()
    version = db.session.get(QuestionnaireVersion, invitation.version_id)
    db.session.execute(update(Invitation).where(Invitation.id == invitation.id).values(**change))
    db.session.commit()
    connection = ReservedConnection(db.engine)
    assert not store_first_answer(connection.first, invitation.token, version.id, version.checksum, 1, {"overall": 4})
    assert not store_first_answer(connection.first, "unknown", version.id, version.checksum, 1, {"overall": 4})
    assert stored_response(invitation.id) is None


def test_when_the_fronts_write_fails_the_view_stores_the_answer(ctx, client, front, monkeypatch):
    invitation = sent_invitation()

    def failing(*_args):
        raise RuntimeError("the database went away")

    monkeypatch.setattr("surveys.front.store_first_answer", failing)
    served = front.served
    assert _posted(client, invitation.token, {"overall": "4"}).status_code == 302
    assert front.served == served
    assert stored_response(invitation.id).answer_map() == {"overall": 4}
