"""No N+1 queries: a page costs the same number of SQL statements for 5 rows or 25."""

from __future__ import annotations

import pytest

from engage.extensions import db
from engage.feedback.models import FeedbackItem, TagSource, Theme, ThemeTag
from engage.publish import service as publish
from engage.staff.models import Role
from engage.util import utcnow
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


def _items(engagement) -> list[FeedbackItem]:
    return list(
        db.session.scalars(
            db.select(FeedbackItem).where(FeedbackItem.engagement_id == engagement.id)
        )
    )


def _tag_with_model(engagement, slug: str) -> None:
    """The model's tag ``slug`` on each of the engagement's items that has none yet."""
    theme = db.session.scalars(db.select(Theme).where(Theme.slug == slug)).one()
    for item in _items(engagement):
        if not item.tags:
            item.classified_at = utcnow()
            db.session.add(
                ThemeTag(item_id=item.id, theme_id=theme.id, source=TagSource.MODEL, confidence=0.9)
            )
    db.session.commit()


# The staff pages `python -m bench growth` measures from 10,000 to 1,000,000 items
# (issue #25): the inbox plain, filtered by engagement, theme and status as the bench
# filters it, and searched; the dashboard in its default scope and over everything.
STAFF_PAGES = [
    "/staff/inbox",
    "/staff/inbox?q=budget",
    "/staff/inbox?engagement={slug}&theme=money&status=responded",
    "/staff/inbox?engagement={slug}&status=responded",
    "/staff/dashboard",
    "/staff/dashboard?engagement={slug}",
    "/staff/dashboard?engagement=all&from=2019-01-01&to=2026-12-31",
]


@pytest.mark.parametrize("url", STAFF_PAGES)
def test_staff_pages_do_not_grow_with_rows(signed_in, make_engagement, make_item, url):
    client = signed_in(Role.TRIAGER)
    engagement = _fill(make_engagement, make_item, 5)
    _tag_with_model(engagement, "money")
    url = url.format(slug=engagement.slug)
    small = _cost(client, url)
    _fill(make_engagement, make_item, 20, engagement)
    _tag_with_model(engagement, "money")
    assert _cost(client, url) == small
    # The rows were on the page, not filtered out: the inbox lists all 25 items, the
    # dashboard's tables count them.
    db.session.expire_all()
    html = client.get(url).get_data(as_text=True)
    if "/inbox" in url:
        assert sum(item.reference in html for item in _items(engagement)) == 25
    else:
        assert 'nhsuk-table__cell--numeric">25<' in html


def _reply(response, n: int) -> None:
    from engage.publish import votes

    votes.vote(response, helpful=False, comment=f"Reply number {n}: this does not answer me.")
    db.session.commit()


def test_the_engagement_page_does_not_grow_with_replies_to_responses(
    client, make_engagement, make_item
):
    """Public figures leave replies out one by one (feedback.queries._left_out): reading
    them is a fixed number of statements, however many there are (issue #25)."""
    from engage.publish.models import Response

    engagement = _fill(make_engagement, make_item, 2)
    response = db.session.scalars(db.select(Response)).first()
    _reply(response, 0)
    url = f"/engagements/{engagement.slug}"
    small = _cost(client, url)
    for n in range(1, 8):
        _reply(response, n)
    assert _cost(client, url) == small


@pytest.mark.parametrize("action", ["spam", "add_theme"])
def test_keeping_the_counts_of_a_bulk_change_does_not_grow_with_it(
    app, make_engagement, make_item, make_staff, action
):
    """The counts' share of a bulk change (engage.feedback.tally): the same statements
    for 5 items or 25."""
    from engage.staff import item_actions

    staff = make_staff(Role.TRIAGER)
    engagement = _fill(make_engagement, make_item, 30)
    ids = [item.id for item in _items(engagement)]

    def counting(some: list[int]) -> int:
        db.session.expire_all()
        with counting_statements() as statements:
            item_actions.bulk(action, some, by=staff, theme="money")
            db.session.commit()
        return sum("feedback_tally" in s or "FOR UPDATE" in s for s in statements)

    assert counting(ids[:5]) == counting(ids[5:30]) > 0
