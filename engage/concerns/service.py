"""Concerns of one engagement's theme: find them, keep staff's steering, draft lines.

Rules worth knowing:

- The first run groups every item of the theme (``discovery.discover``). Later runs keep
  every concern and every item's place; only items not yet placed are placed: with the
  other copies of their campaign if those are placed, else in the nearest concern whose
  centre is at least ``JOIN_SIMILARITY`` away (cosine), else in the "New feedback" group.
- A label or draft staff have edited is never rewritten; others follow their items.
- Examples shown or drafted from are the redacted copies of items whose authors agreed
  to be quoted; anything else is referred to by its reference only.
- New feedback is placed by the worker (``place_owed``, in every sweep and after each
  hand-over of new feedback), not only when staff press a button or run the CLI.
- Functions flush; the caller commits (``place_owed`` commits each theme it does).
  Staff's own changes (rename, hide, merge, split, move an item, start a response) are
  in steering.py, which audits each.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import aliased, selectinload

from engage import audit, claiming
from engage.concerns import concepts, discovery
from engage.concerns.models import Concern, ConcernItem
from engage.engagements.models import Engagement
from engage.extensions import db
from engage.feedback.models import (
    FeedbackItem,
    Status,
    TagSource,
    Theme,
    ThemeTag,
    current_of,
)
from engage.feedback.queries import current_tags, is_current
from engage.util import utcnow

JOIN_SIMILARITY = 0.35
CENTRAL_KEPT = 20
EXAMPLES = 5
NEW_GROUP_LABEL = "New feedback, not yet near a concern"
# "worried that <clause>", "my fear is that <clause>", or "worried <clause>" when the
# clause starts as a statement about someone or something ("worried the money ...").
_WORRY = re.compile(
    r"\b(?:worried|concerned|worry|fear|afraid|scared|anxious)\b(?:\s+(?:is|about\s+it))?"
    r"\s+(?:that\s+|(?=(?:the|our|this|these|those|staff|patients|people|services|money|"
    r"funding|local|it|they|we|there|gps|nhs)\b))([^.?!\n]{12,160})",
    re.IGNORECASE,
)
_FIRST_PERSON = re.compile(r"\b(?:I|me|my|mine|myself|I'm|I've|I'd|I'll)\b", re.IGNORECASE)
# The public's "we" is the reader's "you" in "You told us you are concerned that ...".
_OURS = {
    "we": "you", "our": "your", "us": "you", "ours": "yours", "ourselves": "yourselves",
    "we're": "you're", "we'll": "you'll", "we've": "you've", "we'd": "you'd",
}  # fmt: skip
_OUR_WORDS = re.compile(r"\b(?:" + "|".join(sorted(_OURS, key=len, reverse=True)) + r")\b", re.I)
# Words that start a clause in small letters (a name or "GPs" keeps its capital).
_SMALL_STARTS = frozenset((
    "the", "our", "this", "these", "those", "a", "an", "it", "they", "there", "staff",
    "patients", "people", "services", "money", "funding", "local", "you", "your",
))  # fmt: skip


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


def quotable(item: FeedbackItem) -> str | None:
    """The words of an item that may be shown: its redacted copy, if its author consented."""
    if not item.consent_to_quote or item.status == Status.SPAM:
        return None
    text = (item.redacted_text or "").strip()
    return text or None


def theme_items(engagement: Engagement, theme: Theme) -> list[FeedbackItem]:
    """Items of the engagement whose current themes include ``theme`` (not spam), oldest first."""
    candidates = db.session.scalars(
        select(FeedbackItem)
        .join(ThemeTag, ThemeTag.item_id == FeedbackItem.id)
        .where(
            FeedbackItem.engagement_id == engagement.id,
            ThemeTag.theme_id == theme.id,
            FeedbackItem.status != Status.SPAM,
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


def stated_worry(text: str) -> str | None:
    """The clause after "worried / concerned / fear ... that" in ``text``, as a plain
    sentence to follow "You told us you are concerned that": "we" and "our" become
    "you" and "your"; None when there is none or it speaks of the writer alone (I, me,
    my), which is one person's story rather than the public's concern."""
    match = _WORRY.search(text.replace("\u2019", "'"))
    if match is None:
        return None
    clause = " ".join(match.group(1).split()).rstrip(",;:- ")
    if _FIRST_PERSON.search(clause) or len(clause.split()) < 3:
        return None

    def yours(found: re.Match) -> str:
        word = _OURS[found.group(0).lower()]
        return word.capitalize() if found.group(0)[0].isupper() else word

    clause = _OUR_WORDS.sub(yours, clause)
    first = clause.split(" ", 1)[0]
    if first.lower() in _SMALL_STARTS:
        clause = first.lower() + clause[len(first) :]
    return clause + "."


def draft_line(phrases: Sequence[str], texts: Sequence[str], idea: str | None = None) -> str:
    """A clause to follow "You told us you are concerned that", in this order of choice:

    1. a worry one of ``texts`` (quotable, most central first) states in so many words
       ("... worried that money will leave your borough"), if it names the concern's
       main ``idea`` (or the concern has none);
    2. the sentence the idea list gives the concern's main idea (``concepts.SAYS``);
    3. a sentence over the concern's most distinctive phrases, quoted as people's words.
    """
    for text in texts:
        clause = stated_worry(text)
        if clause and (idea is None or idea in concepts.ideas(clause)):
            return clause
    if idea is not None and idea in concepts.SAYS:
        return concepts.SAYS[idea] + "."
    if not phrases:
        return "the changes will affect you."
    named = [f"\u201c{phrase}\u201d" for phrase in phrases[:3]]
    listed = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " and " + named[-1]
    return f"the changes will affect what you raised about {listed}."


def label_from(phrases: Sequence[str], idea: str | None = None) -> str:
    """A concern's label from its most distinctive phrases (the first three). A small
    concern may have fewer than two phrases used by enough of its people ("managed");
    then its main idea's sentence ("Staff will lose their jobs") says more, if it has
    one. "Other feedback" when there is neither."""
    if idea is not None and idea in concepts.SAYS and len(phrases) < 2:
        said = concepts.SAYS[idea]
        return (said[0].upper() + said[1:])[:200]
    return (", ".join(phrases[:3]) or "Other feedback")[:200]


def refresh(engagement: Engagement, theme: Theme, *, rediscover: bool = False) -> RefreshResult:
    """Bring a theme's concerns up to date with its items (see the module's rules).

    ``rediscover`` groups again the items of every concern staff have not touched
    (renamed, hidden, moved into, or answered with a response).
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
        db.session.flush()

    unplaced = [item for item in items if item.id not in placed]
    kept = [c for c in concerns if not c.is_new_group]
    now = utcnow()
    if unplaced and (rediscover or not kept):
        found = discovery.discover(
            [discovery.Entry(i.id, i.text, i.duplicate_group_id) for i in unplaced]
        )
        for part in found.concerns:
            concern = Concern(
                engagement_id=engagement.id,
                theme_id=theme.id,
                label=label_from(part.phrases),
                draft="",
                created_at=now,
                updated_at=now,
            )
            db.session.add(concern)
            concerns.append(concern)
            for key in part.keys:
                member = ConcernItem(item_id=key, theme_id=theme.id, placed_by="model")
                concern.members.append(member)
                placed[key] = member
        result.found = len(found.concerns)
    elif unplaced:
        _centres_in_this_space(concerns, by_id)
        _place(unplaced, concerns, placed, engagement, theme, result)
    db.session.flush()
    changed = rediscover or unplaced or result.released
    # Nothing new, nothing gone: centres, examples and labels are as stored (the
    # steering functions keep the centres of what they touch up to date).
    dimensions = discovery.space().dimensions
    if changed or any(c.centroid is None or len(c.centroid) != dimensions for c in concerns):
        _recompute(concerns, by_id)
    result.concerns = len(concerns)
    return result


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
    seen: set[int] = set()
    firsts = []
    for member in concern.members:
        item = by_id.get(member.item_id)
        if item is None:
            continue
        group = item.duplicate_group_id
        if group is not None:
            if group in seen:
                continue
            seen.add(group)
        firsts.append(item)
    return firsts


