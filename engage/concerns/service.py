"""Concerns of one engagement's theme: find them, keep staff's steering, draft lines.

Rules worth knowing:

- The first run groups every item of the theme (``discovery.discover``). Later runs keep
  every concern and every item's place; only items not yet placed are placed: with the
  other copies of their campaign if those are placed, else in the nearest concern whose
  centre is at least ``JOIN_SIMILARITY`` away (cosine), else in the "New feedback" group.
- A label or draft staff have edited is never rewritten; others follow their items.
- Examples shown or drafted from are the redacted copies of items whose authors agreed
  to be quoted; anything else is referred to by its reference only.
- New feedback is placed by the worker (``placing.place_owed``, in every sweep and after
  each hand-over of new feedback), not only when staff press a button or run the CLI.
- Draft lines and labels are worded in drafting.py.
- Functions flush; the caller commits (``placing.place_owed`` commits each theme it does).
  Staff's own changes (rename, hide, merge, split, move an item, start a response) are
  in steering.py, which audits each.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TypeVar

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from engage.classify.text import normalise
from engage.concerns import concepts, discovery
from engage.concerns import trend as trend_
from engage.concerns.drafting import draft_line, impersonal, label_from
from engage.concerns.models import Concern, ConcernItem
from engage.engagements.models import Engagement
from engage.extensions import db
from engage.feedback.models import (
    FeedbackItem,
    Status,
    Theme,
    ThemeTag,
    current_of,
)
from engage.feedback.queries import has_words
from engage.matching import normalise_for_matching
from engage.personal_data import propose
from engage.util import utcnow

JOIN_SIMILARITY = 0.35
CENTRAL_KEPT = 20
EXAMPLES = 5
NEW_GROUP_LABEL = "New feedback, not yet near a concern"

ItemT = TypeVar("ItemT")
# Shares of a first grouping's time (bench_placing.py, 8,000 items: grouping 2.2 s of
# CPU, describing the concerns found 2.8 s; the phrases about a fifth of the latter).
GROUPING_SHARE = 0.45
PHRASES_SHARE = 0.2


class ConcernError(ValueError):
    """A steering request that cannot be carried out (the message says why)."""


@dataclass
class RefreshResult:
    """What a run did: concerns found (first run), items joined to kept ones, and so on."""

    concerns: int = 0
    found: int = 0
    joined: int = 0
    to_new_group: int = 0
    released: int = 0


@dataclass
class ConcernView:
    """What a page or the CLI shows of one concern."""

    concern: Concern
    count: int
    references: list[str]
    examples: list[str]
    example_references: list[str]
    weeks: list[tuple[date, int]] = field(default_factory=list)

    @property
    def trend(self) -> trend_.Trend:
        """The weeks as a small bar chart's geometry and a sentence saying it."""
        return trend_.chart(self.weeks)


def quotable(item: FeedbackItem) -> str | None:
    """The words of an item that may be shown: its redacted copy, if its author consented."""
    if not item.consent_to_quote or item.status == Status.SPAM:
        return None
    text = (item.redacted_text or "").strip()
    return text or None


def draftable(item: FeedbackItem) -> str | None:
    """The words of an item a draft line may be made from, if its author consented to
    quoting: its staff-redacted copy if it has one; else only those of its sentences
    that say nothing of the writer (I, me, my) and in which the personal-data detector
    finds nothing (engage.personal_data, drafting.impersonal). A draft is staff's to
    edit before anything is published; the examples a page shows stay the
    staff-redacted copies (``quotable``)."""
    if not item.consent_to_quote or item.status == Status.SPAM:
        return None
    if (item.redacted_text or "").strip():
        return item.redacted_text.strip()
    known = [item.author_name] if item.author_name else []
    return impersonal(propose(item.text or "", known_names=known)) or None


def theme_items(engagement: Engagement, theme: Theme) -> list[FeedbackItem]:
    """Items of the engagement whose current themes include ``theme`` (not spam), oldest first."""
    candidates = db.session.scalars(
        select(FeedbackItem)
        .join(ThemeTag, ThemeTag.item_id == FeedbackItem.id)
        .where(
            FeedbackItem.engagement_id == engagement.id,
            ThemeTag.theme_id == theme.id,
            has_words(),
        )
        .options(selectinload(FeedbackItem.tags))
        .order_by(FeedbackItem.submitted_at, FeedbackItem.id)
    ).unique()
    return [
        item
        for item in candidates
        if any(
            t.theme_id == theme.id for t in current_of(item.tags, reviewed=item.themes_reviewed_at)
        )
    ]


