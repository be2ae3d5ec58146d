"""The kept counts (engage.feedback.tally) equal a recount after every kind of write,
and the dashboard and the public figures read from them equal the figures counted from
the items (tests/feedback/recount.py, the queries they replace). Run on SQLite and, with
ENGAGE_TEST_DATABASE_URL, on PostgreSQL (where several writers are tried at once)."""

from __future__ import annotations

import os
import random
import threading
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import delete, select, text
from sqlalchemy.exc import IntegrityError

from engage.classify.service import TagPlan, apply_tag_plan
from engage.extensions import db
from engage.feedback import queries, tally
from engage.feedback.models import (
    Channel,
    DuplicateGroup,
    FeedbackItem,
    FeedbackTally,
    Status,
    TagSource,
    Theme,
    ThemeTag,
)
from engage.feedback.service import Submission, submit
from engage.publish import service as publishing
from engage.publish import votes
from engage.retention import purge
from engage.staff import campaigns, item_actions, translation
from engage.staff.dashboard import Period, period_stats
from engage.staff.models import Role
from tests.feedback import recount

START = datetime(2024, 3, 4, 9, 0)


def kept() -> dict[tuple, tuple[int, ...]]:
    """The table's rows that count something."""
    rows = db.session.execute(select(FeedbackTally)).scalars()
    return {
        (r.kind, r.engagement_key, _day(r.day), r.key): (r.n, r.spam, r.duplicate, r.responded)
        for r in rows
        if r.n or r.spam or r.duplicate or r.responded
    }


def recounted() -> dict[tuple, tuple[int, ...]]:
    """The same rows counted from the items by the rebuild's own statements."""
    rows = {}
    for statement in tally.REBUILD[1:]:
        query = statement[statement.index("SELECT") :]
        for kind, engagement, day, key, *counts in db.session.execute(text(query)):
            rows[kind, engagement, _day(day), key] = tuple(int(c) for c in counts)
    return rows