def set_centre(concern: Concern, firsts: list[FeedbackItem]) -> list[FeedbackItem]:
    """Store the centre of ``firsts`` and its most central items; return those items."""
    if not firsts:
        concern.centroid, concern.central_ids = None, []
        return []
    vectors = discovery.space().vectors([item.text for item in firsts])
    centre = vectors.mean(axis=0)
    norm = float(np.linalg.norm(centre))
    centre = centre / norm if norm else centre
    order = np.argsort(-(vectors @ centre), kind="stable")[:CENTRAL_KEPT]
    central = [firsts[i] for i in order.tolist()]
    concern.centroid = [round(float(x), 5) for x in centre]
    concern.central_ids = [item.id for item in central]
    return central


def _recompute(
    concerns: list[Concern], by_id: dict[int, FeedbackItem], *, flush: bool = True
) -> None:
    """Each concern's centre, central items, and (unless edited) label and draft."""
    live = [c for c in concerns if c.members]
    for concern in [c for c in concerns if not c.members]:
        if concern.edited_at is None and concern.response_id is None:
            concerns.remove(concern)
            db.session.delete(concern)
    if not live:
        return
    firsts_of = [unit_items(concern, by_id) for concern in live]
    phrases = discovery.distinctive_phrases([[i.text for i in firsts] for firsts in firsts_of])
    now = utcnow()
    for concern, firsts, words in zip(live, firsts_of, phrases, strict=True):
        if not firsts:
            continue
        central = set_centre(concern, firsts)
        if concern.edited_at is None and not concern.is_new_group:
            idea = concepts.main_idea([item.text for item in firsts])
            concern.label = label_from(words, idea)
            texts = [t for t in (quotable(item) for item in central) if t]
            concern.draft = draft_line(words, texts, idea)
        concern.updated_at = now
    if flush:
        db.session.flush()


