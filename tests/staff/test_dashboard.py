"""Dashboard figures: each one checked against a direct count over the rows."""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from engage.extensions import db
from engage.feedback.models import (
    Channel,
    DuplicateGroup,
    FeedbackItem,
    Status,
    TagSource,
    Theme,
    ThemeTag,
)
from engage.staff.dashboard import (
    NOT_GIVEN,
    UNCLASSIFIED,
    DashboardStats,
    engagement_stats,
)

MONDAY = datetime(2019, 6, 3)  # the first week of the data set


def themes() -> dict[str, Theme]:
    return {t.slug: t for t in db.session.scalars(select(Theme))}


def item(n: int, *, engagement=None, submitted_at=MONDAY, **values) -> FeedbackItem:
    values.setdefault("channel", Channel.WEB)
    values.setdefault("text", f"Feedback number {n}")
    made = FeedbackItem(
        reference=f"TEST-{n:05d}",
        engagement_id=engagement.id if engagement else None,
        submitted_at=submitted_at,
        **values,
    )
    db.session.add(made)
    return made


def tag(feedback: FeedbackItem, theme: Theme, source: TagSource) -> None:
    db.session.add(ThemeTag(item=feedback, theme=theme, source=source, confidence=0.7))


@pytest.fixture
def dataset(app, make_engagement):
    """Mixed feedback on two engagements and none: every status, channel and tag source."""
    rng = random.Random(20190528)
    engagements = [make_engagement(), make_engagement()]
    by_slug = themes()
    slugs = sorted(by_slug)
    groups = [DuplicateGroup(engagement_id=e.id) for e in engagements]
    db.session.add_all(groups)
    db.session.flush()
    # Weeks 0, 1, 3 and 6 have items; 2, 4 and 5 have none and must show as zero.
    offsets = [0, 1, 3, 6]
    for n in range(180):
        engagement = rng.choice([*engagements, engagements[0], None])
        week = rng.choice(offsets)
        when = MONDAY + timedelta(weeks=week, days=rng.randrange(7), seconds=rng.randrange(86400))
        feedback = item(
            n,
            engagement=engagement,
            submitted_at=when,
            channel=rng.choice(list(Channel)),
            status=rng.choice([*Status, Status.NEW, Status.SPAM]),
            area=rng.choice(["Harrow", "Brent", "Ealing", "Brent", None, "", "  "]),
        )
        model = rng.sample(slugs, rng.choice([0, 1, 1, 2, 3]))
        staff = rng.sample(slugs, rng.choice([0, 0, 0, 1, 2]))
        for slug in model:
            tag(feedback, by_slug[slug], TagSource.MODEL)
        for slug in staff:
            tag(feedback, by_slug[slug], TagSource.STAFF)
        if rng.random() < 0.15:
            # Reviewed as "none of these" (or confirmed): the model's tags stop counting.
            feedback.themes_reviewed_at = when + timedelta(days=1)
        if engagement is not None and rng.random() < 0.25:
            feedback.duplicate_group_id = groups[engagements.index(engagement)].id
    # Week boundaries: the last second of a Sunday and the first of the next Monday.
    item(900, engagement=engagements[1], submitted_at=datetime(2019, 6, 9, 23, 59, 59))
    item(901, engagement=engagements[1], submitted_at=datetime(2019, 6, 10, 0, 0, 0))
    db.session.commit()
    rows = db.session.scalars(select(FeedbackItem).options(selectinload(FeedbackItem.tags))).all()
    return engagements, rows


def direct_counts(rows: list[FeedbackItem], engagement_id: int | None) -> DashboardStats:
    """The dashboard's figures computed in Python over the rows, without SQL."""
    kept = [
        r
        for r in rows
        if r.status != Status.SPAM and (engagement_id is None or r.engagement_id == engagement_id)
    ]
    theme_counts: Counter[str] = Counter()
    for r in kept:
        names = [t.name for t in r.themes()]
        theme_counts.update(names or [UNCLASSIFIED])
    ordered = sorted(db.session.scalars(select(Theme)), key=lambda t: t.position)
    by_theme = [(t.name, theme_counts[t.name]) for t in ordered]
    by_theme.append((UNCLASSIFIED, theme_counts[UNCLASSIFIED]))
    areas = Counter(r.area.strip() if r.area and r.area.strip() else NOT_GIVEN for r in kept)
    channels = Counter(r.channel.label for r in kept)
    weeks = Counter(date.fromisocalendar(*r.submitted_at.isocalendar()[:2], 1) for r in kept)
    by_week = []
    if weeks:
        monday = min(weeks)
        while monday <= max(weeks):
            by_week.append((monday, weeks[monday]))
            monday += timedelta(days=7)
    grouped = [r for r in kept if r.duplicate_group_id is not None]
    return DashboardStats(
        total=len(kept),
        by_theme=by_theme,
        by_area=sorted(areas.items()),
        by_channel=sorted(channels.items()),
        by_week=by_week,
        duplicate_groups=len({r.duplicate_group_id for r in grouped}),
        items_in_groups=len(grouped),
    )


