"""Public copy follows the NHS.UK content guide: plurals agree with their numbers."""

from __future__ import annotations

import re

from engage.extensions import db
from engage.feedback.models import Status


def _text(client, url: str) -> str:
    html = client.get(url).get_data(as_text=True)
    main = html.split("<main", 1)[1].split("</main>", 1)[0]
    return " ".join(re.sub(r"<[^>]+>", " ", main).split())


def test_one_and_many(client, make_engagement, make_item, make_response):
    engagement = make_engagement()
    item = make_item(engagement_slug=engagement.slug)
    one = make_response(engagement=engagement, items=[item], you_said="one worry.")
    assert "1 response matches your filters" in _text(client, "/you-said-we-did?q=one+worry")
    assert "raised by 1 person" in _text(client, "/you-said-we-did?q=one+worry")
    assert "1 person raised this concern" in _text(client, f"/you-said-we-did/{one.id}")

    make_response(engagement=engagement, you_said="second worry.")
    assert "2 responses match your filters" in _text(
        client, f"/you-said-we-did?engagement={engagement.slug}"
    )
    assert "raised by 0 people" in _text(client, "/you-said-we-did?q=second")


def test_no_answers_yet_is_said_in_words(client, make_response):
    response = make_response()
    page = _text(client, f"/you-said-we-did/{response.id}")
    assert "No one has answered yet." in page and "0 people said yes" not in page
    client.post(f"/you-said-we-did/{response.id}/vote", data={"helpful": "yes"})
    assert "1 person said yes, 0 said no." in _text(client, f"/you-said-we-did/{response.id}")


def test_spam_is_not_a_person(client, make_engagement, make_item, make_response):
    engagement = make_engagement()
    spam = make_item(engagement_slug=engagement.slug)
    spam.status = Status.SPAM
    db.session.commit()
    response = make_response(
        engagement=engagement, items=[spam, make_item(engagement_slug=engagement.slug)]
    )
    assert "1 person raised this concern" in _text(client, f"/you-said-we-did/{response.id}")


def test_api_is_written_in_capitals(client):
    for url in ("/", "/api", "/open-data"):
        page = client.get(url).get_data(as_text=True)
        assert ">API<" in page, url
        assert "Api" not in page, url
