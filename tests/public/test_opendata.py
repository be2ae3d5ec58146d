"""Open data files: what they contain, and that no personal data leaks into them."""

from __future__ import annotations

import csv
import io
import json

from engage.extensions import db
from engage.feedback.models import Status
from engage.publish import votes as voting

NAME = "Wilhelmina Quarterbridge"
EMAIL = "w.quarterbridge@private-mail.example"
TEXT = "my neighbour at 14 Larkspur Mews saw the consultant"
COMMENT = "Vote comment about Zanzibar Crescent clinic"


def test_exports_contain_no_personal_data(client, make_engagement, make_item, make_response):
    engagement = make_engagement()
    item = make_item(
        TEXT,
        engagement_slug=engagement.slug,
        author_name=NAME,
        author_email=EMAIL,
        area="Harrow",
        consent_to_quote=True,
        contact_me=True,
        subject="Private subject line Quasimodo",
    )
    response = make_response(engagement=engagement, items=[item], themes=("services",))
    voting.vote(response, helpful=False, comment=COMMENT)
    db.session.commit()
    secrets = [
        NAME,
        "Quarterbridge",
        EMAIL,
        "private-mail",
        TEXT,
        "Larkspur",
        COMMENT,
        "Zanzibar",
        item.reference,
        "Quasimodo",
    ]
    urls = [
        "/open-data/responses.csv",
        "/open-data/responses.json",
        "/open-data/feedback-counts.csv",
        "/open-data/feedback-counts.json",
        "/api/v1/responses",
        "/api/v1/engagements",
        "/api/v1/themes",
        "/api/v1/statistics",
        "/you-said-we-did/feed.atom",
        "/you-said-we-did",
        f"/you-said-we-did/{response.id}",
        f"/engagements/{engagement.slug}/report",
    ]
    for url in urls:
        body = client.get(url).get_data(as_text=True)
        for secret in secrets:
            assert secret.lower() not in body.lower(), (url, secret)


def test_response_csv_and_json(client, make_response):
    response = make_response(you_said='=HYPERLINK("http://evil") is a risk.')
    raw = client.get("/open-data/responses.csv")
    assert raw.mimetype == "text/csv" and "attachment" in raw.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(raw.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0]["id"] == str(response.id)
    assert rows[0]["you_said"].startswith("'=")  # never a live spreadsheet formula
    data = json.loads(client.get("/open-data/responses.json").data)
    assert data["licence"]["name"] == "Open Government Licence v3.0"
    assert data["responses"][0]["status"] == "planned"


def test_counts_by_theme_area_week(client, make_engagement, make_item):
    from datetime import datetime

    from engage.feedback.models import TagSource, ThemeTag
    from tests.publish.factories import theme

    engagement = make_engagement()
    monday = datetime(2019, 6, 3, 12)
    a = make_item(engagement_slug=engagement.slug, area="Harrow", submitted_at=monday)
    b = make_item(engagement_slug=engagement.slug, area="Harrow", submitted_at=monday)
    spam = make_item(engagement_slug=engagement.slug, area="Harrow", submitted_at=monday)
    spam.status = Status.SPAM
    money, jobs = theme("money"), theme("jobs")
    db.session.add_all(
        [
            ThemeTag(item=a, theme=money, source=TagSource.STAFF),
            ThemeTag(item=a, theme=jobs, source=TagSource.STAFF),
            ThemeTag(item=b, theme=money, source=TagSource.STAFF),
        ]
    )
    db.session.commit()
    counts = json.loads(client.get("/open-data/feedback-counts.json").data)["counts"]
    found = {(c["theme"], c["area"], c["week_beginning"]): c["comments"] for c in counts}
    assert found == {("jobs", "Harrow", "2019-06-03"): 1, ("money", "Harrow", "2019-06-03"): 2}
    text = client.get("/open-data/feedback-counts.csv").get_data(as_text=True)
    assert "engagement,theme,area,week_beginning,comments" in text
