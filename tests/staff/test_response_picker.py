"""The response editor at scale: one engagement choice, a picker narrowed to the
response's engagement and themes (searchable, paged, counted), suggestions by
similarity of wording, reusable wording inserted, and a confirmation page before
publishing (issue #22)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from engage.extensions import db
from engage.feedback.models import DuplicateGroup, FeedbackItem, TagSource, Theme, ThemeTag
from engage.outbox.models import OutboxMessage
from engage.publish import service as publishing
from engage.publish.models import (
    AlertChoice,
    AlertSubscription,
    Response,
    ResponseState,
    ResponseStatus,
    ResponseTemplate,
)
from engage.staff import picker
from engage.staff.models import Role

START = datetime(2024, 5, 1, 9)


def _add(engagement, n: int, text: str, theme: str | None, **values) -> FeedbackItem:
    themes = {t.slug: t for t in db.session.scalars(select(Theme))}
    item = FeedbackItem(
        reference=f"P-{n:04d}",
        engagement_id=engagement.id,
        submitted_at=START + timedelta(hours=n),
        channel="web",
        text=text,
        **values,
    )
    if theme:
        item.tags.append(ThemeTag(theme=themes[theme], source=TagSource.MODEL, confidence=0.8))
    db.session.add(item)
    return item


@pytest.fixture
def consultation(app, make_engagement):
    """Money and jobs feedback on one engagement, a 30-letter money campaign, and
    another engagement's feedback."""
    engagement, other = make_engagement(title="Merger"), make_engagement(title="Elsewhere")
    for n in range(45):
        _add(engagement, n, f"The budget deficit means cuts to services, letter {n}", "money")
    _add(engagement, 50, "Car parking at the hospital costs too much money", "money")
    for n in range(60, 65):
        _add(engagement, n, f"Nurses will lose their jobs in the merger {n}", "jobs")
    _add(other, 70, "Money wasted on consultants elsewhere", "money")
    group = DuplicateGroup(engagement_id=engagement.id, size=30, sample_text="Stop the cuts")
    jobs_group = DuplicateGroup(engagement_id=engagement.id, size=4, sample_text="Save our jobs")
    db.session.add_all([group, jobs_group])
    db.session.flush()
    for n in range(100, 130):
        _add(
            engagement,
            n,
            "Stop the cuts to our clinic, signed",
            "money",
            duplicate_group_id=group.id,
        )
    for n in range(130, 134):
        _add(engagement, n, "Save our jobs", "jobs", duplicate_group_id=jobs_group.id)
    db.session.commit()
    return engagement, other, group, jobs_group


def _engagement_selects(html: str) -> int:
    return len(re.findall(r'<select[^>]*name="engagement"', html))


def test_one_engagement_choice_and_a_picker_narrowed_to_the_themes(consultation, signed_in):
    engagement, _other, group, jobs_group = consultation
    client = signed_in(Role.PUBLISHER)
    html = client.get(f"/staff/responses/new?engagement={engagement.slug}&theme=money").get_data(
        as_text=True
    )
    assert _engagement_selects(html) == 1
    assert f'name="engagement" value="{engagement.slug}"' in html  # the draft's, hidden
    assert "Campaign groups: 1 group, 30 people" in html
    assert f'id="group-{group.id}"' in html and f'id="group-{jobs_group.id}"' not in html
    # 46 money items in no group: 20 a page, with the count.
    assert "Single items (in no group): 46, newest first" in html
    assert "Nurses will lose" not in html and "consultants elsewhere" not in html
    second = client.get(
        f"/staff/responses/new?engagement={engagement.slug}&theme=money&pick_page=3"
    ).get_data(as_text=True)
    assert len(re.findall(r'name="item" type="checkbox"', second)) == 6
    searched = client.get(
        f"/staff/responses/new?engagement={engagement.slug}&theme=money&q=parking"
    ).get_data(as_text=True)
    assert "Single items (in no group) with “parking”: 1" in searched
    assert "P-0050" in searched and "P-0001" not in searched


