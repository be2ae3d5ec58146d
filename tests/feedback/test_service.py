"""feedback.service.submit(): the one path every channel takes."""

import re

import pytest
from sqlalchemy import func, select

from engage.extensions import db
from engage.feedback import service
from engage.feedback.models import Channel, FeedbackItem, Status
from engage.feedback.service import InvalidSubmission, Submission, submit
from engage.mail.models import OutboxMessage


def count_items() -> int:
    return db.session.scalar(select(func.count()).select_from(FeedbackItem))


def test_submit_commits_with_reference(app, make_engagement):
    engagement = make_engagement()
    item = submit(
        Submission(
            text="Please keep the walk-in centre open.",
            channel=Channel.WEB,
            engagement_slug=engagement.slug,
            author_email="Ann@Example.org",
        )
    )
    assert re.fullmatch(r"YS-\d{4}-\d{6}", item.reference)
    assert item.reference.endswith(f"{item.id:06d}")
    assert item.status == Status.NEW
    assert item.author_email == "Ann@example.org"
    # The acknowledgement was queued in the outbox right after the commit.
    assert item.ack_pending is False
    queued = db.session.scalars(select(OutboxMessage)).all()
    assert [(m.kind, m.recipient) for m in queued] == [("acknowledgement", "Ann@example.org")]
    assert item.reference in queued[0].body_text
    db.session.expire_all()
    assert db.session.get(FeedbackItem, item.id).engagement_id == engagement.id


def test_general_feedback_without_engagement(app):
    item = submit(Submission(text="General point about the NHS here.", channel=Channel.EMAIL))
    assert item.engagement_id is None


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"text": "short"}, "text"),
        ({"text": "x" * 10_001}, "text"),
        ({"text": "\x00\x01\x02 \x03\x04\x05\x06\x07"}, "text"),
        ({"author_email": "not-an-email"}, "author_email"),
        ({"author_email": "a@example.org\r\nBcc: victim@example.org"}, "author_email"),
        ({"author_name": "Ann\nBcc: x@example.org"}, "author_name"),
        ({"area": "Atlantis"}, "area"),
        ({"engagement_slug": "no-such-engagement"}, "engagement"),
    ],
)
def test_bad_input_stores_nothing(app, make_engagement, fields, field):
    engagement = make_engagement()
    values = {
        "text": "A perfectly reasonable comment.",
        "channel": Channel.WEB,
        "engagement_slug": engagement.slug,
    }
    values.update(fields)
    with pytest.raises(InvalidSubmission) as caught:
        submit(Submission(**values))
    assert field in caught.value.errors
    assert count_items() == 0


def test_control_characters_dropped_text_kept(app):
    item = submit(
        Submission(text="Hello\x00 there,\r\nthe\x1b merger worries me", channel=Channel.API)
    )
    assert item.text == "Hello there,\nthe merger worries me"


def test_html_is_stored_as_text(app):
    payload = "<script>alert('x')</script> keep our GP surgery"
    assert submit(Submission(text=payload, channel=Channel.WEB)).text == payload


def test_failing_post_commit_step_keeps_item(app):
    calls = []

    def broken(item):
        calls.append(item.reference)
        raise RuntimeError("classifier exploded")

    service.register_post_commit("test-broken", broken)
    try:
        item = submit(
            Submission(text="This must not be lost, whatever happens.", channel=Channel.WEB)
        )
    finally:
        service._post_commit_steps[:] = [
            s for s in service._post_commit_steps if s[0] != "test-broken"
        ]
    assert calls == [item.reference]
    db.session.expire_all()
    assert count_items() == 1
    assert db.session.scalar(select(FeedbackItem.text).where(FeedbackItem.id == item.id)) == (
        "This must not be lost, whatever happens."
    )


def test_contact_me_needs_an_email(app):
    item = submit(
        Submission(text="Tell me what happens next.", channel=Channel.WEB, contact_me=True)
    )
    assert item.contact_me is False
    assert item.ack_pending is False


def test_default_themes_are_the_guides_five(app):
    slugs = [t.slug for t in service.ensure_default_themes()]
    assert slugs == ["money", "decision-making", "clinical-leadership", "services", "jobs"]


def test_failed_acknowledgement_is_retried_by_the_sweep(app, monkeypatch):
    from engage.feedback import notifications

    def broken_queue(**kwargs):
        raise RuntimeError("template store unavailable")

    monkeypatch.setattr(notifications.outbox, "render_many", broken_queue)
    item = submit(
        Submission(
            text="Please write back to me about this.",
            channel=Channel.WEB,
            author_email="bea@example.org",
        )
    )
    db.session.expire_all()
    assert db.session.get(FeedbackItem, item.id).ack_pending is True
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    monkeypatch.undo()
    assert notifications.acknowledge_pending() == 1
    assert db.session.get(FeedbackItem, item.id).ack_pending is False
    assert db.session.scalar(select(OutboxMessage.recipient)) == "bea@example.org"


def test_tracking_needs_the_matching_email(app):
    item = submit(
        Submission(
            text="Where is my feedback going?", channel=Channel.WEB, author_email="cat@example.org"
        )
    )
    assert service.find_for_tracking(item.reference.lower(), " CAT@example.org ") == item
    assert service.find_for_tracking(item.reference, "dog@example.org") is None
    assert service.find_for_tracking(item.reference, "") is None
    assert service.find_for_tracking("YS-1999-000001", "cat@example.org") is None
    anonymous = submit(Submission(text="No email address given here.", channel=Channel.WEB))
    assert service.find_for_tracking(anonymous.reference, "") is None


def test_each_submission_gets_the_next_id_and_its_own_reference(app):
    """The one-row insert numbers items itself: the stored reference matches the id."""
    items = [
        submit(Submission(text=f"Point number {n} about services.", channel=Channel.WEB))
        for n in range(3)
    ]
    db.session.expire_all()
    stored = db.session.execute(
        select(FeedbackItem.id, FeedbackItem.reference, FeedbackItem.submitted_at).order_by(
            FeedbackItem.id
        )
    ).all()
    assert [item.id for item in items] == [row.id for row in stored]
    assert items[1].id == items[0].id + 1 and items[2].id == items[1].id + 1
    for item, row in zip(items, stored, strict=True):
        assert row.reference == item.reference == service.make_reference(row.id, row.submitted_at)


def test_returned_item_is_the_stored_row(app, make_engagement):
    engagement = make_engagement()
    item = submit(
        Submission(
            text="Keep the minor injuries unit.",
            channel=Channel.EMAIL,
            engagement_slug=engagement.slug,
            author_name="Ann Smith",
            subject="MIU",
            extra={"message_id": "<one@example.org>", "attachment_names": ["scan.pdf"]},
        ),
        engagement=engagement,
    )
    assert item in db.session and item.engagement is engagement
    fresh = db.session.execute(
        select(FeedbackItem.__table__).where(FeedbackItem.id == item.id)
    ).one()
    assert fresh.reference == item.reference
    assert (fresh.channel, fresh.status) == (Channel.EMAIL, Status.NEW)
    assert (fresh.subject, fresh.author_name) == ("MIU", "Ann Smith")
    assert (fresh.message_id, fresh.attachment_names) == ("<one@example.org>", ["scan.pdf"])
    assert item.tags == []  # loads when read, like any persistent item


def test_engagement_given_for_another_slug_is_not_trusted(app, make_engagement):
    first, second = make_engagement(), make_engagement()
    item = submit(
        Submission(
            text="Which engagement is this for?", channel=Channel.WEB, engagement_slug=second.slug
        ),
        engagement=first,
    )
    assert item.engagement_id == second.id
