"""Working through the inbox as a queue: select all on a page, the previous / next /
next unclassified item keeping the inbox's filters, saving and moving on, the
shortcuts' documentation and the redaction errors at the top (issue #22)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from engage.extensions import db
from engage.feedback.models import FeedbackItem, Status, TagSource, Theme, ThemeTag
from engage.staff import inbox
from engage.staff.models import Role

START = datetime(2024, 5, 1, 9)


@pytest.fixture
def queue(app, make_engagement):
    """30 items of one engagement, newest last; the even ones tagged Money by the model."""
    engagement = make_engagement()
    money = db.session.scalar(select(Theme).where(Theme.slug == "money"))
    items = []
    for n in range(30):
        item = FeedbackItem(
            reference=f"Q-{n:03d}",
            engagement_id=engagement.id,
            submitted_at=START + timedelta(hours=n),
            channel="web",
            text=f"Comment number {n} about the budget",
        )
        if n % 2 == 0:
            item.tags.append(ThemeTag(theme=money, source=TagSource.MODEL, confidence=0.8))
        db.session.add(item)
        items.append(item)
    db.session.commit()
    return engagement, items


def _links(html: str) -> dict[str, str]:
    """Text -> href of the queue navigation's links."""
    nav = html.split('class="engage-queue-nav"')[1].split("</nav>")[0]
    return {
        unescape(text): unescape(href)
        for href, text in re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', nav)
    }


def _item_links(html: str) -> list[str]:
    return [unescape(h) for h in re.findall(r'<a href="(/staff/items/\d+\?[^"]+)"', html)]


def test_inbox_links_carry_the_filters_and_position(queue, signed_in):
    engagement, items = queue
    client = signed_in(Role.TRIAGER)
    page = client.get(f"/staff/inbox?engagement={engagement.slug}&sort=oldest&page=2")
    links = _item_links(page.get_data(as_text=True))
    assert len(links) == 5  # items 26-30 of 30 on the second page
    first = urlsplit(links[0])
    args = parse_qs(first.query)
    assert args == {"engagement": [engagement.slug], "sort": ["oldest"], "at": ["25"]}
    assert first.path == f"/staff/items/{items[25].id}"


def test_previous_and_next_follow_the_inbox_order(queue, signed_in):
    engagement, items = queue
    client = signed_in(Role.VIEWER)
    base = f"engagement={engagement.slug}&sort=oldest"
    html = client.get(f"/staff/items/{items[10].id}?{base}&at=10").get_data(as_text=True)
    links = _links(html)
    assert links["Previous item"] == f"/staff/items/{items[9].id}?{base}&at=9"
    assert links["Next item"] == f"/staff/items/{items[11].id}?{base}&at=11"
    assert links["Back to the inbox (filtered)"] == f"/staff/inbox?{base}"
    assert "Item 11 of the list you filtered" in html
    first = _links(client.get(f"/staff/items/{items[0].id}?{base}&at=0").get_data(as_text=True))
    assert "Previous item" not in first and "Next item" in first
    last = _links(client.get(f"/staff/items/{items[29].id}?{base}&at=29").get_data(as_text=True))
    assert "Next item" not in last
    assert last["Back to the inbox (filtered)"] == f"/staff/inbox?{base}&page=2"
    # Opened from elsewhere: no list to move along, but the next unclassified item.
    alone = _links(client.get(f"/staff/items/{items[3].id}").get_data(as_text=True))
    assert set(alone) == {"Back to the inbox", "Next unclassified item"}


def test_next_unclassified_keeps_the_other_filters(queue, signed_in, make_engagement):
    engagement, items = queue
    elsewhere = make_engagement()
    db.session.add(
        FeedbackItem(
            reference="ELSEWHERE",
            engagement_id=elsewhere.id,
            submitted_at=START + timedelta(days=30),
            channel="web",
            text="Newest of all, but another engagement",
        )
    )
    db.session.commit()
    client = signed_in(Role.VIEWER)
    html = client.get(f"/staff/items/{items[4].id}?engagement={engagement.slug}&at=3")
    target = _links(html.get_data(as_text=True))["Next unclassified item"]
    # The newest unclassified (odd) item of the same engagement, in the unclassified list.
    assert target == (
        f"/staff/items/{items[29].id}?engagement={engagement.slug}&theme=unclassified&at=0"
    )


