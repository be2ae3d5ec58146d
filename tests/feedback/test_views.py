"""The resident's form, the confirmation page, tracking and unsubscribing."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from engage.extensions import db, limiter
from engage.feedback.models import FeedbackItem, Status
from engage.feedback.notifications import unsubscribe_token


def count_items() -> int:
    return db.session.scalar(select(func.count()).select_from(FeedbackItem))


def post_feedback(client, engagement, **fields):
    data = {
        "text": "The merger will take decisions away from Harrow.",
        "author_name": "",
        "author_email": "",
        "area": "",
    }
    data.update(fields)
    return client.post(f"/engagements/{engagement.slug}/feedback", data=data)


def test_form_is_on_the_engagement_page(client, make_engagement):
    engagement = make_engagement(areas=["Brent", "Harrow"])
    page = client.get(f"/engagements/{engagement.slug}").get_data(as_text=True)
    assert f'action="/engagements/{engagement.slug}/feedback"' in page
    for label in (
        "Your feedback",
        "Your name (optional)",
        "Email address (optional)",
        "Where do you live? (optional)",
    ):
        assert label in page
    assert re.search(r'<option value="Harrow"\s*>Harrow</option>', page)
    assert 'for="text"' in page and 'id="text-hint"' in page


def test_submit_shows_reference(client, make_engagement):
    engagement = make_engagement()
    response = post_feedback(
        client,
        engagement,
        author_email="fay@example.org",
        area="Harrow",
        consent_to_quote="y",
        contact_me="y",
    )
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    [reference] = re.findall(r"YS-\d{4}-\d{6}", page)
    item = db.session.scalar(select(FeedbackItem).where(FeedbackItem.reference == reference))
    assert item.engagement_id == engagement.id
    assert item.area == "Harrow" and item.consent_to_quote and item.contact_me
    assert "We will send a copy of your reference number" in page


def test_errors_link_to_fields_and_keep_input(client, make_engagement):
    engagement = make_engagement()
    response = post_feedback(
        client, engagement, text="too short", author_name="Gil", author_email="not-an-email"
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "There is a problem" in page
    assert 'href="#text"' in page and 'href="#author_email"' in page
    assert "at least 10 characters" in page
    assert 'value="Gil"' in page and 'value="not-an-email"' in page
    assert ">too short</textarea>" in page
    assert "<title>Error: " in page
    assert count_items() == 0


def test_closed_engagement_takes_general_feedback(client, make_engagement):
    engagement = make_engagement(opens_on=date(2019, 5, 28), closes_on=date(2019, 8, 24))
    page = client.get(f"/engagements/{engagement.slug}").get_data(as_text=True)
    assert "Send general feedback" in page and "closed on 24 August 2019" in page
    assert post_feedback(client, engagement).status_code == 303
    item = db.session.scalar(select(FeedbackItem))
    assert item.engagement_id is None
    assert engagement.title in item.subject


def test_honeypot_refuses(client, make_engagement):
    response = post_feedback(client, make_engagement(), website="http://spam.example")
    assert response.status_code == 400
    assert count_items() == 0


def test_script_in_fields_is_stored_as_text_and_escaped(client, make_engagement):
    engagement = make_engagement()
    payload = "<script>alert('x')</script> please keep our surgery"
    response = post_feedback(
        client, engagement, text=payload, author_name="<img src=x onerror=alert(1)>"
    )
    assert response.status_code == 303
    item = db.session.scalar(select(FeedbackItem))
    assert item.text == payload
    assert item.author_name == "<img src=x onerror=alert(1)>"


@pytest.mark.parametrize("field", ["author_name", "author_email"])
def test_header_injection_rejected(client, make_engagement, field):
    response = post_feedback(
        client, make_engagement(), **{field: "x@example.org\r\nBcc: victim@example.org"}
    )
    assert response.status_code == 400
    assert "There is a problem" in response.get_data(as_text=True)
    assert count_items() == 0


def test_invalid_utf8_and_nul_never_500(client, make_engagement):
    engagement = make_engagement()
    body = b"text=" + b"caf\xe9 \x00 \xff\xfe closure of the surgery" + b"&author_name=&area="
    response = client.post(
        f"/engagements/{engagement.slug}/feedback",
        data=body,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code in (303, 400)
    for item in db.session.scalars(select(FeedbackItem)):
        assert "\x00" not in item.text


def test_area_must_be_one_of_the_engagements(client, make_engagement):
    response = post_feedback(client, make_engagement(areas=["Brent"]), area="Atlantis")
    assert response.status_code == 400
    assert count_items() == 0


def test_unknown_engagement_404(client):
    response = client.post("/engagements/nope/feedback", data={"text": "x" * 20})
    assert response.status_code == 404


def test_sent_page_without_submission_redirects(client):
    assert client.get("/feedback/sent").status_code == 302


def test_missing_csrf_is_friendly_400(app, client, make_engagement):
    engagement = make_engagement()
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = post_feedback(client, engagement)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 400
    assert "Your form has expired" in response.get_data(as_text=True)
    assert count_items() == 0


def test_form_carries_csrf_token(app, client, make_engagement):
    engagement = make_engagement()
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        page = client.get(f"/engagements/{engagement.slug}").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        response = post_feedback(client, engagement, csrf_token=token)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 303
    assert count_items() == 1


def test_track_with_matching_email(client, make_item):
    item = make_item(author_email="hal@example.org")
    item.status = Status.TRIAGED
    db.session.commit()
    page = client.post(
        "/track", data={"reference": item.reference, "author_email": "hal@example.org"}
    ).get_data(as_text=True)
    assert item.reference in page
    assert "Read and tagged by the engagement team" in page


def test_track_takes_a_reference_as_people_copy_it(client, make_item):
    # An outside review (round 21): "YS2026000316" was not found, "ys-2026-000316" was.
    item = make_item(author_email="hal@example.org")
    _ys, year, number = item.reference.split("-")
    for typed in (
        f"YS{year}{number}",
        f" ys {year} {number} ",
        f"YS/{year}/{int(number)}",
        item.reference.lower(),
    ):
        page = client.post("/track", data={"reference": typed, "author_email": "hal@example.org"})
        assert page.status_code == 200, typed
        assert item.reference in page.get_data(as_text=True)
    other = client.post(
        "/track", data={"reference": f"XS{year}{number}", "author_email": "hal@example.org"}
    )
    assert other.status_code == 400


def test_track_with_wrong_email_reveals_nothing(client, make_item):
    item = make_item(author_email="hal@example.org")
    wrong = client.post(
        "/track", data={"reference": item.reference, "author_email": "ivy@example.org"}
    )
    unknown = client.post(
        "/track", data={"reference": "YS-1999-999999", "author_email": "ivy@example.org"}
    )
    assert wrong.status_code == unknown.status_code == 400
    page = wrong.get_data(as_text=True)
    assert "We could not find that feedback" in page
    assert "merger" not in page and "Status" not in page

    # Apart from the echoed reference (and the CSP nonce), the two answers are the same.
    def normalise(html: str, reference: str) -> str:
        return re.sub(r'nonce="[^"]+"', "", html.replace(reference, ""))

    assert normalise(page, item.reference) == normalise(
        unknown.get_data(as_text=True), "YS-1999-999999"
    )


def test_unsubscribe_get_changes_nothing_post_does(client, make_item):
    item = make_item(author_email="jo@example.org", contact_me=True)
    token = unsubscribe_token(item)
    assert client.get(f"/unsubscribe/{token}").status_code == 200
    db.session.refresh(item)
    assert item.contact_me is True
    response = client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 204
    db.session.refresh(item)
    assert item.contact_me is False


def test_unsubscribe_forged_token_404(client, make_item):
    make_item(author_email="jo@example.org", contact_me=True)
    assert client.get("/unsubscribe/eyJpdGVtIjoxfQ.forged").status_code == 404
    assert client.post("/unsubscribe/eyJpdGVtIjoxfQ.forged").status_code == 404


def test_form_rate_limited(app, client, make_engagement):
    engagement = make_engagement()
    codes = [post_feedback(client, engagement).status_code for _ in range(11)]
    assert codes[:10] == [303] * 10
    assert codes[10] == 429
    assert count_items() == 10


def test_a_resident_over_the_limit_keeps_their_words(app, client, make_engagement):
    # A library's shared address can reach the limit: the page that says so must keep
    # what the resident wrote in the form, and store nothing.
    engagement = make_engagement()
    for _ in range(10):
        assert post_feedback(client, engagement).status_code == 303
    words = "The walk-in centre on Station Road <b>must</b> stay open at weekends."
    response = post_feedback(client, engagement, text=words)
    page = response.get_data(as_text=True)
    assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1
    assert "You have sent several comments in a short time" in page
    assert "The walk-in centre on Station Road &lt;b&gt;must&lt;/b&gt; stay open" in page
    assert "<form" in page and 'name="text"' in page
    assert count_items() == 10


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=400), name=st.text(max_size=60), email=st.text(max_size=60))
def test_form_never_500_and_stores_whole_or_nothing(
    app, client, make_engagement, text, name, email
):
    engagement = make_engagement()
    limiter.enabled = False
    try:
        before = count_items()
        response = post_feedback(
            client, engagement, text=text, author_name=name, author_email=email
        )
    finally:
        limiter.enabled = True
    assert response.status_code in (303, 400)
    assert count_items() == before + (1 if response.status_code == 303 else 0)


# A post sent twice ---------------------------------------------------------------------


@pytest.fixture
def csrf_on(app):
    """Flask-WTF's CSRF check as in production: its session secret names the session."""
    app.config["WTF_CSRF_ENABLED"] = True
    yield
    app.config["WTF_CSRF_ENABLED"] = False


