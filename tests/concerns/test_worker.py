"""New feedback joins kept concerns by itself: the worker's claimed job."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest
from sqlalchemy import select, update

from engage import tasks
from engage.audit import AuditEvent
from engage.concerns import discovery, placing, service, steering
from engage.concerns.models import Concern, ConcernItem
from engage.extensions import db
from engage.feedback.models import TagSource
from tests.concerns.conftest import evaluation_rows

NEW = [
    "Impossible to get a GP appointment, the phone lines are always engaged at 8am.",
    "If the maternity unit closes we will have to travel miles to give birth.",
]


@pytest.fixture
def grouped(make_engagement, add_items, theme_named):
    engagement = make_engagement()
    items = add_items(engagement, "services", [r["text"] for r in evaluation_rows("services")])
    theme = theme_named("services")
    service.refresh(engagement, theme)
    db.session.commit()
    return engagement, theme, items


def _placed(engagement, theme) -> list[int]:
    return sorted(
        db.session.scalars(
            select(ConcernItem.item_id)
            .join(Concern)
            .where(Concern.engagement_id == engagement.id, Concern.theme_id == theme.id)
        )
    )


def test_the_worker_places_new_feedback_in_kept_concerns_once(app, grouped, add_items):
    engagement, theme, items = grouped
    assert placing.owed_pairs() == []
    new = add_items(engagement, "services", NEW, start=datetime(2019, 7, 1, 10))
    assert placing.owed_pairs() == [(engagement.id, theme.id)]

    tasks.bind(app)
    results = tasks.run_sweeps()
    assert results["place_concerns"] == 2
    assert _placed(engagement, theme) == sorted(i.id for i in items + new)
    [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "concern.refresh"))
    assert event.actor_id is None and event.detail["by"] == "worker"
    assert event.detail["joined"] + event.detail["new_group"] == 2

    # Nothing owed now: a second sweep (or a second worker) places nothing again.
    assert placing.owed_pairs() == []
    assert tasks.process_new_feedback.call_local()["place_concerns"] == 0
    assert _placed(engagement, theme) == sorted(i.id for i in items + new)


def test_a_theme_done_meanwhile_by_another_worker_is_read_again_and_left(
    app, grouped, add_items, monkeypatch
):
    engagement, theme, items = grouped
    add_items(engagement, "services", NEW, start=datetime(2019, 7, 1, 10))
    stale = placing.owed_pairs()
    service.refresh(engagement, theme)  # the other worker
    db.session.commit()
    monkeypatch.setattr(placing, "owed_pairs", lambda: stale)
    assert placing.place_owed() == 0
    assert (
        db.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "concern.refresh"))
        is None
    )


def test_an_item_taken_off_the_theme_leaves_its_concern_without_a_button(app, grouped):
    engagement, theme, items = grouped
    gone = items[0]
    for tag in list(gone.tags):
        db.session.delete(tag)
    gone.themes_reviewed_at = datetime(2019, 7, 2)
    db.session.commit()
    assert placing.owed_pairs() == [(engagement.id, theme.id)]
    placing.place_owed()
    assert gone.id not in _placed(engagement, theme)
    assert placing.owed_pairs() == []


def test_themes_never_grouped_wait_for_staff(app, make_engagement, add_items):
    engagement = make_engagement()
    add_items(engagement, "jobs", [r["text"] for r in evaluation_rows("jobs")][:8])
    assert placing.owed_pairs() == []
    assert placing.place_owed() == 0


def test_the_worker_keeps_staffs_names_and_describes_the_rest_again(app, grouped, add_items):
    engagement, theme, items = grouped
    first, second = service.concerns_of(engagement, theme)[:2]
    steering.rename(first, label="Seeing a GP", draft="you cannot get a GP appointment.")
    db.session.commit()
    centres = {c.id: list(c.centroid) for c in service.concerns_of(engagement, theme)}
    new = add_items(engagement, "services", NEW * 3, start=datetime(2019, 7, 1, 10))
    assert placing.place_owed() == len(new)
    db.session.expire_all()
    concerns = service.concerns_of(engagement, theme)
    renamed = next(c for c in concerns if c.id == first.id)
    assert (renamed.label, renamed.draft) == ("Seeing a GP", "you cannot get a GP appointment.")
    moved = [c for c in concerns if c.id in centres and c.centroid != centres[c.id]]
    assert moved, "the concerns that received items have new centres"
    for concern in concerns:
        assert abs(float(np.linalg.norm(concern.centroid)) - 1) < 1e-3
        assert set(concern.central_ids) <= {m.item_id for m in concern.members}


def test_a_description_computed_while_items_moved_is_not_written(app, grouped, monkeypatch):
    engagement, theme, items = grouped
    concern = service.concerns_of(engagement, theme)[0]
    label = concern.label
    real = placing._membership
    calls = []

    def changing(e_id, t_id):
        calls.append(1)
        found = real(e_id, t_id)
        return found if len(calls) == 1 else {**found, -1: [0]}  # moved meanwhile

    monkeypatch.setattr(placing, "_membership", changing)
    monkeypatch.setattr(service, "label_from", lambda *a, **k: "Not to be written")
    assert placing.describe(engagement.id, theme.id) is False
    db.session.expire_all()
    assert db.session.get(Concern, concern.id).label == label


def test_model_tagged_items_stay_placed_when_another_item_has_a_staff_tag(
    app, make_engagement, add_items, theme_named
):
    # The bench's data: items in a theme by the model's tags, and staff tags elsewhere.
    engagement = make_engagement()
    items = add_items(engagement, "services", [r["text"] for r in evaluation_rows("services")])
    for item in items:
        for tag in item.tags:
            tag.source = TagSource.MODEL
    add_items(engagement, "jobs", ["Staff will lose their jobs."])  # a staff tag
    db.session.commit()
    theme = theme_named("services")
    service.refresh(engagement, theme)
    db.session.commit()
    assert len(_placed(engagement, theme)) == len(items)
    assert placing.owed_pairs() == [], "nothing to let go: the model's tags are current"
    assert placing.place_owed() == 0
    assert len(_placed(engagement, theme)) == len(items)


def _stamp_all(when: datetime) -> None:
    db.session.execute(update(Concern).values(updated_at=when))
    db.session.commit()


def _full_describe(engagement, theme) -> dict[int, tuple]:
    """What refresh's full describe (service.recompute over every concern) gives each
    concern, computed and rolled back."""
    with db.session.no_autoflush:
        concerns = service.concerns_of(engagement, theme)
        by_id = {item.id: item for item in service.theme_items(engagement, theme)}
        service.recompute([c for c in concerns if c.members], by_id, flush=False)
        out = {c.id: _description(c) for c in concerns}
    db.session.rollback()
    return out


def _description(concern: Concern) -> tuple:
    view = service.view(concern)
    return (concern.label, concern.draft, list(concern.central_ids), view.count, view.examples)


def test_placing_describes_only_the_concerns_that_changed_as_a_full_describe_would(
    app, grouped, add_items
):
    engagement, theme, items = grouped
    concerns = service.concerns_of(engagement, theme)
    assert len(concerns) >= 4
    # One item taken off the theme: its concern loses it.
    leaving = next(c for c in concerns if len(c.members) > 3).members[0].item
    for tag in list(leaving.tags):
        db.session.delete(tag)
    leaving.themes_reviewed_at = datetime(2019, 7, 2)
    long_ago = datetime(2001, 1, 1)
    _stamp_all(long_ago)
    lost = {c.id for c in concerns if leaving.id in {m.item_id for m in c.members}}
    new = add_items(engagement, "services", NEW, start=datetime(2019, 7, 1, 10))
    assert placing.place_owed() == len(new)
    db.session.expire_all()
    received = set(
        db.session.scalars(
            select(ConcernItem.concern_id).where(ConcernItem.item_id.in_([i.id for i in new]))
        )
    )
    concerns = service.concerns_of(engagement, theme)
    rewritten = {c.id for c in concerns if c.updated_at != long_ago}
    assert rewritten == received | lost
    assert len(rewritten) < len(concerns), "the others are not rewritten"
    stored = {c.id: _description(c) for c in concerns}
    full = _full_describe(engagement, theme)
    for concern_id in rewritten:
        assert stored[concern_id] == full[concern_id]
    centres = {c.id: c.centroid for c in concerns}
    db.session.expire_all()
    with db.session.no_autoflush:
        for concern in service.concerns_of(engagement, theme):
            if concern.id in rewritten:
                service.set_centre(concern, service.unit_items(concern, {
                    m.item_id: m.item for m in concern.members
                    if m.item_id != leaving.id
                }))  # fmt: skip
                assert np.allclose(concern.centroid, centres[concern.id], atol=2e-5)
    db.session.rollback()


def test_describing_vectorises_only_what_it_has_not_kept(app, grouped, add_items, monkeypatch):
    engagement, theme, items = grouped
    add_items(engagement, "services", NEW, start=datetime(2019, 7, 1, 10))
    placing.place_owed()
    space = discovery.space()
    real = space.vectors
    asked: list[str] = []

    def counting(texts):
        asked.extend(texts)
        return real(texts)

    monkeypatch.setattr(space, "vectors", counting)
    new = add_items(engagement, "services", NEW, start=datetime(2019, 7, 2, 10))
    assert placing.place_owed() == len(new)
    # Step 1 vectorises the new items; describing the concerns they joined reads every
    # other item's vector from memory.
    assert sorted(asked) == sorted(NEW)
    # A full describe (None: every concern) vectorises the concerns not described yet,
    # and the next one nothing.
    asked.clear()
    assert placing.describe(engagement.id, theme.id) is True
    assert asked and not set(asked) & set(NEW)
    asked.clear()
    assert placing.describe(engagement.id, theme.id) is True
    assert asked == []


def test_purged_texts_are_neither_grouped_nor_placed(app, make_engagement, add_items, theme_named):
    # An outside review (round 21): after the retention purge, a "concern" labelled
    # "retention policy, removed" gathered 30 items, all the purge's placeholder.
    from engage.concerns import jobs
    from engage.feedback.models import PLACEHOLDER

    engagement = make_engagement()
    items = add_items(engagement, "services", [r["text"] for r in evaluation_rows("services")])
    gone = items[:12]
    for item in gone:
        item.text = PLACEHOLDER
    db.session.commit()
    theme = theme_named("services")
    assert {i.id for i in service.theme_items(engagement, theme)} == {i.id for i in items[12:]}
    assert jobs.count_items(engagement, theme) == len(items) - 12
    service.refresh(engagement, theme)
    db.session.commit()
    placed = set(_placed(engagement, theme))
    assert placed and not placed & {i.id for i in gone}
    labels = " ".join(c.label or "" for c in service.concerns_of(engagement, theme))
    assert "retention" not in labels.lower()
    # New placeholders (a later purge) are not placed either.
    later = add_items(engagement, "services", [PLACEHOLDER] * 3, start=datetime(2019, 8, 1))
    placing.place_owed()
    assert not set(_placed(engagement, theme)) & {i.id for i in later}