def test_save_and_go_to_the_next_item_of_an_unclassified_queue(queue, signed_in):
    engagement, items = queue
    client = signed_in(Role.TRIAGER)
    trail = f"engagement={engagement.slug}&theme=unclassified&at=0"
    html = client.get(f"/staff/items/{items[29].id}?{trail}").get_data(as_text=True)
    assert 'name="trail" value="' in html
    got = client.post(
        f"/staff/items/{items[29].id}/themes",
        data={"theme": ["jobs"], "trail": trail, "then": "next"},
    )
    # Tagged, the item leaves the unclassified list: the next one moved up to position 0.
    assert got.status_code == 302
    assert got.location == f"/staff/items/{items[27].id}?{trail}"
    assert [t.slug for t in db.session.get(FeedbackItem, items[29].id).themes()] == ["jobs"]
    assert db.session.get(FeedbackItem, items[29].id).status == Status.TRIAGED
    # Without "then=next" the same item is shown again, still in its list.
    again = client.post(
        f"/staff/items/{items[27].id}/status", data={"status": "archived", "trail": trail}
    )
    assert again.location == f"/staff/items/{items[27].id}?{trail}"
    # A forged trail is cleaned like any inbox query string.
    odd = client.post(
        f"/staff/items/{items[27].id}/status",
        data={"status": "triaged", "trail": "theme=<script>&at=-4&engagement=x y"},
    )
    assert odd.location == f"/staff/items/{items[27].id}?engagement=x+y&theme=%3Cscript%3E"


def test_neighbours_when_the_item_left_the_list(queue):
    engagement, items = queue
    f = inbox.InboxFilters.from_args({"engagement": engagement.slug, "sort": "oldest"})
    assert inbox.queue_ids(f, 3, 3) == [items[3].id, items[4].id, items[5].id]
    items[4].status = Status.SPAM
    db.session.commit()
    gone = inbox.InboxFilters.from_args(
        {"engagement": engagement.slug, "sort": "oldest", "status": "new"}
    )
    nav = inbox.neighbours(gone, 4, items[4].id)
    assert (nav.previous, nav.previous_at) == (items[3].id, 3)
    assert (nav.next, nav.next_at) == (items[5].id, 4)


def test_select_all_on_the_page_without_javascript(queue, signed_in):
    engagement, items = queue
    client = signed_in(Role.TRIAGER)
    html = client.get(f"/staff/inbox?engagement={engagement.slug}&sort=oldest").get_data(
        as_text=True
    )
    on_page = re.findall(r'name="on_page" value="(\d+)"', html)
    assert len(on_page) == inbox.PER_PAGE
    assert 'id="all-on-page" name="all_on_page"' in html
    assert "Select all 25 items on this page" in html
    got = client.post(
        "/staff/inbox/bulk",
        data={
            "action": "archived",
            "all_on_page": "1",
            "on_page": on_page,
            "engagement": engagement.slug,
            "sort": "oldest",
        },
    )
    assert got.status_code == 302
    archived = db.session.scalars(
        select(FeedbackItem.id).where(FeedbackItem.status == Status.ARCHIVED)
    ).all()
    assert sorted(archived) == sorted(int(i) for i in on_page)
    assert items[29].id not in archived  # on the second page


def test_shortcuts_are_documented_and_the_script_is_loaded(queue, signed_in):
    _engagement, items = queue
    html = signed_in(Role.TRIAGER).get(f"/staff/items/{items[1].id}").get_data(as_text=True)
    assert "Keyboard shortcuts" in html
    for key in ("j", "k", "u", "t"):
        assert f"<kbd>{key}</kbd>" in html
    assert 'aria-live="polite" data-announce' in html
    assert "/static/js/staff-triage.js" in html
    assert 'id="themes" tabindex="-1"' in html
    assert 'data-key="u"' in html


def test_redaction_errors_are_summarised_at_the_top(queue, signed_in):
    _engagement, items = queue
    client = signed_in(Role.TRIAGER)
    got = client.post(f"/staff/items/{items[1].id}/redaction", data={"redacted_text": ""})
    assert got.status_code == 400
    html = got.get_data(as_text=True)
    summary = html.index("nhsuk-error-summary")
    assert summary < html.index("<h1>") < html.index('id="redaction"')
    assert 'href="#redacted_text"' in html