def _day(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def assert_exact(engagements) -> None:
    db.session.flush()
    assert kept() == recounted()
    periods = [
        Period.of(date(2024, 1, 1), date(2024, 12, 31)),
        Period.of(START.date() + timedelta(days=2), START.date() + timedelta(days=9)),
        Period.of(date(2019, 1, 1), date(2026, 12, 5)),
    ]
    for engagement_id in [e.id for e in engagements] + [None]:
        for period in periods:
            new, old = (
                period_stats(engagement_id, period),
                recount.period_stats(engagement_id, period),
            )
            assert _figures_of(new) == _figures_of(old)
    for engagement in engagements:
        new, old = queries.figures(engagement), recount.figures(engagement)
        assert (new.total, new.themes) == (old.total, old.themes)


def _figures_of(stats):
    return (
        stats.total,
        stats.answered,
        stats.duplicate_groups,
        stats.items_in_groups,
        stats.by_theme,
        stats.answered_by_theme,
        stats.by_area,
        stats.by_channel,
        stats.over_time,
        stats.theme_trends,
    )


def _submit(rng, engagement, n: int) -> FeedbackItem:
    area = rng.choice(["Harrow", "Brent", None]) if engagement.slug == "one" else None
    return submit(
        Submission(
            text=f"Comment number {n} about the clinic opening hours and parking.",
            channel=rng.choice([Channel.WEB, Channel.EMAIL, Channel.API, Channel.PHONE]),
            engagement_slug=engagement.slug,
            area=area,
            author_email=f"person{n}@example.org" if n % 3 else None,
            submitted_at=START + timedelta(days=rng.randrange(12), hours=rng.randrange(24)),
            acknowledge=False,
        )
    )


def _model_tags(ids: list[int], theme_ids: list[int], rng) -> None:
    tags = [
        {
            "item_id": item_id,
            "theme_id": theme_id,
            "source": TagSource.MODEL,
            "confidence": 0.7,
            "model_version": "test",
            "created_at": START,
        }
        for item_id in ids
        for theme_id in rng.sample(theme_ids, rng.randrange(3))
    ]
    apply_tag_plan(TagPlan(ids, tags, {}, "test", START))


@pytest.fixture
def world(app, make_engagement, make_staff):
    engagements = [
        make_engagement(slug="one", areas=["Harrow", "Brent"]),
        make_engagement(slug="two", areas=["Harrow"]),
    ]
    db.session.commit()
    return engagements, make_staff(Role.PUBLISHER)


def test_counts_stay_exact_through_a_mix_of_writes(world):
    engagements, staff = world
    rng = random.Random(25)
    items = [_submit(rng, engagements[n % 2], n) for n in range(40)]
    db.session.commit()
    assert_exact(engagements)
    for item in items[::4]:  # areas typed in by other channels (the purge clears them)
        item.area = rng.choice([" Harrow", "", "12 Acacia Avenue", "Harrow"])
    db.session.commit()
    assert_exact(engagements)

    ids = [item.id for item in items]
    theme_ids = list(db.session.scalars(select(Theme.id)))
    slugs = list(db.session.scalars(select(Theme.slug)))
    _model_tags(ids, theme_ids, rng)  # the classifier, outside the ORM's flush
    db.session.commit()
    assert_exact(engagements)

    items = list(db.session.scalars(select(FeedbackItem).order_by(FeedbackItem.id)))
    for item in items[:8]:  # staff tags replace the model's
        item_actions.set_themes(item, rng.sample(slugs, rng.randrange(3)), by=staff)
    settable = [s for s in Status if s != Status.RESPONDED]  # that one comes with a response
    for item, status in zip(items[8:16], settable * 2, strict=False):
        item_actions.set_status(item, status, by=staff)
    db.session.commit()
    assert_exact(engagements)

    item_actions.bulk("add_theme", ids[10:20], by=staff, theme=slugs[0])
    item_actions.bulk("remove_theme", ids[5:12], by=staff, theme=slugs[1])
    item_actions.bulk("spam", ids[30:33], by=staff)
    _model_tags(ids[:20], theme_ids, rng)  # a new model: reviewed items keep staff's
    db.session.commit()
    assert_exact(engagements)

    # Campaign duplicates: a group, counted once, merged, split and deleted.
    by_engagement = [i for i in items if i.engagement_id == engagements[0].id]
    first = DuplicateGroup(engagement=engagements[0], size=4, sample_text="x")
    second = DuplicateGroup(engagement=engagements[0], size=3, sample_text="y")
    for member in by_engagement[:4]:
        member.duplicate_group = first
    for member in by_engagement[4:7]:
        member.duplicate_group = second
    db.session.commit()
    assert_exact(engagements)
    campaigns.count_once(first, by=staff)
    db.session.commit()
    assert_exact(engagements)
    merged = campaigns.merge([first.id, second.id], by=staff)
    db.session.commit()
    assert_exact(engagements)
    campaigns.split([by_engagement[0].id, by_engagement[1].id], by=staff, new_group=True)
    db.session.commit()
    assert_exact(engagements)
    db.session.delete(db.session.get(DuplicateGroup, merged.id))
    db.session.commit()
    assert_exact(engagements)

    # A published response answers items; a "No" with a comment is not counted again.
    response = publishing.create_draft(
        engagement=engagements[0],
        you_said="Parking near the clinic is hard.",
        we_did="We have added twenty spaces.",
        items=by_engagement[7:10],
    )
    publishing.publish(response, notify=False)
    db.session.commit()
    votes.vote(
        response, helpful=False, comment="That does not help me at all, I still cannot park."
    )
    db.session.commit()
    assert_exact(engagements)

    # A translation owes a new classification: the model's tags go.
    translation._owe_classification(items[25])
    # An item moved to another engagement and day, one deleted, a tag deleted.
    moved = items[26]
    moved.engagement_id = engagements[1].id if moved.engagement_id == engagements[0].id else None
    moved.submitted_at = START + timedelta(days=40)
    db.session.delete(items[27])
    staff_tag = db.session.scalar(select(ThemeTag).where(ThemeTag.source == TagSource.STAFF))
    db.session.delete(staff_tag)
    db.session.commit()
    assert_exact(engagements)

    # The retention purge drops typed-in areas, batch by batch.
    purge(30, now=START + timedelta(days=36))
    assert_exact(engagements)


def test_a_rolled_back_write_changes_no_count(world):
    engagements, staff = world
    rng = random.Random(7)
    items = [_submit(rng, engagements[0], n) for n in range(5)]
    db.session.commit()
    before = kept()
    item_actions.set_status(items[0], Status.SPAM, by=staff)
    item_actions.set_themes(items[1], [], by=staff)
    db.session.flush()
    assert kept() != before  # counted within the transaction
    db.session.rollback()
    assert kept() == before == recounted()


def test_rebuild_gives_the_kept_counts(world):
    engagements, staff = world
    rng = random.Random(3)
    for n in range(12):
        _submit(rng, engagements[n % 2], n)
    db.session.commit()
    ids = list(db.session.scalars(select(FeedbackItem.id)))
    _model_tags(ids, list(db.session.scalars(select(Theme.id))), rng)
    db.session.commit()
    before = kept()
    db.session.execute(delete(FeedbackTally))
    tally.rebuild()
    assert kept() == before


def test_public_figures_leave_out_the_same_statuses_as_before():
    assert set(queries.COUNTED_STATUSES) == set(Status) - {Status.SPAM, Status.DUPLICATE}


@pytest.mark.skipif(
    not os.environ.get("ENGAGE_TEST_DATABASE_URL"),
    reason="several writers at once: PostgreSQL",
)
def test_several_writers_at_once_keep_the_counts_exact(app, world):
    engagements, staff = world
    rng = random.Random(11)
    items = [_submit(rng, engagements[n % 2], n) for n in range(30)]
    db.session.commit()
    ids = [item.id for item in items]
    staff_id = staff.id
    slugs = list(db.session.scalars(select(Theme.slug)))
    errors: list[BaseException] = []

    def writer(seed: int) -> None:
        r = random.Random(seed)
        try:
            with app.app_context():
                me = db.session.get(type(staff), staff_id)
                for _ in range(15):
                    item = db.session.get(FeedbackItem, r.choice(ids))
                    try:
                        if r.random() < 0.5:
                            status = r.choice([s for s in Status if s != Status.RESPONDED])
                            item_actions.set_status(item, status, by=me)
                        else:
                            item_actions.set_themes(item, r.sample(slugs, r.randrange(3)), by=me)
                        db.session.commit()
                    except IntegrityError:  # two people adding one tag at once: one fails
                        db.session.rollback()
                db.session.remove()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    db.session.expire_all()
    assert_exact(engagements)


def test_a_write_the_counts_are_not_told_of_is_caught(world):
    engagements, _staff = world
    rng = random.Random(5)
    items = [_submit(rng, engagements[0], n) for n in range(3)]
    db.session.commit()
    assert kept() == recounted() != {}
    db.session.execute(
        text("UPDATE feedback_item SET status = 'spam' WHERE id = :id"), {"id": items[0].id}
    )
    assert kept() != recounted()
