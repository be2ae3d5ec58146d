"""engage demo: the seed engagements with feedback, loaded once."""

from datetime import date

from sqlalchemy import func, select

from engage.demo import load_demo
from engage.engagements import service as engagements
from engage.extensions import db
from engage.feedback.models import FeedbackItem, Status


def test_demo_is_idempotent_and_shaped_like_the_seeds(app):
    first = load_demo()
    assert first["engagements"] == 3 and first["created"] >= 300
    assert first["responses"] == 12
    # The demo's campaign letter is grouped, so the staff area shows a real group.
    assert first["groups"] >= 1
    campaign = db.session.scalars(
        select(FeedbackItem).where(FeedbackItem.author_email == "campaign0@example.org")
    ).one()
    assert campaign.duplicate_group is not None and campaign.duplicate_group.size >= 10
    again = load_demo()
    assert again["created"] == 0 and again["responses"] == 0
    assert db.session.scalar(select(func.count()).select_from(FeedbackItem)) == first["items"]
    nwl = engagements.get_by_slug("nwl-commissioning-reform-case-for-change")
    assert "case-for-change" in nwl.slug and len(nwl.areas) == 8
    assert nwl.opens_on == date(2019, 5, 28) and nwl.closes_on == date(2019, 8, 24)
    assert nwl.original_closes_on == date(2019, 7, 24)
    nel = engagements.get_by_slug("nel-integrated-care-system")
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(FeedbackItem)
            .where(FeedbackItem.engagement_id == nel.id)
        )
        > 50
    )
    triaged = db.session.scalars(
        select(FeedbackItem).where(FeedbackItem.status == Status.TRIAGED)
    ).all()
    assert triaged and any(item.themes() for item in triaged)
    # Demo items never trigger acknowledgement emails to their example addresses.
    assert not any(item.ack_pending for item in db.session.scalars(select(FeedbackItem)))


def test_demo_responses_cover_every_status(app, client):
    from engage.publish.models import Response

    load_demo()
    statuses = {r.status.value for r in db.session.scalars(select(Response))}
    assert len(statuses) == 5
    page = client.get("/you-said-we-did").get_data(as_text=True)
    assert "a single CCG for eight boroughs will lose touch" in page


def test_demo_triage_left_redacted_copies_to_quote(app):
    # Concerns and responses quote only staff-redacted copies of consenting items; the
    # demo's triaged half has them, with the detector's proposal as the triager accepted it.
    from engage.concerns.service import quotable

    load_demo()
    items = db.session.scalars(select(FeedbackItem)).all()
    quoted = [item for item in items if quotable(item)]
    assert len(quoted) >= 20
    assert all(item.consent_to_quote and item.status != Status.NEW for item in quoted)
    for item in items:
        if item.redacted_text is None:
            continue
        assert item.consent_to_quote and item.redacted_at is not None
        for detail in (item.author_email, item.author_name):
            assert not detail or detail not in item.redacted_text
    assert not any(quotable(item) for item in items if not item.consent_to_quote)