def view(concern: Concern, *, weeks_from: date | None = None) -> ConcernView:
    """Counts, references, quotable examples and weekly counts of one concern."""
    items = [m.item for m in concern.members if m.item is not None]
    by_id = {item.id: item for item in items}
    examples, example_refs = [], []
    for item_id in concern.central_ids or []:
        item = by_id.get(item_id)
        text = quotable(item) if item is not None else None
        if text and text not in examples:
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


# At most this many engagement-theme pairs per sweep: the next sweep does the rest.
PLACE_PAIRS_PER_RUN = 20


def _owes(engagement_id: int, theme_id: int) -> bool:
    """Whether the pair's kept concerns miss an item (a current theme tag, not spam, in
    no concern of the theme) or hold one that no longer belongs (spam now, or the theme
    taken off). The same rule as theme_items() and refresh(), stated in SQL."""
    return (
        db.session.scalar(_missing(engagement_id, theme_id).limit(1)) is not None
        or db.session.scalar(_gone(engagement_id, theme_id).limit(1)) is not None
    )


def owed_pairs() -> list[tuple[int, int]]:
    """(engagement id, theme id) of each theme whose kept concerns have new items to
    place or items to let go, in id order. Themes never grouped are not here: the first
    grouping is staff's to start (the page's button or ``engage concerns``)."""
    pairs = db.session.execute(
        select(Concern.engagement_id, Concern.theme_id)
        .distinct()
        .order_by(Concern.engagement_id, Concern.theme_id)
    ).all()
    return [(e, t) for e, t in pairs if _owes(e, t)]


def place_owed(limit: int = PLACE_PAIRS_PER_RUN) -> int:
    """Place new feedback in the kept concerns of every theme that owes it (the
    worker's job); return how many items were placed.

    Per theme, three steps, so that the database's write lock (all of it, on SQLite) is
    held for the writing only, never for the arithmetic:

    1. read what is owed and decide (no lock): the items to place, their vectors, the
       nearest kept concern or campaign of each, the items to let go;
    2. claim and write (engage.claiming: the theme's first concern row ``FOR UPDATE
       SKIP LOCKED`` on PostgreSQL, the write lock on SQLite): what is still owed is read
       again, placed as decided, the receiving concerns' centres moved towards their new
       items, audited as ``concern.refresh`` by the worker and committed. Two workers
       never place one theme at once, and a theme one of them finished is found owing
       nothing by the other; the unique (item, theme) of ``concern_item`` keeps an item
       in one concern whatever happens;
    3. describe again (``describe``): centres, examples, labels and drafts of the
       theme's concerns from all their items, computed without a lock and written only
       if no concern changed meanwhile.
    """
    pairs = owed_pairs()[:limit]
    db.session.rollback()  # end the read before taking locks one theme at a time
    placed = 0
    for engagement_id, theme_id in pairs:
        plan = _plan(engagement_id, theme_id)
        db.session.rollback()
        done = _write_plan(plan)
        if done is None:
            continue  # another worker has the theme, or did it
        placed += done
        describe(engagement_id, theme_id)
    return placed


@dataclass
class _Plan:
    """What step 1 of place_owed decided for one theme."""

    engagement_id: int
    theme_id: int
    targets: dict[int, int | None] = field(default_factory=dict)  # item → concern (None: new)
    vectors: dict[int, np.ndarray] = field(default_factory=dict)  # item → its vector
    release: list[int] = field(default_factory=list)  # concern_item ids to let go