def open_form(client, engagement) -> str:
    """Load the engagement page as a browser would; the form's CSRF token."""
    from flask import g

    g.pop("csrf_token", None)  # the test's app context outlives requests: one per browser
    page = client.get(f"/engagements/{engagement.slug}").get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def sent_reference(client, response) -> tuple[str, str]:
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    [reference] = set(re.findall(r"YS-\d{4}-\d{6}", page))
    return reference, page


def test_a_post_sent_twice_is_stored_once_and_shows_the_first_reference(
    client, make_engagement, csrf_on
):
    engagement = make_engagement()
    token = open_form(client, engagement)
    first = post_feedback(client, engagement, csrf_token=token, author_email="fay@example.org")
    again = post_feedback(client, engagement, csrf_token=token, author_email="fay@example.org")
    assert first.status_code == again.status_code == 303
    assert count_items() == 1
    reference, _ = sent_reference(client, first)
    reference_again, page = sent_reference(client, again)
    assert reference_again == reference
    assert "You sent this feedback twice" in page
    assert "We will send a copy of your reference number" in page


def test_a_first_post_does_not_say_it_was_sent_twice(client, make_engagement, csrf_on):
    engagement = make_engagement()
    response = post_feedback(client, engagement, csrf_token=open_form(client, engagement))
    _, page = sent_reference(client, response)
    assert "You sent this feedback twice" not in page


