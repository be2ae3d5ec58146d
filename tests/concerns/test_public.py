"""The public sees a concern once its response is published: on the page and as open data."""

from __future__ import annotations

import csv
import io
import re

from flask import current_app
from sqlalchemy import select

from engage import pagecache as cache
from engage.concerns import placing, service, steering
from engage.extensions import db
from engage.pagecache.models import PublicState
from engage.publish import service as publish
from engage.staff.models import Role
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


def test_the_open_data_page_describes_the_concerns_files(
    client, make_engagement, add_items, theme_named
):
    _engagement, _concern, response, _items = _answered(make_engagement, add_items, theme_named)
    publish.update(response, we_did="We are adding evening appointments.")
    publish.publish(response, notify=False)
    db.session.commit()
    page = client.get("/open-data").get_data(as_text=True)
    section = page[page.index("<h2>Concerns we have answered</h2>") :]
    section = section[: section.index("<h2>", 4)]
    links = re.findall(r'href="(/open-data/concerns\.[a-z]+)"', section)
    assert links == ["/open-data/concerns.csv", "/open-data/concerns.json"]
    fields = ["engagement", "theme", "concern", "people", "response_url"]
    assert f"Columns: {', '.join(fields)}." in section
    assert 'under "concerns"' in section, "the JSON file's layout is said too"
    # The links work, and the files hold the fields the page names.
    csv_file = client.get(links[0])
    assert csv_file.status_code == 200 and csv_file.mimetype == "text/csv"
    header, row = list(csv.reader(io.StringIO(csv_file.get_data(as_text=True).lstrip("\ufeff"))))
    assert header == fields and row[2] == "GP access"
    json_file = client.get(links[1])
    assert json_file.status_code == 200 and json_file.mimetype == "application/json"
    [concern] = json_file.get_json()["concerns"]
    assert sorted(concern) == sorted(fields)


def _version() -> int:
    db.session.expire_all()
    return db.session.scalar(select(PublicState.version).where(PublicState.id == 1)) or 0


def test_hiding_or_merging_a_published_concern_refreshes_the_stored_engagement_page(
    app, client, make_engagement, add_items, theme_named, signed_in, monkeypatch
):
    # The engagement page counts feedback: stored for a minute, as in production.
    monkeypatch.setitem(app.config, "ENGAGE_FIGURES_MAX_AGE", 60)
    engagement, concern, response, _items = _answered(make_engagement, add_items, theme_named)
    publish.update(response, we_did="We are adding evening appointments.")
    publish.publish(response, notify=False)
    db.session.commit()
    url = f"/engagements/{engagement.slug}"
    answered = "Concerns we have answered"
    assert answered in client.get(url).get_data(as_text=True)
    hits = cache.store().hits
    assert answered in client.get(url).get_data(as_text=True)
    assert cache.store().hits == hits + 1, "the page is served from the store"

    triager = signed_in(Role.TRIAGER)
    hide = f"/staff/concerns/{concern.id}/hide"
    assert triager.post(hide, data={"hidden": "1"}).status_code == 302
    assert answered not in client.get(url).get_data(as_text=True), "hidden at once"
    assert triager.post(hide, data={"hidden": "0"}).status_code == 302
    assert answered in client.get(url).get_data(as_text=True), "shown again at once"

    # The worker describing concerns again (centres, examples) does not move the
    # version: that would empty every public page at each placing.
    before = _version()
    placing.describe(engagement.id, concern.theme_id)
    assert _version() == before

    # Merged into another concern, the answered one is gone from the page at once.
    other = next(c for c in service.concerns_of(engagement, concern.theme) if c.id != concern.id)
    merged = triager.post(f"/staff/concerns/{other.id}/merge", data={"other": concern.id})
    assert merged.status_code == 302
    assert answered not in client.get(url).get_data(as_text=True)
