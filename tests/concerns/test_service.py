"""Concerns stored per engagement and theme: re-runs, steering, examples, responses."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from sqlalchemy import func, select

from engage.audit import AuditEvent
from engage.concerns import service, steering
from engage.concerns.models import Concern, ConcernItem
from engage.extensions import db
from engage.feedback.models import DuplicateGroup, Theme
from tests.concerns.conftest import evaluation_rows


@pytest.fixture
def services_theme(make_engagement, add_items, theme_named):
    engagement = make_engagement()
    items = add_items(engagement, "services", [r["text"] for r in evaluation_rows("services")])
    return engagement, theme_named("services"), items


def _placement(engagement, theme) -> dict[int, int]:
    rows = db.session.execute(
        select(ConcernItem.item_id, ConcernItem.concern_id)
        .join(Concern)
        .where(Concern.engagement_id == engagement.id, Concern.theme_id == theme.id)
    )
    return dict(rows.all())


def test_a_run_places_every_item_once_and_a_second_run_changes_nothing(services_theme):
    engagement, theme, items = services_theme
    first = service.refresh(engagement, theme)
    db.session.commit()
    assert first.found >= 2
    placement = _placement(engagement, theme)
    assert sorted(placement) == sorted(item.id for item in items)
    labels = {c.id: c.label for c in service.concerns_of(engagement, theme)}

    again = service.refresh(engagement, theme)
    db.session.commit()
    assert (again.found, again.joined, again.to_new_group) == (0, 0, 0)
    assert _placement(engagement, theme) == placement
    assert {c.id: c.label for c in service.concerns_of(engagement, theme)} == labels


def test_staff_changes_survive_new_feedback(services_theme, add_items):
    engagement, theme, items = services_theme
    service.refresh(engagement, theme)
    db.session.commit()
    first, second, third = service.concerns_of(engagement, theme)[:3]
    steering.rename(first, label="Seeing a GP", draft="you cannot get a GP appointment.")
    steering.set_hidden(third, hidden=True)
    moved = next(m.item for m in first.members)
    steering.move_item(moved, to=second)
    db.session.commit()

    new = add_items(
        engagement,
        "services",
        [
            "Impossible to get a GP appointment, the phone lines are always engaged at 8am.",
            "zzz qqq xyzzy",
        ],
        start=datetime(2019, 7, 1, 10),
    )
    result = service.refresh(engagement, theme)
    db.session.commit()
    db.session.expire_all()
    assert result.found == 0
    assert result.joined + result.to_new_group == 2
    first, second, third = (db.session.get(Concern, c.id) for c in (first, second, third))
    assert first.label == "Seeing a GP"
    assert first.draft == "you cannot get a GP appointment."
    assert third.hidden
    placement = _placement(engagement, theme)
    assert placement[moved.id] == second.id
    assert set(placement) == {i.id for i in items + new}
    # Nonsense is near nothing: it waits in the "new" group for staff.
    new_group = db.session.scalar(select(Concern).where(Concern.is_new_group.is_(True)))
    assert new_group is not None and placement[new[1].id] == new_group.id
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"concern.rename", "concern.hide", "concern.move_item"} <= actions


def test_rediscovering_keeps_what_staff_touched(services_theme):
    engagement, theme, _items = services_theme
    service.refresh(engagement, theme)
    db.session.commit()
    kept = service.concerns_of(engagement, theme)[0]
    steering.rename(kept, label="Kept by staff")
    kept_members = {m.item_id for m in kept.members}
    db.session.commit()
    service.refresh(engagement, theme, rediscover=True)
    db.session.commit()
    db.session.expire_all()
    again = db.session.get(Concern, kept.id)
    assert again.label == "Kept by staff"
    assert {m.item_id for m in again.members} == kept_members


def test_examples_are_redacted_copies_of_items_whose_authors_consented(
    make_engagement, add_items, theme_named
):
    engagement = make_engagement()
    theme = theme_named("jobs")
    texts = [r["text"] for r in evaluation_rows("jobs")]
    raw = "Jane Smith of 1 High Street will lose her job at the CCG."
    add_items(engagement, "jobs", texts[:20])
    add_items(engagement, "jobs", [raw] * 1, consent_to_quote=True)  # consent, not redacted
    add_items(
        engagement,
        "jobs",
        [raw],
        consent_to_quote=False,
        redacted_text="[name removed] will lose her job at the CCG (no consent).",
    )
    add_items(
        engagement,
        "jobs",
        [raw],
        consent_to_quote=True,
        redacted_text="[name removed] of [address removed] will lose her job at the CCG.",
    )
    service.refresh(engagement, theme)
    db.session.commit()
    shown = [text for v in service.overview(engagement, theme) for text in v.examples]
    assert "[name removed] of [address removed] will lose her job at the CCG." in shown
    assert all("Jane Smith" not in text for text in shown)
    assert all("no consent" not in text for text in shown)
    assert all(text not in texts for text in shown), "unredacted words are never examples"
    for concern in service.concerns_of(engagement, theme):
        assert "Jane" not in concern.draft


def test_one_letter_signed_off_two_ways_is_one_example(make_engagement, add_items, theme_named):
    engagement = make_engagement()
    theme = theme_named("jobs")
    add_items(engagement, "jobs", [r["text"] for r in evaluation_rows("jobs")][:20])
    body = "Cutting management costs by a fifth will mean redundancies at the CCG."
    for closing in ("Regards.", "I look forward to your response.", "Thanks"):
        text = f"{body} {closing}"
        add_items(engagement, "jobs", [text], consent_to_quote=True, redacted_text=text)
    service.refresh(engagement, theme)
    db.session.commit()
    shown = [text for v in service.overview(engagement, theme) for text in v.examples]
    assert sum(text.startswith(body) for text in shown) == 1


def test_the_concerns_of_a_theme_offer_different_draft_lines(app):
    # The demo's services items fall into concerns that share a main idea (closures):
    # each is offered a line of its own, not the idea's sentence twice.
    from engage.demo import load_demo
    from engage.engagements import service as engagements

    load_demo()
    engagement = engagements.get_by_slug("nwl-commissioning-reform-case-for-change")
    for slug in ("services", "decision-making", "money"):
        theme = db.session.scalars(select(Theme).where(Theme.slug == slug)).one()
        service.refresh(engagement, theme)
        db.session.commit()
        drafts = [c.draft for c in service.concerns_of(engagement, theme)]
        assert len(drafts) >= 2
        assert len(set(drafts)) == len(drafts), drafts


def test_a_concern_split_off_gets_a_draft_line_of_its_own(make_engagement, add_items, theme_named):
    engagement = make_engagement()
    theme = theme_named("services")
    add_items(engagement, "services", [r["text"] for r in evaluation_rows("services")])
    service.refresh(engagement, theme)
    db.session.commit()
    before = service.concerns_of(engagement, theme)
    for concern in sorted(before, key=lambda c: -len(c.members))[:3]:
        steering.split(concern)
        db.session.commit()
    drafts = [c.draft for c in service.concerns_of(engagement, theme)]
    assert len(drafts) == len(before) + 3
    assert len(set(drafts)) == len(drafts), drafts


def test_campaign_copies_join_their_group_and_count_at_their_size(
    make_engagement, add_items, theme_named
):
    engagement = make_engagement()
    theme = theme_named("money")
    add_items(engagement, "money", [r["text"] for r in evaluation_rows("money")])
    group = DuplicateGroup(engagement_id=engagement.id, size=40, sample_text="x")
    db.session.add(group)
    db.session.commit()
    letter = "Keep Brent's health money in Brent. Do not merge our budget. Signed, a resident."
    copies = add_items(engagement, "money", [letter] * 40, duplicate_group_id=group.id)
    service.refresh(engagement, theme)
    db.session.commit()
    placement = _placement(engagement, theme)
    homes = {placement[c.id] for c in copies}
    assert len(homes) == 1
    home = db.session.get(Concern, homes.pop())
    others = [m for m in home.members if m.item.duplicate_group_id != group.id]
    assert len(others) >= 2, "the campaign does not make a concern of its own"
    # A later copy joins its campaign's concern whatever its words.
    late = add_items(engagement, "money", ["zzz qqq"], duplicate_group_id=group.id)
    service.refresh(engagement, theme)
    db.session.commit()
    assert _placement(engagement, theme)[late[0].id] == home.id


def test_merge_split_and_a_response_linked_to_every_item(services_theme):
    engagement, theme, items = services_theme
    service.refresh(engagement, theme)
    db.session.commit()
    a, b = service.concerns_of(engagement, theme)[:2]
    total = len(a.members) + len(b.members)
    steering.merge(a, [b])
    db.session.commit()
    assert len(a.members) == total
    assert db.session.get(Concern, b.id) is None
    other = steering.split(a)
    db.session.commit()
    assert len(a.members) + len(other.members) == total and other.members and a.members
    # Both halves have a centre and examples of their own, before any re-run.
    for half in (a, other):
        assert half.centroid is not None
        assert half.central_ids and set(half.central_ids) <= {m.item_id for m in half.members}

    response = steering.create_response(a, engagement=engagement, by="publisher@example.org")
    db.session.commit()
    assert {i.id for i in response.items} == {m.item_id for m in a.members}
    assert response.you_said == a.draft
    assert a.response_id == response.id
    assert (
        db.session.scalar(
            select(func.count(AuditEvent.id)).where(AuditEvent.action.like("concern.%"))
        )
        >= 3
    )


def test_cli_prints_the_documented_json(services_theme, runner):
    engagement, theme, items = services_theme
    from engage.cli import cli

    result = runner.invoke(
        cli, ["concerns", "--engagement", engagement.slug, "--theme", "services", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["engagement"] == engagement.slug and data["theme"] == "services"
    assert sum(c["count"] for c in data["concerns"]) == len(items)
    references = {r for c in data["concerns"] for r in c["items"]}
    assert references == {i.reference for i in items}
    for concern in data["concerns"]:
        assert {"label", "count", "items", "draft"} <= set(concern)
        assert concern["draft"].startswith("You told us you are concerned that ")
        assert concern["count"] == len(concern["items"])
    unknown = runner.invoke(cli, ["concerns", "--engagement", "nope", "--json"])
    assert unknown.exit_code != 0


def test_weeks_run_from_the_opening_week_without_gaps_or_losses(services_theme, add_items):
    engagement, theme, items = services_theme
    # Sent before the engagement opened (a letter typed in later): still counted.
    add_items(
        engagement,
        "services",
        ["GP appointments are impossible to get."],
        start=datetime(2019, 5, 1, 9),
    )
    service.refresh(engagement, theme)
    db.session.commit()
    for v in service.overview(engagement, theme):
        weeks = [week for week, _n in v.weeks]
        assert weeks[0].weekday() == 0
        assert all((b - a).days == 7 for a, b in zip(weeks, weeks[1:], strict=False))
        assert sum(n for _week, n in v.weeks) == v.count


def test_a_draft_may_use_a_consenting_items_impersonal_sentences_but_not_others(app):
    from engage.feedback.models import FeedbackItem

    consenting = FeedbackItem(
        text=(
            "Dear team, I am Jane Smith. Our walk-in centre in Acton will close. Ring 07700 900123."
        ),
        consent_to_quote=True,
        author_name="Jane Smith",
    )
    assert service.draftable(consenting) == "Our walk-in centre in Acton will close."
    unwilling = FeedbackItem(text="Our walk-in centre will close.", consent_to_quote=False)
    assert service.draftable(unwilling) is None
    # Staff's own redaction wins: it is used as they left it.
    redacted = FeedbackItem(
        text="Jane Smith says the centre will close.",
        redacted_text="[name removed] says the centre will close.",
        consent_to_quote=True,
    )
    assert service.draftable(redacted) == "[name removed] says the centre will close."


def test_a_campaigns_draft_words_come_from_any_copy_that_consented(make_engagement, add_items):
    engagement = make_engagement()
    group = DuplicateGroup(engagement_id=engagement.id, size=3, sample_text="x")
    db.session.add(group)
    db.session.commit()
    letter = "The walk-in centre in Acton must stay open for families without cars."
    first = add_items(engagement, "services", [letter], duplicate_group_id=group.id)
    later = add_items(
        engagement, "services", [letter] * 2, duplicate_group_id=group.id, consent_to_quote=True
    )
    alone = add_items(engagement, "services", ["Keep the Acton clinic."])
    # The campaign's first copy did not consent; a later copy of the same letter did.
    assert service.draft_texts(first + alone, first + later + alone) == [letter]
    assert service.draft_texts(first + alone, first + alone) == []
