"""What the inbox's filter lists offer (engagements, themes, areas), and the ids the
filters' slugs name."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app
from sqlalchemy import Date, Integer, String, column, select, text

from engage import caching
from engage.engagements.models import Engagement
from engage.extensions import db
from engage.feedback.models import Channel, Status, Theme
from engage.languages import names as language_names  # issue 24
from engage.staff.inbox.filters import GENERAL, UNCLASSIFIED, InboxFilters
from engage.staff.labels import STATUS_NAMES


@dataclass(frozen=True)
class ThemeChoice:
    """A theme as the inbox shows it (a tag, an option)."""

    id: int
    slug: str
    name: str


@dataclass(frozen=True)
class InboxChoices:
    """What the inbox's filter lists offer, read in one statement a page."""

    engagements: tuple[tuple[str, str], ...]  # (slug, title), most recently opened first
    themes: tuple[ThemeChoice, ...]  # in the labelling guide's order
    areas: tuple[str, ...]  # every area named on an item, sorted
    engagement_ids: dict[str, int] = field(compare=False)
    theme_by_id: dict[int, ThemeChoice] = field(compare=False)

    @property
    def theme_ids(self) -> dict[str, int]:
        return {t.slug: t.id for t in self.themes}


# Engagements, themes and areas in one round trip: three statements cost the inbox more
# Python than the SQL they run. Areas: one index seek per area, not a full scan.
_CHOICE_COLUMNS = (
    column("kind", String),
    column("id", Integer),
    column("slug", String),
    column("name", String),
    column("opens_on", Date),
    column("position", Integer),
)
_CHOICES_BUT_AREAS = text(
    "SELECT 'e' AS kind, id, slug, title AS name, opens_on, NULL AS position FROM engagement"
    " UNION ALL SELECT 't', id, slug, name, NULL, position FROM theme"
).columns(*_CHOICE_COLUMNS)
_CHOICES = text(
    "WITH RECURSIVE a(area) AS ("
    " SELECT min(area) FROM feedback_item WHERE area > ''"
    " UNION ALL"
    " SELECT (SELECT min(area) FROM feedback_item WHERE area > a.area)"
    " FROM a WHERE a.area IS NOT NULL"
    ")"
    " SELECT 'e' AS kind, id, slug, title AS name, opens_on, NULL AS position FROM engagement"
    " UNION ALL SELECT 't', id, slug, name, NULL, position FROM theme"
    " UNION ALL SELECT 'a', NULL, area, area, NULL, NULL FROM a WHERE area IS NOT NULL"
).columns(*_CHOICE_COLUMNS)


def _areas_cache() -> caching.NamedCache:
    # Made on the first page read with ENGAGE_INBOX_AREAS_MAX_AGE above 0, with that
    # lifetime (or ENGAGE_CACHE_INBOX_AREAS_SECONDS); a setting of 0 bypasses it.
    return caching.named_cache(
        "inbox_areas", maxsize=1, seconds=current_app.config["ENGAGE_INBOX_AREAS_MAX_AGE"]
    )


def forget_areas() -> None:
    """Read the areas afresh on the next page (they are otherwise kept for
    ENGAGE_INBOX_AREAS_MAX_AGE seconds)."""
    cache = caching.registered().get("inbox_areas")
    if cache is not None:
        cache.clear()


def inbox_choices() -> InboxChoices:
    """The engagements, themes and areas the inbox's filters offer.

    Engagements and themes are read every time (a new engagement shows at once). The
    list of areas, a walk of an index that costs PostgreSQL about a millisecond, is
    kept per process for ENGAGE_INBOX_AREAS_MAX_AGE seconds (the named cache
    ``inbox_areas``): an area first named by new feedback joins the list within that
    time.
    """
    cache = _areas_cache() if current_app.config["ENGAGE_INBOX_AREAS_MAX_AGE"] else None
    kept = None if cache is None else cache.get("areas")
    fresh = kept is not None
    engagements, themes, areas = [], [], []
    for row in db.session.execute(_CHOICES_BUT_AREAS if fresh else _CHOICES):
        if row.kind == "e":
            engagements.append(row)
        elif row.kind == "t":
            themes.append(row)
        else:
            areas.append(row.slug)
    if fresh:
        area_choices = kept
    else:
        area_choices = tuple(sorted(areas))
        if cache is not None:
            cache.set("areas", area_choices)
    # As list_engagements(): the most recently opened first (ties: the older engagement).
    engagements.sort(key=lambda r: r.id)
    engagements.sort(key=lambda r: r.opens_on, reverse=True)
    themes.sort(key=lambda r: (r.position, r.id))
    theme_choices = tuple(ThemeChoice(t.id, t.slug, t.name) for t in themes)
    return InboxChoices(
        engagements=tuple((e.slug, e.name) for e in engagements),
        themes=theme_choices,
        areas=area_choices,
        engagement_ids={e.slug: e.id for e in engagements},
        theme_by_id={t.id: t for t in theme_choices},
    )


@dataclass(frozen=True)
class Ids:
    """The ids the filters' slugs name (-1 for a slug that names nothing)."""

    engagement: int | None = None
    theme: int | None = None


def resolve(f: InboxFilters, choices: InboxChoices | None = None) -> Ids:
    """Look the engagement and theme slugs up once (in ``choices`` if given, else in one
    statement), so the item query compares plain ids (which an index can use) instead of
    running subqueries."""
    engagement = f.engagement if f.engagement and f.engagement != GENERAL else None
    theme = f.theme if f.theme and f.theme != UNCLASSIFIED else None
    if engagement is None and theme is None:
        return Ids()
    if choices is not None:
        return Ids(
            engagement=None if engagement is None else choices.engagement_ids.get(engagement, -1),
            theme=None if theme is None else choices.theme_ids.get(theme, -1),
        )
    row = db.session.execute(
        select(
            select(Engagement.id).where(Engagement.slug == (engagement or "")).scalar_subquery(),
            select(Theme.id).where(Theme.slug == (theme or "")).scalar_subquery(),
        )
    ).one()
    return Ids(
        engagement=None if engagement is None else (row[0] if row[0] is not None else -1),
        theme=None if theme is None else (row[1] if row[1] is not None else -1),
    )


def filter_options(choices: InboxChoices) -> dict[str, tuple[tuple[str, str], ...]]:
    """(value, text) options for each of the inbox's filter lists."""
    return {
        "engagement": (*choices.engagements, (GENERAL, "General feedback")),
        "theme": ((UNCLASSIFIED, "Unclassified"), *((t.slug, t.name) for t in choices.themes)),
        "area": tuple((area, area) for area in choices.areas),
        "channel": tuple((c.value, c.label) for c in Channel),
        "status": tuple((s.value, STATUS_NAMES[s]) for s in Status),
        "language": tuple(language_names.NAMES.items()),  # issue 24
    }