def concerns_of(engagement: Engagement, theme: Theme) -> list[Concern]:
    return list(
        db.session.scalars(
            select(Concern)
            .where(Concern.engagement_id == engagement.id, Concern.theme_id == theme.id)
            .options(selectinload(Concern.members).selectinload(ConcernItem.item))
            .order_by(Concern.id)
        )
    )


def refresh(
    engagement: Engagement,
    theme: Theme,
    *,
    rediscover: bool = False,
    progress: Callable[[float], None] | None = None,
) -> RefreshResult:
    """Bring a theme's concerns up to date with its items (see the module's rules).

    ``rediscover`` groups again the items of every concern staff have not touched
    (renamed, hidden, moved into, or answered with a response). ``progress`` is told
    the share of the work done (0 to 1): grouping up to ``GROUPING_SHARE``, describing
    the concerns (centres, examples, labels) the rest. Nothing is written to the
    database before both are done, so their long arithmetic holds no write lock (on
    SQLite the first write locks the whole database until the caller commits).
    """
    items = theme_items(engagement, theme)
    by_id = {item.id: item for item in items}
    concerns = concerns_of(engagement, theme)
    result = RefreshResult()
    placed: dict[int, ConcernItem] = {}
    for concern in concerns:
        for member in list(concern.members):
            if member.item_id not in by_id:
                concern.members.remove(member)
                result.released += 1
            else:
                placed[member.item_id] = member
    if rediscover:
        for concern in list(concerns):
            touched = (
                concern.edited_at is not None
                or concern.hidden
                or concern.response_id is not None
                or any(m.placed_by == "staff" for m in concern.members)
            )
            if not touched:
                for member in concern.members:
                    placed.pop(member.item_id, None)
                concerns.remove(concern)
                db.session.delete(concern)

    unplaced = [item for item in items if item.id not in placed]
    kept = [c for c in concerns if not c.is_new_group]
    now = utcnow()
    found_now: list[Concern] = []
    if unplaced and (rediscover or not kept):
        with db.session.no_autoflush:
            found = discovery.discover(
                [discovery.Entry(i.id, i.text, i.duplicate_group_id) for i in unplaced],
                progress=_share(progress, 0, GROUPING_SHARE),
            )
        for part in found.concerns:
            # Added to the session only after the flush below: the concerns grouped
            # again must be gone before their items return.
            concern = Concern(
                engagement_id=engagement.id,
                theme_id=theme.id,
                theme=theme,
                label=label_from(part.phrases),
                draft="",
                created_at=now,
                updated_at=now,
            )
            found_now.append(concern)
            concerns.append(concern)
            for key in part.keys:
                member = ConcernItem(item_id=key, theme_id=theme.id, placed_by="model")
                concern.members.append(member)
                placed[key] = member
        result.found = len(found.concerns)
    elif unplaced:
        _centres_in_this_space(concerns, by_id)
        _place(unplaced, concerns, placed, engagement, theme, result)
    changed = rediscover or unplaced or result.released
    # Nothing new, nothing gone: centres, examples and labels are as stored (the
    # steering functions keep the centres of what they touch up to date).
    dimensions = discovery.space().dimensions
    if changed or any(c.centroid is None or len(c.centroid) != dimensions for c in concerns):
        with db.session.no_autoflush:
            recompute(concerns, by_id, flush=False, progress=_share(progress, GROUPING_SHARE, 1))
    db.session.flush()
    if found_now:
        db.session.add_all(found_now)
        db.session.flush()
    result.concerns = len(concerns)
    return result


def _share(
    progress: Callable[[float], None] | None, start: float, end: float
) -> Callable[[float], None] | None:
    """``progress`` told a part's share (0 to 1) as its place between start and end."""
    if progress is None:
        return None
    return lambda share: progress(start + (end - start) * share)


def _centres_in_this_space(concerns: list[Concern], by_id: dict[int, FeedbackItem]) -> None:
    """Centres stored by an earlier version of the space (another number of dimensions:
    the idea list was edited, say) are computed again before new items are compared."""
    dimensions = discovery.space().dimensions
    for concern in concerns:
        if concern.centroid is not None and len(concern.centroid) != dimensions:
            set_centre(concern, unit_items(concern, by_id))