def test_figures_match_a_direct_count(dataset):
    engagements, rows = dataset
    for engagement_id in [e.id for e in engagements] + [None]:
        stats = engagement_stats(engagement_id)
        expected = direct_counts(rows, engagement_id)
        assert stats.total == expected.total > 0
        assert stats.by_theme == expected.by_theme
        # Areas and channels come largest first; compare the counts, then the order.
        assert sorted(stats.by_area) == expected.by_area
        assert sorted(stats.by_channel) == expected.by_channel
        assert [n for _, n in stats.by_channel] == sorted(
            (n for _, n in stats.by_channel), reverse=True
        )
        assert stats.by_area[-1][0] == NOT_GIVEN
        assert stats.by_week == expected.by_week
        assert stats.duplicate_groups == expected.duplicate_groups
        assert stats.items_in_groups == expected.items_in_groups
        # Cross-checks that hold whatever the data: every item is in one week, one
        # area and one channel, and in at least one theme row.
        assert sum(n for _, n in stats.by_week) == stats.total
        assert sum(n for _, n in stats.by_area) == stats.total
        assert sum(n for _, n in stats.by_channel) == stats.total
        assert sum(n for _, n in stats.by_theme) >= stats.total


def test_weeks_are_continuous_mondays_with_empty_weeks_filled(dataset):
    engagements, _ = dataset
    weeks = engagement_stats(None).by_week
    mondays = [monday for monday, _ in weeks]
    assert all(m.weekday() == 0 for m in mondays)
    assert mondays == [mondays[0] + timedelta(weeks=i) for i in range(len(mondays))]
    assert mondays[0] == MONDAY.date()
    counts = dict(weeks)
    for empty in (2, 4, 5):
        assert counts[MONDAY.date() + timedelta(weeks=empty)] == 0


def test_a_small_case_by_hand(app, make_engagement):
    engagement, other = make_engagement(), make_engagement()
    t = themes()
    a = item(1, engagement=engagement, area="Harrow", channel=Channel.EMAIL)
    tag(a, t["money"], TagSource.MODEL)
    tag(a, t["jobs"], TagSource.MODEL)  # several themes: counts under each
    b = item(2, engagement=engagement, area="Harrow")
    tag(b, t["money"], TagSource.MODEL)
    tag(b, t["services"], TagSource.STAFF)  # staff tags replace the model's
    c = item(3, engagement=engagement, submitted_at=MONDAY + timedelta(weeks=2))
    tag(c, t["jobs"], TagSource.MODEL)
    c.themes_reviewed_at = MONDAY  # reviewed as none of these
    item(6, engagement=engagement, submitted_at=datetime(2019, 6, 23, 23, 59, 59))  # a Sunday
    spam = item(4, engagement=engagement, status=Status.SPAM, area="Brent")
    tag(spam, t["money"], TagSource.STAFF)
    item(5, engagement=other, area="Brent")
    group = DuplicateGroup(engagement_id=engagement.id)
    db.session.add(group)
    db.session.flush()
    a.duplicate_group_id = b.duplicate_group_id = spam.duplicate_group_id = group.id
    db.session.commit()

    stats = engagement_stats(engagement.id)
    assert stats.total == 4
    assert dict(stats.by_theme) == {
        "Money": 1,
        "Decision-making": 0,
        "Clinical leadership": 0,
        "Impact on services": 1,
        "Impact on jobs": 1,
        UNCLASSIFIED: 2,
    }
    assert stats.by_theme[-1] == (UNCLASSIFIED, 2)
    assert stats.by_area == [("Harrow", 2), (NOT_GIVEN, 2)]
    assert stats.by_channel == [("Web form", 3), ("Email", 1)]
    assert stats.by_week == [(date(2019, 6, 3), 2), (date(2019, 6, 10), 0), (date(2019, 6, 17), 2)]
    assert stats.week_rows() == [("3 Jun 2019", 2), ("10 Jun 2019", 0), ("17 Jun 2019", 2)]
    assert (stats.duplicate_groups, stats.items_in_groups) == (1, 2)
    assert engagement_stats(None).total == 5


def test_an_engagement_without_feedback(app, make_engagement):
    stats = engagement_stats(make_engagement().id)
    assert stats.total == 0
    assert stats.by_week == [] and stats.by_area == [] and stats.by_channel == []
    assert [n for _, n in stats.by_theme] == [0] * 6
    assert (stats.duplicate_groups, stats.items_in_groups) == (0, 0)
