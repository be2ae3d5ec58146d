"""feedback.service.submit(): the one path every channel takes."""

import re

import pytest
from sqlalchemy import func, select

from engage.extensions import db
from engage.feedback import service
from engage.feedback.models import Channel, FeedbackItem, Status
from engage.feedback.service import InvalidSubmission, Submission, submit


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
    assert item.ack_pending is True
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
