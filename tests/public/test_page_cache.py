"""Public pages served from memory (engage.pagecache): fast, and never out of date.

A stored page must be served again only while nothing it shows has changed: every
test here changes something through the real services and checks the next page.
"""

from __future__ import annotations

import re

import pytest
from flask import g
from sqlalchemy import select, update

from engage import pagecache as cache
from engage.extensions import db
from engage.feedback.models import Status
from engage.pagecache.models import PublicState
from engage.publish import service as publish
from engage.publish import votes as voting
from engage.publish.models import Response, ResponseStatus
from engage.staff.models import Role
from tests.databases import counting_statements


def version() -> int:
    db.session.expire_all()
    return db.session.scalar(select(PublicState.version).where(PublicState.id == 1)) or 0


@pytest.fixture
def published(make_engagement, make_item, make_response):
    engagement = make_engagement(slug="case-for-change", areas=["Harrow"])
    item = make_item(engagement_slug=engagement.slug, area="Harrow")
    response = make_response(
        engagement=engagement, items=[item], you_said="the CCG will not listen to Harrow."
    )
    return {"engagement": engagement, "item": item, "response": response}


def test_a_stored_page_costs_one_query_and_is_the_same_page(client, published):
    made = client.get("/you-said-we-did")
    with counting_statements() as statements:
        again = client.get("/you-said-we-did")
    assert again.status_code == 200 and again.get_data() == made.get_data()
    assert len(statements) == 1 and "public_state" in statements[0]  # the version, nothing else
    assert cache.store().hits >= 1


@pytest.mark.parametrize(
    "path",
    [
        "/you-said-we-did",
        "/api/v1/responses",
        "/you-said-we-did/feed.atom",
        "/open-data/responses.json",
        "/engagements/case-for-change",
        "/you-said-we-did/{response}",
    ],
)
def test_each_change_to_a_response_shows_at_once(client, published, path):
    response = published["response"]
    url = path.format(response=response.id)
    assert "will not listen to Harrow" in client.get(url).get_data(as_text=True)

    publish.update(response, you_said="the CCG ignores Brent.", by="lead@nhs.example")
    db.session.commit()
    page = client.get(url).get_data(as_text=True)
    assert "ignores Brent" in page
    if "{response}" not in path:  # a response's own page keeps earlier wording in its history
        assert "will not listen to Harrow" not in page

    publish.unpublish(response, reason="Wrong engagement", by="lead@nhs.example")
    db.session.commit()
    after = client.get(url)
    assert after.status_code == 404 or "ignores Brent" not in after.get_data(as_text=True)


def test_status_milestones_votes_and_spam_move_the_version(client, published):
    response, item = published["response"], published["item"]
    before = version()
    publish.change_status(
        response, status=ResponseStatus.DONE, note="Committee met", by="x", notify=False
    )
    db.session.commit()
    assert version() > before
    assert client.get("/api/v1/responses").get_json()["items"][0]["status"] == "done"

    voting.vote(response, helpful=True)
    db.session.commit()
    assert client.get("/api/v1/responses").get_json()["items"][0]["votes"]["yes"] == 1

    assert client.get("/api/v1/responses").get_json()["items"][0]["people_raising"] == 1
    item.status = Status.SPAM  # spam is not counted among the people raising a concern
    db.session.commit()
    assert client.get("/api/v1/responses").get_json()["items"][0]["people_raising"] == 0


def test_a_corrected_redaction_shows_at_once(
    client, make_engagement, make_item, make_response, make_staff
):
    # A name missed in a published quote is put right by redacting again: the public
    # page must drop the old words on the next request, not when the page expires.
    from engage.staff.item_actions import save_redaction

    engagement = make_engagement(slug="quoted", areas=["Harrow"])
    item = make_item(
        "Call me on 07700 900123, Ann Shah, about the walk-in centre.",
        engagement_slug=engagement.slug,
        area="Harrow",
        consent_to_quote=True,
    )
    staff = make_staff(Role.TRIAGER)
    save_redaction(item, "Call me, Ann Shah, about the walk-in centre.", by=staff)
    db.session.commit()
    response = make_response(engagement=engagement, items=[item], you_said="the centre closes.")
    url = f"/you-said-we-did/{response.id}"
    assert "Ann Shah" in client.get(url).get_data(as_text=True)

    before = version()
    save_redaction(item, "Call me, [name], about the walk-in centre.", by=staff)
    db.session.commit()
    assert version() > before
    page = client.get(url).get_data(as_text=True)
    assert "[name], about the walk-in centre" in page and "Ann Shah" not in page


def test_new_feedback_does_not_move_the_version(published, make_item):
    before = version()
    make_item("Another comment about Harrow", engagement_slug="case-for-change")
    assert version() == before


def test_a_change_rolled_back_moves_nothing(published):
    before = version()
    publish.update(published["response"], you_said="never committed", by="x")
    db.session.flush()
    db.session.rollback()
    assert version() == before


