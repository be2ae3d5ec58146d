"""No N+1 queries: a page costs the same number of SQL statements for 5 rows or 25."""

from __future__ import annotations

import pytest

from engage.extensions import db
from engage.feedback.models import Theme
from engage.publish import service as publish
from engage.staff.models import Role
from tests.databases import counting_statements


def _fill(make_engagement, make_item, n: int, engagement=None):
    engagement = engagement or make_engagement()
    money = db.session.scalars(db.select(Theme).where(Theme.slug == "money")).one()
    for i in range(n):
        item = make_item(
            f"Comment {i} about the budget in Brent",
            engagement_slug=engagement.slug,
            area="Brent",
            consent_to_quote=True,
        )
        item.redacted_text = f"Comment {i}, redacted"
        response = publish.create_draft(
            engagement=engagement,
            you_said=f"concern number {i}",
            we_did="We act.",
            themes=[money],
            items=[item],
        )
        publish.publish(response, notify=False)
    db.session.commit()
    return engagement


def _cost(client, url: str) -> int:
    db.session.expire_all()
    with counting_statements() as statements:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(statements)


@pytest.mark.parametrize(
    "url",
    [
        "/you-said-we-did",
        "/api/v1/responses?per_page=50",
        "/engagements/{slug}",
        "/you-said-we-did/feed.atom",
    ],
)
def test_public_pages_do_not_grow_with_rows(client, make_engagement, make_item, url):
    engagement = _fill(make_engagement, make_item, 5)
    url = url.format(slug=engagement.slug)
    small = _cost(client, url)
    _fill(make_engagement, make_item, 20, engagement)
    assert _cost(client, url) == small


def test_staff_inbox_does_not_grow_with_rows(signed_in, make_engagement, make_item):
    client = signed_in(Role.TRIAGER)
    engagement = _fill(make_engagement, make_item, 5)
    small = _cost(client, "/staff/inbox?q=budget")
    _fill(make_engagement, make_item, 20, engagement)
    assert _cost(client, "/staff/inbox?q=budget") == small