def test_the_campaigns_link_preselects_the_group_and_the_draft_links_it(consultation, signed_in):
    engagement, _other, group, _jobs = consultation
    client = signed_in(Role.PUBLISHER)
    html = client.get(
        f"/staff/responses/new?engagement={engagement.slug}&group={group.id}"
    ).get_data(as_text=True)
    assert re.search(
        rf'id="group-{group.id}" name="group" type="checkbox" value="{group.id}"[^>]*checked', html
    )
    got = client.post(
        "/staff/responses/new",
        data={
            "engagement": engagement.slug,
            "you_said": "the cuts will close the clinic",
            "we_did": "The clinic stays open.",
            "status": "planned",
            "group": str(group.id),
        },
    )
    assert got.status_code == 302
    response = db.session.scalars(select(Response)).one()
    assert len(response.items) == 30


def test_suggestions_are_ranked_by_the_wording(consultation, app):
    engagement, _other, group, _jobs = consultation
    money = db.session.scalar(select(Theme).where(Theme.slug == "money"))
    with app.test_request_context():
        found = picker.suggestions(engagement.id, [money], None, "Parking charges at the hospital")
        assert found[0][0] == "item" and found[0][1].reference == "P-0050"
        assert 0 < found[0][2] <= 100
        cuts = picker.suggestions(engagement.id, [money], None, "stop the cuts to the clinic")
        assert cuts[0][0] == "group" and cuts[0][1].id == group.id
        assert picker.suggestions(engagement.id, [money], None, "the and of") == []


def test_groups_are_read_fresh_and_a_new_group_shows_within_the_lifetime(consultation, app):
    """Which groups match is kept a short while per worker; their sizes are read each
    time, and a group made meanwhile is offered once the kept list expires."""
    from engage import caching

    engagement, _other, group, _jobs = consultation
    money = db.session.scalar(select(Theme).where(Theme.slug == "money"))
    with app.test_request_context():
        first = picker.picker_page(engagement.id, [money])
        assert [g.id for g in first.groups] == [group.id] and first.people_in_groups == 30
        group.size = 31
        late = DuplicateGroup(engagement_id=engagement.id, size=2, sample_text="Late")
        db.session.add(late)
        db.session.flush()
        _add(engagement, 140, "Late letter about money", "money", duplicate_group_id=late.id)
        db.session.commit()
        kept = picker.picker_page(engagement.id, [money])
        assert [g.id for g in kept.groups] == [group.id] and kept.people_in_groups == 31
        caching.named_cache("picker_groups", maxsize=256, seconds=picker.GROUPS_SECONDS).clear()
        fresh = picker.picker_page(engagement.id, [money])
        assert [g.id for g in fresh.groups] == [group.id, late.id]


