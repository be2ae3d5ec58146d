"""The campaigns page: filters and pages of groups, changes to a whole group, merging
and splitting groups, and linking a group to a response (issue #22)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from engage.audit import AuditEvent
from engage.extensions import db
from engage.feedback import queries as feedback_queries
from engage.feedback.models import DuplicateGroup, FeedbackItem, Status, TagSource, Theme, ThemeTag
from engage.publish import service as publishing
from engage.publish.models import Response, ResponseStatus
from engage.staff import campaigns
from engage.staff.models import Role

START = datetime(2019, 6, 3, 9)


def _group(engagement, size: int, *, text: str = "Save our clinic", theme: str | None = None):
    group = DuplicateGroup(engagement_id=engagement.id if engagement else None, size=size)
    group.sample_text = f"{text} (sample)"
    db.session.add(group)
    db.session.flush()
    themes = {t.slug: t for t in db.session.scalars(select(Theme))}
    for n in range(size):
        item = FeedbackItem(
            reference=f"G{group.id}-{n:04d}",
            engagement_id=group.engagement_id,
            submitted_at=START + timedelta(minutes=n),
            channel="letter",
            text=f"{text}, from person {n}",
            duplicate_group_id=group.id,
        )
        db.session.add(item)
        if theme:
            db.session.add(
                ThemeTag(item=item, theme=themes[theme], source=TagSource.MODEL, confidence=0.9)
            )
    db.session.commit()
    return group


def _statuses(group_id: int) -> dict[str, int]:
    rows = db.session.execute(
        select(FeedbackItem.status, func.count())
        .where(FeedbackItem.duplicate_group_id == group_id)
        .group_by(FeedbackItem.status)
    ).all()
    return {Status(s).value: n for s, n in rows}


@pytest.fixture
def groups(app, make_engagement):
    one, two = make_engagement(title="Clinics"), make_engagement(title="Hospitals")
    made = {
        "big": _group(one, 30, theme="money"),
        "small": _group(one, 4, text="Keep the walk-in centre", theme="jobs"),
        "other": _group(two, 12, text="No to the merger", theme="money"),
        "general": _group(None, 3, text="Fix the car park"),
    }
    return one, two, made


def _headings(html: str) -> list[str]:
    return re.findall(r"<h2 [^>]*id=\"group-\d+\">([\d,]+) people", html)


def test_filters_by_engagement_theme_and_size(groups, signed_in):
    one, _two, _made = groups
    client = signed_in(Role.VIEWER)
    assert _headings(client.get("/staff/duplicates").get_data(as_text=True)) == [
        "30",
        "12",
        "4",
        "3",
    ]
    page = client.get(f"/staff/duplicates?engagement={one.slug}").get_data(as_text=True)
    assert _headings(page) == ["30", "4"]
    assert _headings(client.get("/staff/duplicates?theme=money").get_data(as_text=True)) == [
        "30",
        "12",
    ]
    assert _headings(client.get("/staff/duplicates?size=10").get_data(as_text=True)) == ["30", "12"]
    html = client.get("/staff/duplicates?engagement=general").get_data(as_text=True)
    assert _headings(html) == ["3"]
    assert _headings(client.get("/staff/duplicates?engagement=nope").get_data(as_text=True)) == []
    odd = client.get("/staff/duplicates?size=7").get_data(as_text=True)
    assert "Choose a size from the list" in odd and len(_headings(odd)) == 4
    # A viewer sees no forms that change anything.
    assert "/act" not in page and "merge-form" not in page


def test_groups_come_a_page_at_a_time(app, make_engagement, signed_in):
    engagement = make_engagement()
    for n in range(campaigns.PER_PAGE + 2):
        _group(engagement, 3 + n)
    client = signed_in(Role.VIEWER)
    first = client.get("/staff/duplicates").get_data(as_text=True)
    second = client.get("/staff/duplicates?page=2").get_data(as_text=True)
    assert len(_headings(first)) == campaigns.PER_PAGE and len(_headings(second)) == 2
    assert "page 1 of 2" in first and "Page 2 of 2" in first
    assert _headings(second) == ["4", "3"]
    assert client.get("/staff/duplicates?page=9").status_code == 302
    assert client.get("/staff/duplicates?page=x").status_code == 404


def test_a_whole_group_gets_a_theme_and_a_status(groups, signed_in):
    _one, _two, made = groups
    big = made["big"]
    client = signed_in(Role.TRIAGER)
    got = client.post(f"/staff/duplicates/{big.id}/act", data={"action": "theme:services"})
    assert got.status_code == 302
    items = db.session.scalars(
        select(FeedbackItem).where(FeedbackItem.duplicate_group_id == big.id)
    ).all()
    assert {tuple(t.slug for t in i.themes()) for i in items} == {("services",)}
    assert _statuses(big.id) == {"triaged": 30}
    # The listing counts current themes: the staff's, no longer the model's Money.
    listing = client.get("/staff/duplicates?size=10").get_data(as_text=True)
    card = listing.split(f'id="group-{big.id}"')[1].split("</section>")[0]
    figures = re.search(r"\d+ triaged[^<]*", card).group(0)
    assert "Impact on services (30)" in figures and "Money" not in figures
    assert "30 triaged" in card
    other = listing.split(f'id="group-{made["other"].id}"')[1].split("</section>")[0]
    assert "Money (12)" in other and "12 new" in other
    # Other groups are untouched.
    assert _statuses(made["small"].id) == {"new": 4}
    client.post(f"/staff/duplicates/{big.id}/act", data={"action": "status:archived"})
    assert _statuses(big.id) == {"archived": 30}
    # The list starts on an action that does nothing (an outside review applied its
    # first option, a theme that replaced the group's, by mistake).
    listing = client.get("/staff/duplicates?size=10").get_data(as_text=True)
    menu = listing.split(f'id="act-{big.id}"')[1].split("</select>")[0]
    assert re.findall(r'<option value="([^"]*)"', menu)[0] == ""
    assert "selected" not in menu
    nothing = client.post(
        f"/staff/duplicates/{big.id}/act", data={"action": ""}, follow_redirects=True
    )
    assert "Choose what to do to the group" in nothing.get_data(as_text=True)
    assert _statuses(big.id) == {"archived": 30}
    said = client.post(
        f"/staff/duplicates/{big.id}/act", data={"action": "theme:jobs"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "Set the theme to Impact on jobs (replaces its themes): 30 of the group" in said
    bad = client.post(
        f"/staff/duplicates/{big.id}/act",
        data={"action": "status:responded"},
        follow_redirects=True,
    )
    assert "Choose what to do to the group" in bad.get_data(as_text=True)
    assert _statuses(big.id) == {"archived": 30}
    assert (
        client.post("/staff/duplicates/99999/act", data={"action": "campaign"}).status_code == 404
    )


def test_counting_a_campaign_once_in_public_figures(groups, signed_in):
    one, _two, made = groups
    before = feedback_queries.figures(one).total
    assert before == 34
    client = signed_in(Role.TRIAGER)
    client.post(f"/staff/duplicates/{made['big'].id}/act", data={"action": "campaign"})
    assert feedback_queries.figures(one).total == before - 29
    assert _statuses(made["big"].id) == {"new": 1, "duplicate": 29}
    page = client.get(f"/staff/duplicates?engagement={one.slug}").get_data(as_text=True)
    assert page.count("Counted once") == 1
    assert db.session.get(DuplicateGroup, made["big"].id).size == 30  # the size stays
    client.post(f"/staff/duplicates/{made['big'].id}/act", data={"action": "uncampaign"})
    assert feedback_queries.figures(one).total == before
    assert "group.campaign" in db.session.scalars(select(AuditEvent.action)).all()


def test_viewers_cannot_change_groups_and_forms_need_their_token(groups, signed_in, app):
    _one, _two, made = groups
    viewer = signed_in(Role.VIEWER)
    assert (
        viewer.post(
            f"/staff/duplicates/{made['big'].id}/act", data={"action": "campaign"}
        ).status_code
        == 403
    )
    assert viewer.post("/staff/duplicates/merge", data={"group": ["1", "2"]}).status_code == 403
    assert viewer.get(f"/staff/duplicates/{made['big'].id}/link").status_code == 403
    triager = signed_in(Role.TRIAGER)
    assert triager.get(f"/staff/duplicates/{made['big'].id}/link").status_code == 403
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        got = triager.post(f"/staff/duplicates/{made['big'].id}/act", data={"action": "campaign"})
        assert got.status_code == 400  # refused by CSRF protection before the view
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert _statuses(made["big"].id) == {"new": 30}


def test_merging_groups_of_one_engagement(groups, signed_in):
    _one, _two, made = groups
    client = signed_in(Role.TRIAGER)
    ids = [str(made["big"].id), str(made["small"].id)]
    client.post("/staff/duplicates/merge", data={"group": ids})
    assert db.session.get(DuplicateGroup, made["small"].id) is None
    kept = db.session.get(DuplicateGroup, made["big"].id)
    db.session.refresh(kept)
    assert kept.size == 34 and sum(_statuses(kept.id).values()) == 34
    refused = client.post(
        "/staff/duplicates/merge",
        data={"group": [str(made["big"].id), str(made["other"].id)]},
        follow_redirects=True,
    )
    assert "Only groups of the same engagement" in refused.get_data(as_text=True)
    assert db.session.get(DuplicateGroup, made["other"].id) is not None
    one = client.post("/staff/duplicates/merge", data={"group": [str(made["big"].id)]})
    assert one.status_code == 302 and db.session.get(DuplicateGroup, made["big"].id).size == 34


def test_splitting_from_the_inbox(groups, signed_in):
    _one, _two, made = groups
    big = made["big"]
    ids = db.session.scalars(
        select(FeedbackItem.id)
        .where(FeedbackItem.duplicate_group_id == big.id)
        .order_by(FeedbackItem.id)
    ).all()
    client = signed_in(Role.TRIAGER)
    inbox = client.get(f"/staff/inbox?group={big.id}").get_data(as_text=True)
    assert 'value="ungroup"' in inbox and 'value="new_group"' in inbox
    got = client.post(
        "/staff/inbox/bulk", data={"action": "new_group", "item": [str(i) for i in ids[:5]]}
    )
    new = db.session.scalars(select(DuplicateGroup).order_by(DuplicateGroup.id.desc())).first()
    assert got.location.endswith(f"/staff/inbox?group={new.id}")
    assert new.size == 5 and new.engagement_id == big.engagement_id
    db.session.refresh(big)
    assert big.size == 25
    client.post("/staff/inbox/bulk", data={"action": "ungroup", "item": [str(ids[5])]})
    db.session.refresh(big)
    assert big.size == 24
    assert db.session.get(FeedbackItem, ids[5]).duplicate_group_id is None
    # A group left with one item is no group.
    client.post("/staff/inbox/bulk", data={"action": "ungroup", "item": [str(i) for i in ids[:4]]})
    assert db.session.get(DuplicateGroup, new.id) is None
    assert db.session.get(FeedbackItem, ids[4]).duplicate_group_id is None


def test_a_publisher_links_a_whole_group_to_a_response(groups, signed_in):
    one, two, made = groups
    response = publishing.create_draft(
        engagement=one,
        you_said="the clinic must stay open",
        we_did="It stays open until 2027.",
        status=ResponseStatus.PLANNED,
        themes=[],
        items=[],
        by="p@example.org",
    )
    elsewhere = publishing.create_draft(
        engagement=two,
        you_said="the merger is rushed",
        we_did="We slowed it down.",
        status=ResponseStatus.PLANNED,
        themes=[],
        items=[],
        by="p@example.org",
    )
    db.session.commit()
    client = signed_in(Role.PUBLISHER)
    page = client.get(f"/staff/duplicates/{made['big'].id}/link?q=clinic").get_data(as_text=True)
    assert "the clinic must stay open" in page and "the merger is rushed" not in page
    missed = client.get(f"/staff/duplicates/{made['big'].id}/link?q=zzz").get_data(as_text=True)
    assert "No responses with these words" in missed
    got = client.post(f"/staff/duplicates/{made['big'].id}/link", data={"response": response.id})
    assert got.location.endswith(f"/staff/responses/{response.id}")
    db.session.refresh(response)
    assert len(response.items) == 30
    refused = client.post(
        f"/staff/duplicates/{made['big'].id}/link",
        data={"response": elsewhere.id},
        follow_redirects=True,
    )
    assert "another engagement" in refused.get_data(as_text=True)
    assert db.session.get(Response, elsewhere.id).items == []
    listing = client.get(f"/staff/duplicates?engagement={one.slug}").get_data(as_text=True)
    assert f"/staff/responses/new?engagement={one.slug}&amp;group={made['big'].id}" in listing
