"""feedback.service.submit(): the one path every channel takes."""

import re
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from engage import outbox
from engage.extensions import db
from engage.feedback import service
from engage.feedback.idempotency import DOUBLE_SUBMIT_WINDOW, form_submission_key
from engage.feedback.models import Channel, FeedbackItem, Status
from engage.feedback.service import InvalidSubmission, Submission, submit
from engage.feedback.storing import make_reference
from engage.followup import post_commit
from engage.outbox.models import OutboxMessage
from engage.util import utcnow
from tests.batchfail import fail_the_batch


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
    # Rendered when the outbox sends it (issue 25); what it will say:
    assert queued[0].body_text == "" and queued[0].deferred["item"] == item.id
    assert item.reference in outbox.content(queued[0])["body_text"]
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

    post_commit.register("test-broken", broken)
    try:
        item = submit(
            Submission(text="This must not be lost, whatever happens.", channel=Channel.WEB)
        )
    finally:
        post_commit.unregister("test-broken")
    assert calls == [item.reference]
    db.session.expire_all()
    assert count_items() == 1
    assert db.session.scalar(select(FeedbackItem.text).where(FeedbackItem.id == item.id)) == (
        "This must not be lost, whatever happens."
    )


def test_contact_me_needs_an_email(app):
    # One rule for every channel (the form refused it; the partner API and staff's
    # record form stored it quietly unticked: an outside review, round 21).
    from engage.feedback.validation import NO_EMAIL_FOR_CONTACT

    with pytest.raises(InvalidSubmission) as refused:
        submit(Submission(text="Tell me what happens next.", channel=Channel.API, contact_me=True))
    assert refused.value.errors == {"author_email": NO_EMAIL_FOR_CONTACT}
    assert db.session.scalar(select(func.count(FeedbackItem.id))) == 0


def test_default_themes_are_the_guides_five(app):
    slugs = [t.slug for t in service.ensure_default_themes()]
    assert slugs == ["money", "decision-making", "clinical-leadership", "services", "jobs"]


def test_failed_acknowledgement_is_retried_by_the_sweep(app, monkeypatch):
    from engage.feedback import notifications

    def broken_queue(**kwargs):
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(notifications.outbox, "deferred_row", broken_queue)
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
        assert row.reference == item.reference == make_reference(row.id, row.submitted_at)


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


# submit_many(): a list stored in one transaction, all or none ------------------------------


def _batch(n: int, **fields) -> list[Submission]:
    return [
        Submission(text=f"Comment number {i} about the merger.", channel=Channel.API, **fields)
        for i in range(n)
    ]


def test_submit_many_stores_all_in_order_with_one_commit(app, make_engagement, monkeypatch):
    from sqlalchemy import event

    engagement = make_engagement()
    # Post-commit work goes to the worker, as outside tests: only the batch's commit.
    monkeypatch.setitem(app.config, "ENGAGE_POST_COMMIT_IN_WORKER", True)
    monkeypatch.setattr(post_commit, "_hand_over", lambda: None)
    commits = []

    def count_commit(conn):
        commits.append(conn)

    event.listen(db.engine, "commit", count_commit)
    try:
        references = service.submit_many(_batch(25, engagement_slug=engagement.slug))
    finally:
        event.remove(db.engine, "commit", count_commit)
    assert len(commits) == 1
    stored = db.session.execute(
        select(FeedbackItem.reference, FeedbackItem.text).order_by(FeedbackItem.id)
    ).all()
    assert [r for r, _ in stored] == references
    assert [t for _, t in stored] == [f"Comment number {i} about the merger." for i in range(25)]
    assert len(set(references)) == 25 and all(
        re.fullmatch(r"YS-\d{4}-\d{6}", r) for r in references
    )


def test_submit_many_looks_engagements_up_once(app, make_engagement):
    from tests.databases import counting_statements

    one, two = make_engagement(), make_engagement()
    batch = _batch(10, engagement_slug=one.slug) + _batch(10, engagement_slug=two.slug)
    with counting_statements() as statements:
        service.submit_many(batch)
    assert sum("FROM engagement" in s for s in statements) == 1


def test_submit_many_refuses_the_whole_batch_naming_each_item(app, make_engagement):
    engagement = make_engagement()
    batch = _batch(5, engagement_slug=engagement.slug)
    batch[1] = Submission(text="short", channel=Channel.API)
    batch[3] = Submission(
        text="Long enough but \ud800 unstorable.", channel=Channel.API, engagement_slug="nope"
    )
    with pytest.raises(service.InvalidBatch) as caught:
        service.submit_many(batch)
    assert set(caught.value.by_index) == {1, 3}
    assert "text" in caught.value.by_index[1]
    assert "cannot be stored" in caught.value.by_index[3]["text"]
    assert "1.text" in caught.value.errors  # still an InvalidSubmission for older callers
    assert count_items() == 0