def _place(unplaced, concerns, placed, engagement, theme, result: RefreshResult) -> None:
    """Put each new item with its campaign, in the nearest kept concern, or in "new"."""
    kept = [c for c in concerns if not c.is_new_group and c.centroid]
    of_group: dict[int, Concern] = {}
    for concern in concerns:
        for member in concern.members:
            group = member.item.duplicate_group_id if member.item is not None else None
            if group is not None:
                of_group.setdefault(group, concern)
    centres = np.array([c.centroid for c in kept], dtype=np.float32) if kept else None
    vectors = discovery.space().vectors([item.text for item in unplaced])
    new_group = next((c for c in concerns if c.is_new_group), None)
    for item, vector in zip(unplaced, vectors, strict=True):
        target = of_group.get(item.duplicate_group_id) if item.duplicate_group_id else None
        if target is None and centres is not None:
            similarity = centres @ vector
            best = int(np.argmax(similarity))
            if similarity[best] >= JOIN_SIMILARITY:
                target = kept[best]
        if target is None:
            if new_group is None:
                now = utcnow()
                new_group = Concern(
                    engagement_id=engagement.id,
                    theme_id=theme.id,
                    label=NEW_GROUP_LABEL,
                    draft="",
                    is_new_group=True,
                    created_at=now,
                    updated_at=now,
                )
                db.session.add(new_group)
                concerns.append(new_group)
            target = new_group
            result.to_new_group += 1
        else:
            result.joined += 1
        member = ConcernItem(item_id=item.id, theme_id=theme.id, placed_by="model")
        target.members.append(member)
        placed[item.id] = member
        if item.duplicate_group_id:
            of_group.setdefault(item.duplicate_group_id, target)


def unit_items(concern: Concern, by_id: dict[int, FeedbackItem]) -> list[FeedbackItem]:
    """The concern's items, one per campaign group (its first), in member order."""
    return units_of(by_id[m.item_id] for m in concern.members if m.item_id in by_id)


def units_of(items: Iterable[ItemT]) -> list[ItemT]:
    """``items`` with each campaign group's first only (anything with an ``id`` and a
    ``duplicate_group_id``: an item, or the light rows placing.describe reads)."""
    seen: set[int] = set()
    firsts = []
    for item in items:
        group = item.duplicate_group_id
        if group is not None:
            if group in seen:
                continue
            seen.add(group)
        firsts.append(item)
    return firsts


def centre_of(vectors: np.ndarray) -> tuple[list[float], list[int]]:
    """The unit centre of the rows (rounded, as stored) and the indexes of the
    ``CENTRAL_KEPT`` rows nearest it, nearest first."""
    centre = vectors.mean(axis=0)
    norm = float(np.linalg.norm(centre))
    centre = centre / norm if norm else centre
    order = np.argsort(-(vectors @ centre), kind="stable")[:CENTRAL_KEPT]
    return [round(float(x), 5) for x in centre], order.tolist()


def set_centre(concern: Concern, firsts: list[FeedbackItem]) -> list[FeedbackItem]:
    """Store the centre of ``firsts`` and its most central items; return those items."""
    if not firsts:
        concern.centroid, concern.central_ids = None, []
        return []
    centroid, order = centre_of(discovery.space().vectors([item.text for item in firsts]))
    central = [firsts[i] for i in order]
    concern.centroid = centroid
    concern.central_ids = [item.id for item in central]
    return central


def draft_texts(central: Sequence, members: Sequence = ()) -> list[str]:
    """What a draft may be made from, most central first: per central unit, the words of
    the first of its copies that ``draftable`` allows (a campaign's first copy may not
    consent to quoting while other copies of the same letter, among ``members``, do)."""
    copies: dict[int, list] = defaultdict(list)
    for item in members:
        if item.duplicate_group_id is not None:
            copies[item.duplicate_group_id].append(item)
    texts = []
    for item in central:
        group = copies.get(item.duplicate_group_id, []) if item.duplicate_group_id else []
        text = next(filter(None, map(draftable, [item, *group])), None)
        if text:
            texts.append(text)
    return texts


def wording(
    phrases: Sequence[str],
    texts: Sequence[str],
    central: Sequence,
    theme_slug: str,
    members: Sequence = (),
    taken: Collection[str] = (),
) -> tuple[str, str]:
    """A concern's label and draft line from its distinctive phrases, the texts of its
    units, its most central items and all its items (``draft_texts`` says which words
    a draft may use), the draft other than those in ``taken`` where it can be."""
    idea = concepts.main_idea(texts, theme_slug)
    leaning = concepts.main_idea(texts, theme_slug, concepts.LEANING_SHARE)
    drafted = draft_line(phrases, draft_texts(central, members), idea, leaning, taken)
    return label_from(phrases, idea), drafted


