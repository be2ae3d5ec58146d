"""The response editor's picker: the feedback a response could answer.

Everything is narrowed to the response's engagement and, when it has themes, to items
whose current themes include one of them. Campaign groups are offered whole (largest
first, with their size); single items are those in no group, searchable by words and
read a page at a time, with how many match. Suggestions rank groups and recent items
by tf-idf cosine similarity to the response's wording.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from math import log, sqrt

# Imported with the app (gunicorn preloads it), not by each worker's first editor page;
# only its analyser is used (see _rank).
from sklearn.feature_extraction.text import TfidfVectorizer
from sqlalchemy import exists, func, or_, select

from engage import caching
from engage.extensions import db
from engage.feedback import search
from engage.feedback.models import DuplicateGroup, FeedbackItem, Status, Theme
from engage.publish.models import response_item
from engage.staff import inbox

ITEMS_PER_PAGE = 20
GROUPS_SHOWN = 10
COUNT_CAP = 200  # "more than 200 items": an exact count would read every match
SUGGESTIONS = 8
SUGGESTION_POOL = 150  # the newest unlinked single items compared with the wording
MIN_SIMILARITY = 0.05


@dataclass
class PickerPage:
    """What the picker shows for one response (or draft) and one search."""

    q: str
    page: int
    items: list[FeedbackItem] = field(default_factory=list)
    items_total: int = 0  # capped at COUNT_CAP + 1
    has_next: bool = False
    groups: list[DuplicateGroup] = field(default_factory=list)
    groups_total: int = 0
    people_in_groups: int = 0
    suggestions: list[tuple[str, object, int]] = field(default_factory=list)  # kind, row, %

    @property
    def items_capped(self) -> bool:
        return self.items_total > COUNT_CAP


def _about(themes: Sequence[Theme]):
    """Items whose current themes include one of ``themes`` (no condition without any)."""
    if not themes:
        return None
    # The inbox's probe of the item's own tags (index lookups per row read), not a
    # subquery over every staff tag, which PostgreSQL hashes in full each time.
    return or_(*[inbox.has_current_theme(t.id) for t in themes])


def _not_linked(response_id: int | None):
    if response_id is None:
        return None
    return ~exists().where(
        response_item.c.item_id == FeedbackItem.id, response_item.c.response_id == response_id
    )


def _where(engagement_id: int, themes: Sequence[Theme], response_id: int | None) -> list:
    conditions = [FeedbackItem.engagement_id == engagement_id, FeedbackItem.status != Status.SPAM]
    for extra in (_about(themes), _not_linked(response_id)):
        if extra is not None:
            conditions.append(extra)
    return conditions


def picker_page(
    engagement_id: int,
    themes: Sequence[Theme],
    *,
    response_id: int | None = None,
    q: str = "",
    page: int = 1,
    wording: str = "",
) -> PickerPage:
    """The groups, a page of single items and the suggestions for a response.

    Three reads in the usual case (no search, first page): the matching groups (an
    engagement has tens); with wording, the ids (and texts) of the newest single items
    up to COUNT_CAP + 1 (their count; the suggestions are ranked among the first
    SUGGESTION_POOL) and then the first page and the suggested items whole; without
    wording, the first page and, when there is more than a page, a count capped at
    COUNT_CAP.
    """
    out = PickerPage(q=q, page=max(page, 1))
    where = _where(engagement_id, themes, response_id)

    matching = _matching_groups(engagement_id, themes)
    out.groups_total = len(matching)
    out.people_in_groups = sum(g.size for g in matching)
    out.groups = matching[:GROUPS_SHOWN]

    single = [*where, FeedbackItem.duplicate_group_id.is_(None)]
    newest = (FeedbackItem.submitted_at.desc(), FeedbackItem.id.desc())
    wording = wording if wording.strip() else ""
    # With wording, the newest SUGGESTION_POOL single items are compared with it: read
    # as ids (and texts, unless this worker ranked the same wording a moment ago), not
    # as 150 whole items; only the first page and the suggested items are loaded whole.
    key = (engagement_id, tuple(t.id for t in themes), response_id, wording)
    ranked = _cached_ranking(key) if wording else None
    pool_ids: list[int] = []
    pool_texts: list[str] = []
    pool: list[FeedbackItem] = []
    counted: int | None = None  # the capped count, when the ids read give it
    if wording:
        columns = (FeedbackItem.id,) if ranked is not None else (FeedbackItem.id, FeedbackItem.text)
        # On the first page without a search the same ids, read to COUNT_CAP + 1, are
        # also the count of single items: no separate count.
        first = out.page == 1 and not q
        found = db.session.execute(
            select(*columns)
            .where(*single)
            .order_by(*newest)
            .limit(max(SUGGESTION_POOL, COUNT_CAP + 1) if first else SUGGESTION_POOL)
        ).all()
        if first:
            counted = len(found)
        found = found[:SUGGESTION_POOL]
        pool_ids = [row[0] for row in found]
        if ranked is None:
            pool_texts = [row[1] for row in found]
    elif out.page == 1 and not q:
        pool = list(
            db.session.scalars(
                select(FeedbackItem).where(*single).order_by(*newest).limit(ITEMS_PER_PAGE + 1)
            )
        )
    if wording and ranked is None:
        candidates = [("group", g.id, g.sample_text) for g in matching] + list(
            zip(["item"] * len(pool_ids), pool_ids, pool_texts, strict=True)
        )
        ranked = _ranking(key, wording, candidates)
    in_pool = set(pool_ids)
    suggested_items = [i for k, i, _ in ranked or () if k == "item" and i in in_pool]
    if q:
        clause = search.matching(q, db.engine.dialect.name)
        if clause is not None:
            single.append(clause)
    if out.page == 1 and not q:
        if wording:
            wanted = pool_ids[: ITEMS_PER_PAGE + 1]
            loaded_items = _items_by_id([*wanted, *suggested_items])
            rows = [loaded_items[i] for i in wanted if i in loaded_items]
        else:
            rows = pool[: ITEMS_PER_PAGE + 1]
            loaded_items = {item.id: item for item in rows}
    else:
        rows = list(
            db.session.scalars(
                select(FeedbackItem)
                .where(*single)
                .order_by(*newest)
                .limit(ITEMS_PER_PAGE + 1)
                .offset((out.page - 1) * ITEMS_PER_PAGE)
            )
        )
        loaded_items = _items_by_id(suggested_items)
    out.has_next = len(rows) > ITEMS_PER_PAGE
    out.items = rows[:ITEMS_PER_PAGE]
    if counted is not None and (out.has_next or out.page > 1):
        out.items_total = counted
    elif out.has_next or out.page > 1:
        capped = select(FeedbackItem.id).where(*single).limit(COUNT_CAP + 1).subquery()
        out.items_total = db.session.scalar(select(func.count()).select_from(capped)) or 0
    else:
        out.items_total = len(out.items)
    if ranked:
        groups = {g.id: g for g in matching}
        missing = [i for k, i, _ in ranked if k == "group" and i not in groups]
        if missing:
            groups.update(
                (g.id, g)
                for g in db.session.scalars(
                    select(DuplicateGroup).where(DuplicateGroup.id.in_(missing))
                )
            )
        for kind, row_id, score in ranked:
            if kind == "item" and row_id not in in_pool:
                continue  # linked since it was ranked: no longer offered
            row = groups.get(row_id) if kind == "group" else loaded_items.get(row_id)
            if row is not None:
                out.suggestions.append((kind, row, score))
    return out


# Which groups have a member about the themes, a short while per worker: working it out
# probes the members of every group of the engagement (2 ms a page on PostgreSQL at
# 100,000 items, the page's dearest statement), and staff open the editor again and
# again for the same engagement and themes. The groups themselves are read fresh each
# time (sizes and texts); a group made or re-themed meanwhile shows within the lifetime.
GROUPS_SECONDS = 30


def _matching_groups(engagement_id: int, themes: Sequence[Theme]) -> list[DuplicateGroup]:
    """Groups of the engagement with a member about the themes, largest first.

    An engagement has tens of groups, so all are read whole. (A group is offered while
    any member is about the themes, linked or not: it is linked whole, and linking
    again adds only the members not linked yet.)
    """
    kept = caching.named_cache("picker_groups", maxsize=256, seconds=GROUPS_SECONDS)
    key = (engagement_id, tuple(sorted(t.id for t in themes)))
    ids = kept.get(key)
    if ids is not None:
        if not ids:
            return []
        found = db.session.scalars(select(DuplicateGroup).where(DuplicateGroup.id.in_(ids)))
        return sorted(found, key=lambda g: (-g.size, g.id))
    member = select(FeedbackItem.id).where(
        FeedbackItem.duplicate_group_id == DuplicateGroup.id,
        *_where(engagement_id, themes, None),
    )
    matching = list(
        db.session.scalars(
            select(DuplicateGroup)
            .where(DuplicateGroup.engagement_id == engagement_id, exists(member))
            .order_by(DuplicateGroup.size.desc(), DuplicateGroup.id)
        )
    )
    kept.set(key, [g.id for g in matching])
    return matching


def _items_by_id(ids: list[int]) -> dict[int, FeedbackItem]:
    if not ids:
        return {}
    return {
        item.id: item
        for item in db.session.scalars(select(FeedbackItem).where(FeedbackItem.id.in_(set(ids))))
    }


# The words of a text as the ranking reads them (lower case, no English stop words),
# counted and kept per worker by text: the same newest items are compared with every
# response's wording, and reading their words was most of the ranking's cost.
_ANALYSE = TfidfVectorizer(stop_words="english").build_analyzer()
WORDS_KEPT = 4096


def _word_counts(text: str) -> Counter[str]:
    return caching.named_cache("picker_words", maxsize=WORDS_KEPT, seconds=None).get_or_make(
        text, lambda: Counter(_ANALYSE(text))
    )


def _rank(wording: str, texts: list[str]) -> list[float]:
    """Cosine similarity of each text to the wording in tf-idf space fitted on them all.

    The weights are scikit-learn's TfidfVectorizer(sublinear_tf=True) ones (1 + log of
    the count, times the smoothed idf ln((1 + n) / (1 + df)) + 1, each vector of unit
    length), worked out here over the kept word counts: fitting a vectoriser on 150
    short texts cost more in its checks than in the sums (a test holds the two equal).
    """
    docs = [Counter(_ANALYSE(wording)), *map(_word_counts, texts)]
    frequency: Counter[str] = Counter()
    for doc in docs:
        frequency.update(doc.keys())
    n = len(docs)
    idf = {word: log((1 + n) / (1 + df)) + 1 for word, df in frequency.items()}

    def weights(doc: Counter[str]) -> tuple[dict[str, float], float]:
        w = {word: (1 + log(count)) * idf[word] for word, count in doc.items()}
        return w, sqrt(sum(v * v for v in w.values()))

    query, query_norm = weights(docs[0])
    if not query_norm:  # nothing but stop words
        return [0.0] * len(texts)
    scores = []
    for doc in docs[1:]:
        shared = doc.keys() & query.keys()
        if not shared:
            scores.append(0.0)
            continue
        w, norm = weights(doc)
        scores.append(sum(query[t] * w[t] for t in shared) / (query_norm * norm))
    return scores


# Rankings by (response, themes, wording), a minute per worker: the editor asks again
# for the same wording as staff page through the candidates.
RANKING_SECONDS = 60


def _rankings() -> caching.NamedCache:
    return caching.named_cache("picker_rankings", maxsize=128, seconds=RANKING_SECONDS)


def _cached_ranking(key: tuple) -> list[tuple[str, int, int]] | None:
    """The ranking this worker made for the same response, themes and wording within
    the last minute, if any."""
    return _rankings().get(key)


def _ranking(key: tuple, wording: str, candidates) -> list[tuple[str, int, int]]:
    """(kind, id, similarity %) of the candidates most like the wording, best first;
    kept a minute per worker under ``key``."""
    ranked: list[tuple[str, int, int]] = []
    if candidates:
        scores = _rank(wording, [text or "" for _, _, text in candidates])
        order = sorted(range(len(candidates)), key=lambda i: (-scores[i], i))
        ranked = [
            (candidates[i][0], candidates[i][1], round(100 * scores[i]))
            for i in order[:SUGGESTIONS]
            if scores[i] >= MIN_SIMILARITY
        ]
    _rankings().set(key, ranked)
    return ranked


def suggestions(
    engagement_id: int, themes: Sequence[Theme], response_id: int | None, wording: str
) -> list[tuple[str, object, int]]:
    """("group" | "item", row, similarity %) of the groups and newest unlinked single
    items most like the wording, best first."""
    return picker_page(engagement_id, themes, response_id=response_id, wording=wording).suggestions