@pytest.mark.parametrize("fails_after", ["insert", "commit"])
def test_submit_many_stores_nothing_when_the_transaction_fails(app, monkeypatch, fails_after):
    fail_the_batch(monkeypatch, fails_after)
    with pytest.raises(RuntimeError):
        service.submit_many(_batch(40))
    monkeypatch.undo()
    assert count_items() == 0


def test_submit_many_of_nothing_stores_nothing(app):
    assert service.submit_many([]) == []
    assert count_items() == 0


def test_submit_many_runs_the_post_commit_steps_for_each_item(app):
    seen = []
    post_commit.register("test-seen", lambda item: seen.append(item.reference))
    try:
        references = service.submit_many(_batch(3))
    finally:
        post_commit.unregister("test-seen")
    assert seen == references


def test_submit_many_hands_the_batch_to_the_worker_once(app, monkeypatch):
    handed = []
    monkeypatch.setitem(app.config, "ENGAGE_POST_COMMIT_IN_WORKER", True)
    monkeypatch.setattr(post_commit, "_hand_over", lambda: handed.append(1))
    service.submit_many(_batch(30))
    assert handed == [1]
    assert count_items() == 30


def test_unstorable_characters_refused_on_the_field(app, make_engagement):
    engagement = make_engagement()
    cases = {
        "text": {"text": "A comment with \udc00 in it."},
        "author_name": {"author_name": "Jo \ud800"},
        "area": {"area": "Harrow\udfff"},
        "engagement": {"engagement_slug": f"{engagement.slug}\x00"},
    }
    for field, values in cases.items():
        fields = {"text": "A perfectly reasonable comment.", "channel": Channel.WEB, **values}
        with pytest.raises(InvalidSubmission) as caught:
            submit(Submission(**fields))
        assert field in caught.value.errors, field
        assert "cannot be stored" in caught.value.errors[field]
    assert count_items() == 0


def test_an_unstorable_subject_is_mended_not_refused(app):
    item = submit(
        Submission(
            text="A comment sent by email.", channel=Channel.EMAIL, subject="Re: \ud800 plan"
        )
    )
    assert item.subject == "Re: \ufffd plan"


# The web form's double-submit key -----------------------------------------------------------


def test_submission_key_answers_the_earlier_item_within_the_window(app):
    submission = Submission(text="Please keep the walk-in centre open.", channel=Channel.WEB)
    key = form_submission_key("session-secret", submission)
    first = submit(replace(submission, submission_key=key))
    again = submit(replace(submission, submission_key=key))
    assert again.id == first.id and count_items() == 1
    other_session = form_submission_key("another-secret", submission)
    assert submit(replace(submission, submission_key=other_session)).id != first.id
    assert count_items() == 2


def test_submission_key_after_the_window_stores_again(app):
    submission = Submission(text="Please keep the walk-in centre open.", channel=Channel.WEB)
    key = form_submission_key("session-secret", submission)
    first = submit(replace(submission, submission_key=key))
    db.session.execute(
        update(FeedbackItem)
        .where(FeedbackItem.id == first.id)
        .values(submitted_at=utcnow() - DOUBLE_SUBMIT_WINDOW - timedelta(seconds=1))
    )
    db.session.commit()
    later = submit(replace(submission, submission_key=key))
    assert later.id != first.id and count_items() == 2
    db.session.expire_all()
    keys = dict(db.session.execute(select(FeedbackItem.id, FeedbackItem.submission_key)).all())
    assert keys == {first.id: None, later.id: key}  # the key moved to the new item


def test_two_posts_at_the_same_moment_store_once(app, monkeypatch):
    """Both posts pass the look-up before either stores (held at a barrier); the key's
    unique index lets one commit and the other answers with that item."""
    import threading

    submission = Submission(text="Sent twice by a double click.", channel=Channel.WEB)
    keyed = replace(submission, submission_key=form_submission_key("s", submission))
    barrier = threading.Barrier(2, timeout=20)
    real_validate = service.validate

    def validate_together(sub, **kwargs):
        barrier.wait()
        return real_validate(sub, **kwargs)

    monkeypatch.setattr(service, "validate", validate_together)
    references = []

    def post():
        with app.app_context():
            references.append(submit(keyed).reference)
            db.session.remove()

    threads = [threading.Thread(target=post) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(references) == 2 and references[0] == references[1]
    assert count_items() == 1