def recompute(
    concerns: list[Concern],
    by_id: dict[int, FeedbackItem],
    *,
    flush: bool = True,
    progress: Callable[[float], None] | None = None,
) -> None:
    """Each concern's centre, central items, and (unless edited) label and draft.
    ``progress`` is told the share done (0 to 1) after the phrases and each concern."""
    live = [c for c in concerns if c.members]
    for concern in [c for c in concerns if not c.members]:
        if concern.edited_at is None and concern.response_id is None:
            concerns.remove(concern)
            db.session.delete(concern)
    if not live:
        return
    firsts_of = [unit_items(concern, by_id) for concern in live]
    phrases = discovery.distinctive_phrases([[i.text for i in firsts] for firsts in firsts_of])
    tell = progress or (lambda share: None)
    tell(PHRASES_SHARE)
    units, done = max(1, sum(len(firsts) for firsts in firsts_of)), 0
    now = utcnow()
    # One draft line per concern of a theme: staff's own come first, then the largest.
    rewritten = [c for c in live if c.edited_at is None and not c.is_new_group]
    taken = {c.draft for c in live if c not in rewritten and c.draft}
    order = sorted(range(len(live)), key=lambda k: -len(firsts_of[k]))
    for k in order:
        concern, firsts, words = live[k], firsts_of[k], phrases[k]
        if not firsts:
            continue
        central = set_centre(concern, firsts)
        if concern in rewritten:
            members = [by_id[m.item_id] for m in concern.members if m.item_id in by_id]
            concern.label, concern.draft = wording(
                words,
                [item.text for item in firsts],
                central,
                concern.theme.slug,
                members,
                taken,
            )
            taken.add(concern.draft)
        concern.updated_at = now
        done += len(firsts)
        tell(PHRASES_SHARE + (1 - PHRASES_SHARE) * done / units)
    if flush:
        db.session.flush()


def view(concern: Concern, *, weeks_from: date | None = None) -> ConcernView:
    """Counts, references, quotable examples and weekly counts of one concern."""
    items = [m.item for m in concern.members if m.item is not None]
    by_id = {item.id: item for item in items}
    examples, example_refs, seen = [], [], set()
    for item_id in concern.central_ids or []:
        item = by_id.get(item_id)
        text = quotable(item) if item is not None else None
        # Two copies of one letter signed off differently are one example, not two.
        key = normalise_for_matching(normalise(text)) if text else None
        if text and key not in seen:
            seen.add(key)
            examples.append(text)
            example_refs.append(item.reference)
        if len(examples) == EXAMPLES:
            break
    weekly: Counter[date] = Counter()
    for item in items:
        day = item.submitted_at.date()
        weekly[day - timedelta(days=day.weekday())] += 1
    weeks = sorted(weekly.items())
    if weeks_from is not None and weeks:
        start = min(weeks_from - timedelta(days=weeks_from.weekday()), weeks[0][0])
        filled, cursor = [], start
        while cursor <= weeks[-1][0]:
            filled.append((cursor, weekly.get(cursor, 0)))
            cursor += timedelta(days=7)
        weeks = filled
    references = sorted(item.reference for item in items)
    return ConcernView(concern, len(items), references, examples, example_refs, weeks)


def overview(engagement: Engagement, theme: Theme, *, hidden: bool = False) -> list[ConcernView]:
    """The theme's concerns, largest first, the "new" group last; hidden ones only if asked."""
    views = [
        view(c, weeks_from=engagement.opens_on)
        for c in concerns_of(engagement, theme)
        if hidden or not c.hidden
    ]
    views.sort(key=lambda v: (v.concern.is_new_group, -v.count, v.concern.id))
    return views


def as_json(engagement: Engagement, theme: Theme) -> dict:
    """The CLI's object: the slugs, and each concern's label, count, items and draft."""
    return {
        "engagement": engagement.slug,
        "theme": theme.slug,
        "concerns": [
            {
                "label": v.concern.label,
                "count": v.count,
                "items": v.references,
                "draft": f"You told us you are concerned that {v.concern.draft}"
                if v.concern.draft
                else "",
                "hidden": v.concern.hidden,
                "new_group": v.concern.is_new_group,
                "weeks": [[week.isoformat(), n] for week, n in v.weeks],
            }
            for v in overview(engagement, theme, hidden=True)
        ],
    }


def split_group_counts(concern: Concern) -> dict[int, int]:
    """How many items of each campaign group the concern holds (for the page's notes)."""
    counts: dict[int, int] = defaultdict(int)
    for member in concern.members:
        if member.item is not None and member.item.duplicate_group_id:
            counts[member.item.duplicate_group_id] += 1
    return dict(counts)
