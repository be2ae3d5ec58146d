"""The form's paths without an email address, and what the confirmation page says."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import func, select

from engage.extensions import db
from engage.feedback.models import FeedbackItem
from engage.feedback.validation import NO_EMAIL_FOR_CONTACT


def _post(client, engagement, **fields):
    data = {"text": "The merger will take decisions away from Harrow.", "author_email": ""}
    data.update(fields)
    return client.post(f"/engagements/{engagement.slug}/feedback", data=data)


def _items() -> int:
    return db.session.scalar(select(func.count()).select_from(FeedbackItem))


def _sent_page(client, response) -> str:
    assert response.status_code == 303
    return client.get(response.headers["Location"]).get_data(as_text=True)


def test_email_me_without_an_address_is_an_error_and_stores_nothing(client, make_engagement):
    engagement = make_engagement()
    response = _post(client, engagement, contact_me="y", author_email="  ")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "There is a problem" in page and 'href="#author_email"' in page
    assert NO_EMAIL_FOR_CONTACT in page
    # What was typed is kept for the next try.
    assert "decisions away from Harrow.</textarea>" in page
    assert _items() == 0


def test_every_problem_is_listed_together(client, make_engagement):
    response = _post(client, make_engagement(), contact_me="y", text="short")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'href="#text"' in page and 'href="#author_email"' in page
    assert _items() == 0


def test_email_me_with_an_address_is_stored(client, make_engagement):
    response = _post(client, make_engagement(), contact_me="y", author_email="kim@example.org")
    page = _sent_page(client, response)
    item = db.session.scalar(select(FeedbackItem))
    assert item.contact_me and item.author_email == "kim@example.org"
    assert "with it and your email address you can" in page
    assert 'href="/track"' in page


def test_confirmation_without_email_never_mentions_tracking_by_email(client, make_engagement):
    page = _sent_page(client, _post(client, make_engagement()))
    [reference] = re.findall(r"YS-\d{4}-\d{6}", page)
    assert db.session.scalar(select(FeedbackItem.author_email)) is None
    main = page.split("<main", 1)[1].split("</main>", 1)[0]
    assert "email address you can" not in main and "track your feedback" not in main
    assert "a copy of your reference number" not in main
    assert "You did not give an email address" in main
    assert reference in main


def test_closed_engagement_confirmation_says_general_feedback(client, make_engagement):
    closed = make_engagement(
        title="Case for change", opens_on=date(2019, 5, 28), closes_on=date(2019, 8, 24)
    )
    page = _sent_page(client, _post(client, closed))
    assert (
        "The engagement you wrote to, Case for change, had closed, so we have filed your "
        "comment as general feedback"
    ) in page
    assert db.session.scalar(select(FeedbackItem.engagement_id)) is None

    open_page = _sent_page(client, _post(client, make_engagement(), text="Another comment here."))
    assert "general feedback" not in open_page


def test_an_engagement_not_open_yet_takes_general_feedback_and_says_so(client, make_engagement):
    later = make_engagement(
        title="Next year", opens_on=date(2099, 1, 1), closes_on=date(2099, 3, 1)
    )
    form = client.get(f"/engagements/{later.slug}").get_data(as_text=True)
    assert "This engagement opens on 1 January 2099" in form and "closed on" not in form
    page = _sent_page(client, _post(client, later))
    assert "The engagement you wrote to, Next year, is not open yet, so we have filed" in page
    assert db.session.scalar(select(FeedbackItem.engagement_id)) is None