def test_other_text_or_another_browser_is_stored(app, client, make_engagement, csrf_on):
    engagement = make_engagement()
    token = open_form(client, engagement)
    assert post_feedback(client, engagement, csrf_token=token).status_code == 303
    other_text = "A second, different point about the Harrow merger."
    assert post_feedback(client, engagement, csrf_token=token, text=other_text).status_code == 303
    browser = app.test_client()
    assert (
        post_feedback(browser, engagement, csrf_token=open_form(browser, engagement)).status_code
        == 303
    )
    other_engagement = make_engagement()
    token = open_form(client, other_engagement)
    assert post_feedback(client, other_engagement, csrf_token=token).status_code == 303
    assert count_items() == 4


def test_the_same_text_after_ten_minutes_is_stored_again(client, make_engagement, csrf_on):
    from datetime import timedelta

    from sqlalchemy import update

    from engage.feedback.idempotency import DOUBLE_SUBMIT_WINDOW
    from engage.util import utcnow

    engagement = make_engagement()
    token = open_form(client, engagement)
    first, _ = sent_reference(client, post_feedback(client, engagement, csrf_token=token))
    db.session.execute(
        update(FeedbackItem).values(submitted_at=utcnow() - DOUBLE_SUBMIT_WINDOW - timedelta(1))
    )
    db.session.commit()
    later, page = sent_reference(client, post_feedback(client, engagement, csrf_token=token))
    assert later != first and count_items() == 2
    assert "You sent this feedback twice" not in page


def test_the_double_submit_check_is_one_indexed_lookup(client, make_engagement, csrf_on):
    from tests.databases import counting_statements

    engagement = make_engagement()
    token = open_form(client, engagement)
    with counting_statements() as statements:
        assert post_feedback(client, engagement, csrf_token=token).status_code == 303
    lookups = [s for s in statements if "submission_key" in s and s.lstrip().startswith("SELECT")]
    assert len(lookups) == 1
    writes = [s for s in statements if s.lstrip().split()[0] in ("INSERT", "UPDATE", "DELETE")]
    # The item, and its counts (one multi-row upsert: engage.feedback.tally).
    assert len(writes) == 2 and "INSERT INTO feedback_item" in writes[0]
    assert "INSERT INTO feedback_tally" in writes[1]
    # The engagement is read once: not again after the item's commit expired it.
    assert len([s for s in statements if "FROM engagement" in s]) == 1
    if db.engine.dialect.name == "sqlite":
        connection = db.session.connection()
        plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + lookups[0], ("x",)).all()
        assert "ix_feedback_item_submission_key" in " ".join(str(row) for row in plan)
    with counting_statements() as statements:
        assert post_feedback(client, engagement, csrf_token=token).status_code == 303
    assert not [s for s in statements if s.lstrip().split()[0] in ("INSERT", "UPDATE")]
