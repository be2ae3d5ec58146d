"""Staff-page copy for one of something: '1 item matches', 'Download this item',
'Partner API', no 'copy with 0 details removed', '1 person' (issue #21, item 11)."""

from __future__ import annotations

from datetime import datetime

from engage.extensions import db
from engage.feedback.models import Channel, FeedbackItem
from engage.staff.models import Role
from engage.staff.views.publishing import _people


def _one_item(make_engagement, text: str, channel: str = "api") -> FeedbackItem:
    engagement = make_engagement()
    item = FeedbackItem(
        reference="C-0001",
        engagement_id=engagement.id,
        submitted_at=datetime(2024, 5, 1, 9),
        channel=channel,
        text=text,
    )
    db.session.add(item)
    db.session.commit()
    return item


def test_one_matching_item_is_singular(app, make_engagement, signed_in):
    _one_item(make_engagement, "The budget for the hospital is being cut.")
    client = signed_in(Role.TRIAGER)
    html = client.get("/staff/inbox?channel=api").get_data(as_text=True)
    assert "1 item matches" in html
    assert "1 item match " not in html and "1 item match<" not in html
    assert "Download this item:" in html
    assert "these 1 items" not in html
    assert ">Partner API<" in html and ">Api<" not in html


def test_item_with_nothing_to_redact_does_not_offer_zero_details(app, make_engagement, signed_in):
    item = _one_item(make_engagement, "The budget for the hospital is being cut.", "web")
    client = signed_in(Role.TRIAGER)
    html = client.get(f"/staff/items/{item.id}").get_data(as_text=True)
    assert "0 details removed" not in html
    assert "We found no personal details to remove" in html


def test_people_counts_read_as_words():
    assert _people(0) == "No one"
    assert _people(1) == "1 person"
    assert _people(1200) == "1,200 people"
    assert {channel.label for channel in Channel} >= {"Partner API", "Web form"}
