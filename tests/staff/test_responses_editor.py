"""Publishers write, preview, publish, follow up and unpublish responses in the staff area."""

from __future__ import annotations

from sqlalchemy import select

from engage.audit import AuditEvent
from engage.extensions import db
from engage.feedback.models import DuplicateGroup, Status
from engage.publish.models import Response, ResponseState, ResponseStatus, ResponseTemplate
from engage.staff.models import Role


def _actions():
    return db.session.scalars(select(AuditEvent.action)).all()


def test_draft_preview_publish_unpublish(signed_in, make_engagement, make_item):
    engagement = make_engagement(slug="nw-case-for-change", title="Case for change")
    items = [
        make_item(
            f"Worried about the budget deficit in Brent, number {n}",
            engagement_slug=engagement.slug,
            consent_to_quote=True,
        )
        for n in range(3)
    ]
    items[0].redacted_text = "Worried about the budget deficit, redacted"
    db.session.commit()
    client = signed_in(Role.PUBLISHER)

    page = client.get(f"/staff/responses/new?engagement={engagement.slug}")
    assert page.status_code == 200
    assert items[1].reference in page.get_data(as_text=True)

    missing = client.post(
        "/staff/responses/new",
        data={"engagement": engagement.slug, "you_said": "", "we_did": "x", "status": "planned"},
    )
    assert missing.status_code == 400
    assert db.session.scalar(select(db.func.count(Response.id))) == 0

    response = client.post(
        "/staff/responses/new",
        data={
            "engagement": engagement.slug,
            "themes": ["money"],
            "you_said": "the money will run out before the new services open",
            "we_did": "We are publishing the finance plan in September.",
            "status": "planned",
            "item": [str(items[0].id), str(items[1].id)],
        },
    )
    assert response.status_code == 302
    draft = db.session.scalars(select(Response)).one()
    assert draft.state == ResponseState.DRAFT and len(draft.items) == 2
    assert [t.slug for t in draft.themes] == ["money"]

    # Nobody outside sees a draft; the preview shows it as the public would.
    anonymous = client.application.test_client()
    assert anonymous.get(f"/you-said-we-did/{draft.id}").status_code == 404
    preview = client.get(f"/staff/responses/{draft.id}/preview").get_data(as_text=True)
    assert "Preview" in preview and "the money will run out" in preview
    assert "Worried about the budget deficit, redacted" in preview
    assert "number 1" not in preview  # unredacted text is never quoted

    assert client.post(f"/staff/responses/{draft.id}/publish").status_code == 302
    db.session.refresh(draft)
    assert draft.state == ResponseState.PUBLISHED
    db.session.refresh(items[0])
    assert items[0].status == Status.RESPONDED
    assert anonymous.get(f"/you-said-we-did/{draft.id}").status_code == 200

    client.post(
        f"/staff/responses/{draft.id}/status",
        data={"status": "in-progress", "note": "Finance plan drafted", "on": "2019-09-02"},
    )
    db.session.refresh(draft)
    assert draft.status == ResponseStatus.IN_PROGRESS
    assert draft.milestones[-1].text.endswith("Finance plan drafted")

    assert (
        client.post(f"/staff/responses/{draft.id}/unpublish", data={"reason": ""}).status_code
        == 302
    )
    db.session.refresh(draft)
    assert draft.state == ResponseState.PUBLISHED  # no reason, no unpublishing
    client.post(f"/staff/responses/{draft.id}/unpublish", data={"reason": "Figures were wrong"})
    db.session.refresh(draft)
    assert draft.state == ResponseState.UNPUBLISHED
    assert anonymous.get(f"/you-said-we-did/{draft.id}").status_code == 404
    assert draft.revisions[-1].note == "Figures were wrong"
    for action in (
        "response.created",
        "response.published",
        "response.status",
        "response.unpublished",
    ):
        assert action in _actions()


def test_editing_a_published_response_keeps_the_history(signed_in, make_engagement):
    engagement = make_engagement()
    client = signed_in(Role.PUBLISHER)
    client.post(
        "/staff/responses/new",
        data={
            "engagement": engagement.slug,
            "you_said": "first wording here",
            "we_did": "first answer",
            "status": "planned",
        },
    )
    response = db.session.scalars(select(Response)).one()
    client.post(f"/staff/responses/{response.id}/publish")
    client.post(
        f"/staff/responses/{response.id}",
        data={
            "engagement": engagement.slug,
            "you_said": "second wording here",
            "we_did": "second answer",
            "note": "clearer",
        },
    )
    db.session.refresh(response)
    assert response.you_said == "second wording here"
    assert response.public_updated_at is not None
    public = client.application.test_client().get(f"/you-said-we-did/{response.id}")
    body = public.get_data(as_text=True)
    assert "Updated on" in body and "first wording here" in body


