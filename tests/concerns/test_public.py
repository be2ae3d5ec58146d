"""The public sees a concern once its response is published: on the page and as open data."""

from __future__ import annotations

from flask import current_app

from engage.concerns import service, steering
from engage.extensions import db
from engage.publish import service as publish
from tests.concerns.conftest import evaluation_rows


def _answered(make_engagement, add_items, theme_named):
    engagement = make_engagement()
    theme = theme_named("services")
    items = add_items(engagement, "services", [r["text"] for r in evaluation_rows("services")])
    service.refresh(engagement, theme)
    db.session.commit()
    concern = service.concerns_of(engagement, theme)[0]
    steering.rename(concern, label="GP access", draft="you cannot get a GP appointment in time.")
    response = steering.create_response(concern, engagement=engagement)
    db.session.commit()
    return engagement, concern, response, items


def test_a_concern_shows_on_the_engagement_page_only_once_answered_in_public(
    client, make_engagement, add_items, theme_named
):
    engagement, concern, response, _items = _answered(make_engagement, add_items, theme_named)
    draft = "you cannot get a GP appointment in time."
    page = client.get(f"/engagements/{engagement.slug}").get_data(as_text=True)
    assert draft not in page, "a draft response is not public"
    assert "Concerns we have answered" not in page
    publish.update(response, we_did="We are adding evening appointments.")
    publish.publish(response, notify=False)
    db.session.commit()
    page = client.get(f"/engagements/{engagement.slug}").get_data(as_text=True)
    assert draft in page and "Concerns we have answered" in page
    assert f"<span>{len(concern.members)}</span></td>" in page
    steering.set_hidden(concern, hidden=True)
    db.session.commit()
    page = client.get(f"/engagements/{engagement.slug}").get_data(as_text=True)
    assert "Concerns we have answered" not in page, "a hidden concern is not shown"


def test_open_data_lists_answered_concerns_without_any_feedback_text(
    client, make_engagement, add_items, theme_named
):
    engagement, concern, response, items = _answered(make_engagement, add_items, theme_named)
    assert client.get("/open-data/concerns.json").get_json()["concerns"] == []
    publish.update(response, we_did="We are adding evening appointments.")
    publish.publish(response, notify=False)
    db.session.commit()
    # The link comes from ENGAGE_BASE_URL, whatever Host the request names.
    data = client.get("/open-data/concerns.json", headers={"Host": "evil.example"}).get_json()
    assert data["licence"]["name"]
    (row,) = data["concerns"]
    assert row["concern"] == "GP access" and row["people"] == len(concern.members)
    base = current_app.config["ENGAGE_BASE_URL"].rstrip("/")
    assert row["response_url"] == f"{base}/you-said-we-did/{response.id}"
    assert "evil.example" not in str(data)
    csv_text = client.get("/open-data/concerns.csv").get_data(as_text=True)
    assert "GP access" in csv_text
    for item in items:
        assert item.text not in csv_text and item.text not in str(data)


def test_the_open_data_page_describes_the_concerns_files(client):
    page = client.get("/open-data").get_data(as_text=True)
    assert 'href="/open-data/concerns.csv"' in page and 'href="/open-data/concerns.json"' in page