def _missing(engagement_id: int, theme_id: int):
    """(id, text, campaign group) of the theme's current items in no concern of it."""
    current = current_tags(
        and_(FeedbackItem.engagement_id == engagement_id, FeedbackItem.status != Status.SPAM)
    )
    placed = select(ConcernItem.id).where(
        ConcernItem.item_id == current.c.item_id, ConcernItem.theme_id == theme_id
    )
    return (
        select(FeedbackItem.id, FeedbackItem.text, FeedbackItem.duplicate_group_id)
        .join(current, current.c.item_id == FeedbackItem.id)
        .where(current.c.theme_id == theme_id, ~placed.exists())
        .order_by(FeedbackItem.id)
    )


def _gone(engagement_id: int, theme_id: int):
    """concern_item ids of the theme whose item is spam now or no longer has the theme."""
    staff, tag = aliased(ThemeTag), aliased(ThemeTag)
    staff_tagged = (
        select(staff.id)
        .where(staff.item_id == FeedbackItem.id, staff.source == TagSource.STAFF)
        .exists()
    )
    still_current = (
        select(tag.id)
        .where(
            tag.item_id == ConcernItem.item_id,
            tag.theme_id == theme_id,
            is_current(tag, staff_tagged=staff_tagged),
        )
        .exists()
    )
    return (
        select(ConcernItem.id)
        .join(Concern, Concern.id == ConcernItem.concern_id)
        .join(FeedbackItem, FeedbackItem.id == ConcernItem.item_id)
        .where(
            Concern.engagement_id == engagement_id,
            Concern.theme_id == theme_id,
            or_(FeedbackItem.status == Status.SPAM, ~still_current),
        )
    )


def _plan(engagement_id: int, theme_id: int) -> _Plan:
    """Step 1 of place_owed: read and decide, writing nothing."""
    plan = _Plan(engagement_id, theme_id)
    plan.release = list(db.session.scalars(_gone(engagement_id, theme_id)))
    rows = db.session.execute(_missing(engagement_id, theme_id)).all()
    if not rows:
        return plan
    dimensions = discovery.space().dimensions
    kept = db.session.execute(
        select(Concern.id, Concern.centroid).where(
            Concern.engagement_id == engagement_id,
            Concern.theme_id == theme_id,
            Concern.is_new_group.is_(False),
        )
    ).all()
    kept = [(cid, c) for cid, c in kept if c is not None and len(c) == dimensions]
    groups = {group for _, _, group in rows if group is not None}
    of_group: dict[int, int] = {}
    if groups:
        for concern_id, group in db.session.execute(
            select(ConcernItem.concern_id, FeedbackItem.duplicate_group_id)
            .join(FeedbackItem, FeedbackItem.id == ConcernItem.item_id)
            .where(
                ConcernItem.theme_id == theme_id,
                FeedbackItem.duplicate_group_id.in_(groups),
                FeedbackItem.engagement_id == engagement_id,
            )
            .order_by(ConcernItem.id)
        ):
            of_group.setdefault(group, concern_id)
    vectors = discovery.space().vectors([text for _, text, _ in rows])
    centres = np.array([c for _, c in kept], dtype=np.float32) if kept else None
    for (item_id, _, group), vector in zip(rows, vectors, strict=True):
        target = of_group.get(group) if group is not None else None
        if target is None and centres is not None:
            similarity = centres @ vector
            best = int(np.argmax(similarity))
            if similarity[best] >= JOIN_SIMILARITY:
                target = kept[best][0]
        plan.targets[item_id] = target
        plan.vectors[item_id] = vector
        if group is not None and target is not None:
            of_group.setdefault(group, target)
    return plan