def test_ranking_with_kept_words_scores_as_analysing_the_texts_afresh():
    """The words kept per text give the same similarities as a vectoriser that reads
    the texts itself, and a changed text is read again (kept by text, not by item)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics.pairwise import linear_kernel

    wording = "We are keeping the birth centre open and adding midwives"
    texts = [
        "Please keep the birth centre at the community hospital open!",
        "The midwives are the best, we need more of them.",
        "Parking charges are far too high",
        "the and of",
        "KEEP THE BIRTH CENTRE OPEN. keep it open.",
    ]
    fresh = TfidfVectorizer(stop_words="english", sublinear_tf=True, min_df=1)
    matrix = fresh.fit_transform([wording, *texts])
    expected = linear_kernel(matrix[0:1], matrix[1:]).ravel().tolist()
    assert picker._rank(wording, texts) == pytest.approx(expected)
    assert picker._rank(wording, texts) == pytest.approx(expected)  # from kept words
    assert expected[0] > expected[2] == 0.0
    changed = [*texts[:2], "birth centre parking", *texts[3:]]
    assert picker._rank(wording, changed)[2] > 0.0


def test_reusable_wording_is_inserted_without_saving(consultation, signed_in):
    engagement, *_ = consultation
    template = ResponseTemplate(
        name="Finance plan", you_said="money is short", we_did="We publish the plan."
    )
    db.session.add(template)
    db.session.commit()
    client = signed_in(Role.PUBLISHER)
    got = client.post(
        "/staff/responses/new",
        data={
            "engagement": engagement.slug,
            "you_said": "the budget",
            "we_did": "",
            "status": "planned",
            "template": str(template.id),
            "insert": "1",
        },
    )
    assert got.status_code == 200
    html = got.get_data(as_text=True)
    assert "the budget\n\nmoney is short</textarea>" in html
    assert ">We publish the plan.</textarea>" in html
    assert "“Finance plan” inserted. Not saved yet" in html
    assert db.session.scalar(select(func.count(Response.id))) == 0


def test_publishing_asks_first_and_says_who_is_emailed(consultation, signed_in):
    engagement, _other, group, _jobs = consultation
    items = db.session.scalars(
        select(FeedbackItem).where(FeedbackItem.duplicate_group_id == group.id)
    ).all()
    for n, item in enumerate(items[:3]):
        item.contact_me = True
        item.author_email = "same@example.org" if n < 2 else "other@example.org"
    watcher = AlertSubscription(email="watcher@example.org", confirmed_at=START)
    watcher.choices.append(AlertChoice(engagement_id=engagement.id, confirmed_at=START))
    db.session.add(watcher)
    response = publishing.create_draft(
        engagement=engagement,
        you_said="the cuts will close the clinic",
        we_did="The clinic stays open until 2027.",
        status=ResponseStatus.PLANNED,
        themes=[],
        items=items,
        by="p@example.org",
    )
    db.session.commit()
    client = signed_in(Role.PUBLISHER)
    editor = client.get(f"/staff/responses/{response.id}").get_data(as_text=True)
    assert f'href="/staff/responses/{response.id}/publish"' in editor
    assert f'action="/staff/responses/{response.id}/publish"' not in editor  # no one-click
    page = client.get(f"/staff/responses/{response.id}/publish")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "3 people will be emailed at once" in html  # 2 addresses + 1 subscriber
    assert "The clinic stays open until 2027." in html
    assert "Publish and email 3 people" in html
    assert db.session.get(Response, response.id).state == ResponseState.DRAFT
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0
    client.post(f"/staff/responses/{response.id}/publish")
    assert db.session.get(Response, response.id).state == ResponseState.PUBLISHED
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 3
    again = client.get(f"/staff/responses/{response.id}/publish")
    assert again.status_code == 302


def test_the_confirmation_shows_the_email_a_subscriber_will_get(consultation, signed_in):
    # An outside review (round 21): the page showed "when we respond about ." and no
    # form address, because it built the email's context apart from the sending code.
    from engage.publish import notifications

    engagement, *_ = consultation
    watcher = AlertSubscription(email="watcher@example.org", confirmed_at=START)
    watcher.choices.append(AlertChoice(engagement_id=engagement.id, confirmed_at=START))
    db.session.add(watcher)
    response = _draft(engagement, "the cuts will close the clinic", "The clinic stays open.")
    client = signed_in(Role.PUBLISHER)
    html = client.get(f"/staff/responses/{response.id}/publish").get_data(as_text=True)
    about = f"when we respond about {engagement.title}."
    assert about in html and "about ." not in html
    assert re.search(r"use the form at:\s+http://\S+/", html)
    shown, _item = notifications.preview(db.session.get(Response, response.id))
    client.post(f"/staff/responses/{response.id}/publish")
    sent = db.session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "response_alert"))
    body = re.sub(r"http://\S+/alerts/\S+", notifications.PREVIEW_LINK, sent.body_text)
    assert body == shown["body_text"]
    assert sent.subject == shown["subject"]


def _draft(engagement, you_said: str, we_did: str) -> Response:
    """A committed draft response linked to no items."""
    response = publishing.create_draft(
        engagement=engagement,
        you_said=you_said,
        we_did=we_did,
        status=ResponseStatus.PLANNED,
        themes=[],
        items=[],
        by="p@example.org",
    )
    db.session.commit()
    return response


def test_only_publishers_see_the_confirmation(consultation, signed_in):
    engagement, *_ = consultation
    response = _draft(engagement, "x y z", "done")
    assert signed_in(Role.TRIAGER).get(f"/staff/responses/{response.id}/publish").status_code == 403
    page = signed_in(Role.PUBLISHER).get(f"/staff/responses/{response.id}/publish")
    assert "no email will be sent" in page.get_data(as_text=True)
