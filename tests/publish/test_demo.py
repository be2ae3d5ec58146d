"""Demo responses loaded from the team's CSV."""

from __future__ import annotations

import csv
from datetime import date, datetime

from engage.extensions import db
from engage.feedback.models import TagSource, ThemeTag
from engage.outbox.models import OutboxMessage
from engage.publish.demo import load_demo_responses
from engage.publish.models import Response, ResponseState
from tests.publish.factories import theme


def test_missing_file_loads_nothing(app, tmp_path):
    assert load_demo_responses({"nwl": "x"}, path=tmp_path / "none.csv") == 0


def test_loads_publishes_and_links_by_theme(app, tmp_path, make_engagement, make_item):
    engagement = make_engagement(opens_on=date(2019, 5, 28))
    money = make_item(
        engagement_slug=engagement.slug,
        submitted_at=datetime(2019, 6, 1),
        author_email="m@example.org",
        contact_me=True,
    )
    db.session.add(ThemeTag(item=money, theme=theme("money"), source=TagSource.STAFF))
    other = make_item(engagement_slug=engagement.slug, submitted_at=datetime(2019, 6, 1))
    db.session.add(ThemeTag(item=other, theme=theme("jobs"), source=TagSource.STAFF))
    db.session.commit()
    path = tmp_path / "responses.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["engagement", "themes", "you_said", "we_did", "status", "days_after_open"])
        writer.writerow(
            ["nwl", "money", "money is unfair.", "We publish budgets.", "planned", "30"]
        )
        writer.writerow(["zzz", "money", "unknown.", "Skipped.", "done", "3"])
        writer.writerow(["nwl", "services", "A&E.", "Kept.", "bogus", "40"])
    before = db.session.query(OutboxMessage).count()
    assert load_demo_responses({"nwl": engagement.slug}, path=path) == 2
    assert load_demo_responses({"nwl": engagement.slug}, path=path) == 0
    first = db.session.query(Response).filter_by(you_said="money is unfair.").one()
    assert first.state == ResponseState.PUBLISHED and first.items == [money]
    assert first.published_at == datetime(2019, 6, 27, 10)
    assert db.session.query(OutboxMessage).count() == before  # no emails for demo data