def test_link_a_campaign_group_and_unlink(signed_in, make_engagement, make_item):
    engagement = make_engagement()
    client = signed_in(Role.PUBLISHER)
    group = DuplicateGroup(engagement_id=engagement.id, size=3, sample_text="Save our A&E")
    db.session.add(group)
    db.session.commit()
    members = [
        make_item(f"Save our A&E at Ealing please ({n})", engagement_slug=engagement.slug)
        for n in range(3)
    ]
    for item in members:
        item.duplicate_group_id = group.id
    db.session.commit()
    client.post(
        "/staff/responses/new",
        data={
            "engagement": engagement.slug,
            "you_said": "the A&E will close",
            "we_did": "It stays open.",
            "status": "done",
        },
    )
    response = db.session.scalars(select(Response)).one()
    client.post(
        f"/staff/responses/{response.id}/items", data={"action": "link", "group": str(group.id)}
    )
    db.session.refresh(response)
    assert len(response.items) == 3
    client.post(
        f"/staff/responses/{response.id}/items",
        data={"action": "unlink", "linked": str(members[0].id)},
    )
    db.session.refresh(response)
    assert len(response.items) == 2
    # Nothing ticked: say so, rather than "Linked 0 more items" (an outside review).
    for action in ("link", "unlink"):
        said = client.post(
            f"/staff/responses/{response.id}/items",
            data={"action": action},
            follow_redirects=True,
        ).get_data(as_text=True)
        assert "Nothing was changed: tick the" in said and "0 more items" not in said
    db.session.refresh(response)
    assert len(response.items) == 2


def test_items_of_another_engagement_cannot_be_linked(signed_in, make_engagement, make_item):
    mine, other = make_engagement(), make_engagement()
    stray = make_item("About another engagement entirely", engagement_slug=other.slug)
    client = signed_in(Role.PUBLISHER)
    response = client.post(
        "/staff/responses/new",
        data={
            "engagement": mine.slug,
            "you_said": "a concern",
            "we_did": "an answer",
            "status": "planned",
            "item": str(stray.id),
        },
    )
    assert response.status_code == 400
    assert db.session.scalar(select(db.func.count(Response.id))) == 0


def test_reusable_wording(signed_in, make_engagement):
    engagement = make_engagement()
    client = signed_in(Role.PUBLISHER)
    assert client.post("/staff/responses/templates", data={"name": ""}).status_code == 400
    client.post(
        "/staff/responses/templates",
        data={"name": "Finance plan", "you_said": "", "we_did": "We publish the plan <soon>."},
    )
    template = db.session.scalars(select(ResponseTemplate)).one()
    page = client.get(
        f"/staff/responses/new?engagement={engagement.slug}&template={template.id}"
    ).get_data(as_text=True)
    assert "We publish the plan &lt;soon&gt;." in page
    assert client.get("/staff/responses").status_code == 200


def test_editor_lists_fifty_linked_items_and_counts_people_without_spam(
    signed_in, make_engagement, make_item
):
    """The editor loads the first 50 linked items, not all of them, and says how many
    more there are; the people it answers leave spam out either way."""
    from engage.publish import service

    engagement = make_engagement(slug="linked-count", title="Linked count")
    items = [
        make_item(f"Letter number {n} about the ward closure", engagement_slug=engagement.slug)
        for n in range(53)
    ]
    items[0].status = Status.SPAM
    items[52].status = Status.SPAM
    db.session.commit()
    client = signed_in(Role.PUBLISHER)
    few = service.create_draft(
        engagement=engagement,
        you_said="the ward will close",
        we_did="We are keeping it open.",
        status=ResponseStatus.PLANNED,
        themes=[],
        items=items[:3],
        by="test",
    )
    many = service.create_draft(
        engagement=engagement,
        you_said="the ward will close",
        we_did="We are keeping it open.",
        status=ResponseStatus.PLANNED,
        themes=[],
        items=items,
        by="test",
    )
    db.session.commit()

    page = client.get(f"/staff/responses/{few.id}").get_data(as_text=True)
    assert "Feedback this answers (2 people)" in page
    assert page.count('name="linked"') == 3 and "more.</p>" not in page

    page = client.get(f"/staff/responses/{many.id}").get_data(as_text=True)
    assert "Feedback this answers (51 people)" in page
    assert page.count('name="linked"') == 50
    assert "and 3 more.</p>" in page
    assert items[49].reference in page and items[50].reference not in page.split("and 3 more")[0]