def _write_plan(plan: _Plan) -> int | None:
    """Step 2 of place_owed: claim the theme, write what is still owed, commit. Returns
    how many items were placed, or None when the theme was not claimed or owed nothing."""
    e_id, t_id = plan.engagement_id, plan.theme_id
    if not plan.targets and not plan.release:
        return None
    with claiming.writing():
        first = db.session.scalar(
            select(func.min(Concern.id)).where(
                Concern.engagement_id == e_id, Concern.theme_id == t_id
            )
        )
        held = claiming.claim(
            [first] if first is not None else [], Concern.id.isnot(None), of=Concern,
            skip_locked=True,
        )  # fmt: skip
        still = set(db.session.scalars(_missing(e_id, t_id).with_only_columns(FeedbackItem.id)))
        still &= set(plan.targets)
        going = set(db.session.scalars(_gone(e_id, t_id))) & set(plan.release)
        if not held or not (still or going):
            db.session.rollback()
            return None
        for member_id in sorted(going):
            db.session.delete(db.session.get(ConcernItem, member_id))
        concerns = {c.id: c for c in db.session.scalars(
            select(Concern).where(Concern.engagement_id == e_id, Concern.theme_id == t_id)
        )}  # fmt: skip
        new_group = next((c for c in concerns.values() if c.is_new_group), None)
        sizes = _membership(e_id, t_id)
        received: dict[int, list[np.ndarray]] = defaultdict(list)
        joined = to_new = 0
        now = utcnow()
        for item_id in sorted(still):
            target = concerns.get(plan.targets[item_id]) if plan.targets[item_id] else None
            if target is None:
                if new_group is None:
                    new_group = Concern(
                        engagement_id=e_id, theme_id=t_id, label=NEW_GROUP_LABEL, draft="",
                        is_new_group=True, created_at=now, updated_at=now,
                    )  # fmt: skip
                    db.session.add(new_group)
                    db.session.flush()
                target = new_group
                to_new += 1
            else:
                received[target.id].append(plan.vectors[item_id])
                joined += 1
            db.session.add(
                ConcernItem(concern_id=target.id, item_id=item_id, theme_id=t_id, placed_by="model")
            )
        for concern_id, vectors in received.items():
            _move_centre(concerns[concern_id], vectors, had=len(sizes.get(concern_id, ())))
        engagement = db.session.get(Engagement, e_id)
        theme = db.session.get(Theme, t_id)
        audit.record(
            "concern.refresh",
            detail={
                "engagement": engagement.slug,
                "theme": theme.slug,
                "by": "worker",
                "joined": joined,
                "new_group": to_new,
                "released": len(going),
            },
        )
        db.session.commit()
    return joined + to_new


def _membership(engagement_id: int, theme_id: int) -> dict[int, list[int]]:
    """Item ids of each concern of the theme, sorted (one light query, no objects)."""
    out: dict[int, list[int]] = defaultdict(list)
    for concern_id, item_id in db.session.execute(
        select(ConcernItem.concern_id, ConcernItem.item_id)
        .join(Concern, Concern.id == ConcernItem.concern_id)
        .where(Concern.engagement_id == engagement_id, Concern.theme_id == theme_id)
        .order_by(ConcernItem.concern_id, ConcernItem.item_id)
    ):
        out[concern_id].append(item_id)
    return dict(out)


def _move_centre(concern: Concern, vectors: list[np.ndarray], *, had: int) -> None:
    """The concern's centre moved towards new items as their share of its items: the
    stored centre stands for the ``had`` items it already held (each counted once)."""
    if concern.centroid is None:
        return
    total = np.asarray(concern.centroid, dtype=np.float32) * max(1, had) + np.sum(vectors, axis=0)
    norm = float(np.linalg.norm(total))
    if norm:
        concern.centroid = [round(float(x), 5) for x in total / norm]


def describe(engagement_id: int, theme_id: int) -> bool:
    """Centres, central items, labels and drafts of a theme's concerns computed again
    from all their items (as refresh does after a change), without holding the write
    lock while computing; written only if no concern gained or lost an item meanwhile
    (else left for the next run). Returns whether it wrote."""
    engagement = db.session.get(Engagement, engagement_id)
    theme = db.session.get(Theme, theme_id)
    with db.session.no_autoflush:
        before = _membership(engagement_id, theme_id)
        concerns = concerns_of(engagement, theme)
        by_id = {item.id: item for item in theme_items(engagement, theme)}
        live = [c for c in concerns if c.members]
        _recompute(list(live), by_id, flush=False)
        computed = {c.id: (c.centroid, c.central_ids, c.label, c.draft) for c in live}
    db.session.rollback()
    with claiming.writing():
        if _membership(engagement_id, theme_id) != before:
            db.session.rollback()
            return False
        current = {
            c.id: c
            for c in db.session.scalars(select(Concern).where(Concern.id.in_(list(computed))))
        }
        now = utcnow()
        for concern_id, (centroid, central_ids, label, draft) in computed.items():
            concern = current.get(concern_id)
            if concern is None:
                continue
            concern.centroid, concern.central_ids = centroid, central_ids
            if concern.edited_at is None and not concern.is_new_group:
                concern.label, concern.draft = label, draft
            concern.updated_at = now
        db.session.commit()
    return True