def test_conditional_requests_get_304_until_a_change(client, published):
    first = client.get("/you-said-we-did/feed.atom")
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "public, no-cache"
    assert first.headers["Last-Modified"]
    same = client.get("/you-said-we-did/feed.atom", headers={"If-None-Match": etag})
    assert same.status_code == 304 and same.get_data() == b""

    publish.update(published["response"], we_did="A new answer.", by="x")
    db.session.commit()
    changed = client.get("/you-said-we-did/feed.atom", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert b"A new answer." in changed.get_data()


def _token(page: str) -> str:
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    assert found, "no CSRF token on the page"
    return found.group(1)


def test_every_visitor_gets_their_own_working_form_token(app, published, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    # The engagement page shows counts, so it is kept only while they are (the tests'
    # default, 0, would make every visit a fresh page).
    monkeypatch.setitem(app.config, "ENGAGE_FIGURES_MAX_AGE", 60)
    url = "/engagements/case-for-change"
    first, second = app.test_client(), app.test_client()
    page_one = first.get(url)
    hits = cache.store().hits
    # Flask-WTF keeps a request's token on g; the test's app context outlives requests.
    g.pop("csrf_token", None)
    page_two = second.get(url)  # from the store
    assert cache.store().hits == hits + 1
    assert page_two.headers["Cache-Control"] == "private, no-cache"
    assert "ETag" not in page_two.headers
    one, two = _token(page_one.get_data(as_text=True)), _token(page_two.get_data(as_text=True))
    assert one != two
    for client, token in ((first, one), (second, two)):
        g.pop("csrf_token", None)
        sent = client.post(
            f"{url}/feedback",
            data={"csrf_token": token, "text": "Keep the walk-in centre open in Harrow."},
        )
        assert sent.status_code == 303, sent.get_data(as_text=True)[:500]
    # One visitor's token is no good to another.
    g.pop("csrf_token", None)
    refused = first.post(f"{url}/feedback", data={"csrf_token": two, "text": "Another view."})
    assert refused.status_code == 400


def test_figures_are_kept_a_while_and_say_when_they_were_counted(
    app, client, published, make_item, monkeypatch
):
    monkeypatch.setitem(app.config, "ENGAGE_FIGURES_MAX_AGE", 60)
    url = "/engagements/case-for-change"
    page = client.get(url).get_data(as_text=True)
    assert re.search(r">1</span> comment received", page)
    assert re.search(r"Counted at \d{1,2}:\d\d[ap]m on \d{1,2} \w+ \d{4}", page)
    make_item("A second comment about Harrow", engagement_slug="case-for-change")
    assert re.search(r">1</span> comment received", client.get(url).get_data(as_text=True))
    monkeypatch.setitem(app.config, "ENGAGE_FIGURES_MAX_AGE", 0)  # as when the minute is up
    assert re.search(r">2</span> comments received", client.get(url).get_data(as_text=True))


def test_signed_in_staff_are_never_served_a_stored_page(client, published, signed_in):
    client.get("/you-said-we-did")  # stored for the public
    staff = signed_in(Role.TRIAGER)
    page = staff.get("/you-said-we-did").get_data(as_text=True)
    assert "Sign out" in page
    assert "Sign out" not in client.get("/you-said-we-did").get_data(as_text=True)


def test_a_flash_message_is_shown_once_and_not_stored(client, published):
    client.get("/you-said-we-did")  # stored, without the message
    with client.session_transaction() as session:
        session["_flashes"] = [("success", "Thank you for signing up")]
    assert "Thank you for signing up" in client.get("/you-said-we-did").get_data(as_text=True)
    assert "Thank you for signing up" not in client.get("/you-said-we-did").get_data(as_text=True)


def test_switched_off_nothing_is_stored(app, client, published, monkeypatch):
    monkeypatch.setitem(app.config, "ENGAGE_PAGE_CACHE", False)
    client.get("/you-said-we-did")
    client.get("/you-said-we-did")
    assert len(cache.store()) == 0


def test_the_store_is_bounded_and_pages_expire():
    store = cache.PageStore(entries=2)
    page = cache.CachedPage(b"x", (), "e", stored_at=0.0, has_hole=False)
    fresh = cache.CachedPage(b"y", (), "f", stored_at=float("inf"), has_hole=False)
    store.put(("a",), fresh)
    store.put(("b",), fresh)
    store.get(("a",), max_age=60)  # "a" used: "b" is now the least recently used
    store.put(("c",), fresh)
    assert len(store) == 2 and store.get(("b",), 60) is None and store.get(("a",), 60) is fresh
    store.put(("old",), page)  # stored long ago
    assert store.get(("old",), max_age=60) is None


def test_a_process_trusts_the_version_it_read_for_a_moment(app, client, published, monkeypatch):
    """Stored pages cost no query at all while the version read is fresh; a change
    committed in this process shows at once, one from another process within the time."""
    monkeypatch.setitem(app.config, "ENGAGE_PAGE_VERSION_MAX_AGE", 60)
    client.get("/you-said-we-did")
    with counting_statements() as statements:
        assert client.get("/you-said-we-did").status_code == 200
    assert statements == []

    publish.update(published["response"], you_said="the CCG ignores Brent.", by="x")
    db.session.commit()  # this process's own change: seen on the next request
    assert "ignores Brent" in client.get("/you-said-we-did").get_data(as_text=True)

    # Another process publishes: its own connection, its own transaction.
    with db.engine.begin() as other:
        other.execute(
            update(Response)
            .where(Response.id == published["response"].id)
            .values(you_said="the CCG ignores Ealing.")
        )
        other.execute(update(PublicState).values(version=PublicState.version + 1))
    assert "ignores Brent" in client.get("/you-said-we-did").get_data(as_text=True)
    monkeypatch.setitem(app.config, "ENGAGE_PAGE_VERSION_MAX_AGE", 0)  # the time is up
    db.session.expire_all()  # as a new request's session would be (the test's outlives it)
    assert "ignores Ealing" in client.get("/you-said-we-did").get_data(as_text=True)
