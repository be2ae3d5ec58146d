"""The publishing service: drafts, revisions, status, unpublishing, votes, figures."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from engage.extensions import db
from engage.feedback.models import FeedbackItem, Status
from engage.outbox.models import OutboxMessage
from engage.publish import alerts as alerting
from engage.publish import queries, service
from engage.publish import votes as voting
from engage.publish.models import ResponseState, ResponseStatus, RevisionKind
from tests.publish.factories import theme


def _outbox(kind=None):
    query = select(OutboxMessage)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    return db.session.scalars(query).all()


def test_draft_is_not_public(make_response):
    response = make_response(publish=False)
    assert response.state == ResponseState.DRAFT
    assert [r.kind for r in response.revisions] == [RevisionKind.CREATED]
    assert queries.get_published(response.id) is None
    assert queries.published_for(response.engagement) == []


def test_draft_needs_both_texts(app, make_engagement):
    with pytest.raises(service.InvalidResponse) as raised:
        service.create_draft(engagement=make_engagement(), you_said="  ", we_did="\x00")
    assert set(raised.value.errors) == {"you_said", "we_did"}


def test_items_must_belong_to_the_engagement(app, make_engagement, make_item):
    other = make_item()
    with pytest.raises(service.InvalidResponse):
        service.create_draft(engagement=make_engagement(), you_said="a", we_did="b", items=[other])


def test_publish_marks_items_responded(make_response, make_engagement, make_item):
    engagement = make_engagement()
    item = make_item(engagement_slug=engagement.slug)
    spam = make_item(engagement_slug=engagement.slug)
    spam.status = Status.SPAM
    db.session.commit()
    response = make_response(engagement=engagement, items=[item, spam])
    assert response.state == ResponseState.PUBLISHED and response.published_at
    assert response.published_by == "lead@nhs.example"
    assert item.status == Status.RESPONDED and spam.status == Status.SPAM
    assert queries.people_count(response) == 1
    with pytest.raises(service.WrongState):
        service.publish(response)


def test_edit_of_published_response_keeps_earlier_text(make_response):
    response = make_response(you_said="first wording.", we_did="first action.")
    assert response.public_updated_at is None
    assert service.update(response, we_did="better action.", note="Clearer", by="ed@nhs.example")
    db.session.commit()
    assert response.we_did == "better action."
    assert response.public_updated_at is not None
    kinds = [r.kind for r in response.revisions]
    assert kinds == [RevisionKind.CREATED, RevisionKind.PUBLISHED, RevisionKind.EDITED]
    assert response.revisions[1].we_did == "first action."
    [entry, published] = queries.public_history(response)
    assert entry.previous_we_did == "first action." and entry.previous_you_said is None
    assert "Clearer" in entry.description and published.description == "Published"


def test_draft_edits_are_not_public_history(make_response):
    response = make_response(publish=False)
    service.update(response, you_said="reworded before publishing.")
    assert response.public_updated_at is None
    service.publish(response)
    db.session.commit()
    assert [e.kind for e in queries.public_history(response)] == ["published"]


def test_update_without_change_is_a_no_op(make_response):
    response = make_response()
    assert not service.update(response, you_said=response.you_said)
    assert len(response.revisions) == 2


def test_unpublish_keeps_history_and_reason(make_response):
    response = make_response()
    first = response.published_at
    with pytest.raises(service.InvalidResponse):
        service.unpublish(response, reason=" ")
    revision = service.unpublish(response, reason="Figures were wrong", by="lead@nhs.example")
    db.session.commit()
    assert response.state == ResponseState.UNPUBLISHED
    assert revision.kind == RevisionKind.UNPUBLISHED and revision.note == "Figures were wrong"
    assert queries.get_published(response.id) is None
    with pytest.raises(service.WrongState):
        service.unpublish(response, reason="again")
    service.publish(response)
    db.session.commit()
    assert response.published_at == first and response.public_updated_at is not None
    assert queries.public_history(response)[0].description == "Published again"


def test_change_status_adds_milestone_and_revision(make_response, make_engagement, make_item):
    engagement = make_engagement()
    item = make_item(
        engagement_slug=engagement.slug, author_email="amy@example.org", contact_me=True
    )
    response = make_response(engagement=engagement, items=[item])
    queued = service.change_status(
        response, status=ResponseStatus.DONE, note="New committee met", on=date(2020, 3, 3)
    )
    db.session.commit()
    assert queued == 1
    [milestone] = response.milestones
    assert milestone.on == date(2020, 3, 3) and milestone.text == "Done: New committee met"
    assert response.revisions[-1].kind == RevisionKind.STATUS
    assert response.public_updated_at is not None
    assert queries.public_history(response)[0].description.startswith("Status changed to Done")
    with pytest.raises(service.WrongState):
        service.change_status(response, status=ResponseStatus.DONE)


def test_status_change_of_draft_emails_nobody(make_response, make_engagement, make_item):
    engagement = make_engagement()
    item = make_item(engagement_slug=engagement.slug, author_email="a@example.org", contact_me=True)
    response = make_response(engagement=engagement, items=[item], publish=False)
    assert service.change_status(response, status=ResponseStatus.DONE) == 0
    assert _outbox("response_published") == []


def test_publish_emails_each_follower_once(app, make_response, make_engagement, make_item):
    engagement = make_engagement()
    wants = make_item(
        engagement_slug=engagement.slug, author_email="Sam@Example.org", contact_me=True
    )
    again = make_item(
        engagement_slug=engagement.slug, author_email="sam@example.org", contact_me=True
    )
    silent = make_item(engagement_slug=engagement.slug, author_email="no@example.org")
    anonymous = make_item(engagement_slug=engagement.slug)
    response = make_response(
        engagement=engagement, items=[wants, again, silent, anonymous], publish=False
    )
    assert service.publish(response) == 1
    db.session.commit()
    [message] = _outbox("response_published")
    assert message.recipient.lower() == "sam@example.org"
    assert "/unsubscribe/" in message.headers["List-Unsubscribe"]
    assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert response.we_did in message.body_text


def test_link_items_to_published_response(make_response, make_engagement, make_item):
    engagement = make_engagement()
    response = make_response(engagement=engagement)
    late = make_item(engagement_slug=engagement.slug, author_email="l@example.org", contact_me=True)
    assert service.link_items(response, items=[late, late]) == [late]
    db.session.commit()
    assert late.status == Status.RESPONDED
    assert len(_outbox("response_published")) == 1
    assert service.link_items(response, items=[late]) == []
    service.unlink_items(response, items=[late])
    assert response.items == []


def test_vote_no_with_comment_becomes_feedback(make_response):
    response = make_response()
    vote = voting.vote(response, helpful=False, comment="This does not say when it starts.")
    db.session.commit()
    item = db.session.get(FeedbackItem, vote.feedback_item_id)
    assert item is not None and item.engagement_id == response.engagement_id
    assert item.subject.startswith(f"Reply to response {response.id}")
    assert item.text == "This does not say when it starts."
    voting.vote(response, helpful=True)
    voting.vote(response, helpful=False, comment="No.")
    db.session.commit()
    counts = voting.vote_counts(response)
    assert (counts.yes, counts.no) == (1, 2)
    assert db.session.scalar(select(func.count()).select_from(FeedbackItem)) == 1


def test_vote_on_draft_refused(make_response):
    with pytest.raises(service.WrongState):
        voting.vote(make_response(publish=False), helpful=True)


def test_responsiveness(app, make_response, make_engagement, make_item):
    engagement = make_engagement()
    start = datetime(2020, 1, 1, 9)
    items = [
        make_item(engagement_slug=engagement.slug, submitted_at=start + timedelta(days=n))
        for n in range(4)
    ]
    spam = make_item(engagement_slug=engagement.slug)
    spam.status = Status.SPAM
    db.session.commit()
    make_response(engagement=engagement, items=items[:2], published_at=start + timedelta(days=10))
    make_response(engagement=engagement, items=items[2:], publish=False)
    figures = service.responsiveness(engagement)
    assert (figures.counted, figures.answered, figures.percent) == (4, 2, 50)
    assert figures.median_days == 9.5
    empty = service.responsiveness(make_engagement())
    assert (empty.counted, empty.percent, empty.median_days) == (0, 0, None)


def test_quotes_only_with_consent_and_redaction(make_response, make_engagement, make_item):
    engagement = make_engagement()
    consenting = make_item(
        "Call me on 07700 900123 about the walk-in centre.",
        engagement_slug=engagement.slug,
        consent_to_quote=True,
    )
    refusing = make_item("Refuser words here please.", engagement_slug=engagement.slug)
    response = make_response(engagement=engagement, items=[consenting, refusing])
    # Before the redaction column exists (or while it is empty) nothing is quoted.
    assert queries.quotes(response) == []
    consenting.redacted_text = "Call me on [phone number] about the walk-in centre."
    refusing.redacted_text = "Refuser words here please."
    assert queries.quotes(response) == ["Call me on [phone number] about the walk-in centre."]


def test_alert_subscription_double_opt_in(app, make_engagement):
    engagement = make_engagement()
    subscription = alerting.subscribe(email="Ali@Example.org", engagement=engagement)
    db.session.commit()
    [message] = _outbox("alert_confirm")
    token = message.body_text.split("/alerts/confirm/")[1].split()[0]
    assert not subscription.active
    assert alerting.confirm(token=token + "x") is None
    assert alerting.confirm(token=token) is subscription
    db.session.commit()
    assert subscription.active and alerting.confirm(token=token) is None
    # Asking again while subscribed sends nothing.
    assert alerting.subscribe(email="ali@example.org", engagement=engagement) is subscription
    db.session.commit()
    assert len(_outbox("alert_confirm")) == 1


def test_alert_subscription_rules(app, make_engagement):
    with pytest.raises(service.InvalidResponse):
        alerting.subscribe(email="a@example.org")
    with pytest.raises(service.InvalidResponse):
        alerting.subscribe(email="a@example.org", themes=[], engagements=[])
    with pytest.raises(service.InvalidResponse):
        alerting.subscribe(email="not an address\r\nBcc: x@example.org", theme=theme("money"))


def test_confirmation_link_expires(app):
    subscription = alerting.subscribe(email="old@example.org", theme=theme("jobs"))
    db.session.commit()
    token = _outbox("alert_confirm")[0].body_text.split("/alerts/confirm/")[1].split()[0]
    subscription.token_created_at -= alerting.CONFIRM_WITHIN + timedelta(minutes=1)
    db.session.commit()
    assert alerting.confirm(token=token) is None


def test_alerts_go_to_confirmed_subscribers_of_theme_or_engagement(app, make_response):
    money = alerting.subscribe(email="money@example.org", theme=theme("money"))
    alerting.subscribe(email="jobs@example.org", theme=theme("jobs"))
    pending = alerting.subscribe(email="pending@example.org", theme=theme("money"))
    db.session.commit()
    for message in _outbox("alert_confirm"):
        if message.recipient != "pending@example.org":
            token = message.body_text.split("/alerts/confirm/")[1].split()[0]
            assert alerting.confirm(token=token) is not None
    db.session.commit()
    response = make_response(themes=("money", "services"), publish=False)
    assert service.publish(response) == 1
    db.session.commit()
    [alert] = _outbox("response_alert")
    assert alert.recipient == "money@example.org"
    assert "/alerts/unsubscribe/" in alert.headers["List-Unsubscribe"]
    token = alert.headers["List-Unsubscribe"].split("/alerts/unsubscribe/")[1].rstrip(">")
    assert alerting.unsubscribe(token=token) is money
    assert alerting.unsubscribe(token="forged") is None
    assert not money.active and not pending.active
