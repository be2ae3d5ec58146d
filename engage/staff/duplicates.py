"""Group near-identical feedback (template letters, copy-paste campaigns) in an engagement.

Texts are compared on word 5-shingles after removing what each sender changes in a
template letter: the greeting, the sign-off and whatever follows it (name, address),
case, punctuation and spacing. Two texts belong together when the Jaccard similarity of
their shingle sets reaches the threshold (0.8), either directly or through other members
(single linkage: a campaign's variants join through the plain copies).

To stay fast on thousands of items nothing compares every pair. Texts that are equal
after normalising are merged first (most campaign copies are); the remaining distinct
texts get a MinHash signature and only those sharing a band of it (LSH) are compared
exactly. Everything is deterministic: fixed hash seeds, items taken in submission order,
so running twice gives the same groups.
"""

from __future__ import annotations

import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import load_only

from engage.extensions import db
from engage.feedback.models import DuplicateGroup, FeedbackItem, Status
from engage.matching import normalise_for_matching
from engage.util import utcnow

SHINGLE_SIZE = 5
NUM_PERMUTATIONS = 64
# Fixed so that signatures, and so groups, are the same on every run and machine.
_SEED = 20190528

_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


@dataclass
class GroupingResult:
    """What a grouping run changed. Counts only; the caller commits."""

    engagements: int = 0
    groups: int = 0  # groups that exist after the run
    groups_created: int = 0
    groups_updated: int = 0  # existing groups whose members or sample changed
    groups_removed: int = 0
    items_grouped: int = 0  # items in a group after the run
    items_released: int = 0  # items that were in a group and no longer are

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    def add(self, other: GroupingResult) -> None:
        for key, value in asdict(other).items():
            setattr(self, key, getattr(self, key) + value)


class _WordHashes(dict):
    """CRC-32 of each word, computed once per word."""

    def __missing__(self, word: str) -> int:
        value = self[word] = zlib.crc32(word.encode("utf-8"))
        return value


def _shingle_array(words: Sequence[str], k: int, cache: _WordHashes) -> np.ndarray:
    """One 64-bit value per word k-shingle: a polynomial over its words' CRC-32 values.

    Under k words, the whole text is the only shingle, so short texts match only when
    they are the same after normalising.
    """
    if not words:
        return np.empty(0, dtype=np.uint64)
    hashes = np.fromiter(map(cache.__getitem__, words), dtype=np.uint64, count=len(words))
    k = min(k, len(hashes))
    count = len(hashes) - k + 1
    values = np.zeros(count, dtype=np.uint64)
    for j in range(k):
        # uint64 arithmetic wraps modulo 2**64, which is the intended modulus.
        values = values * _MULTIPLIER + hashes[j : j + count]
    return values


def shingles(text: str, k: int = SHINGLE_SIZE) -> set[int]:
    """Hashed word k-shingles of the normalised text (from CRC-32: stable across runs)."""
    return set(_shingle_array(normalise_for_matching(text).split(), k, _WordHashes()).tolist())


def jaccard(a: set[int], b: set[int]) -> float:
    """|a ∩ b| / |a ∪ b|, 0.0 when either set is empty."""
    if not a or not b:
        return 0.0
    common = len(a & b)
    return common / (len(a) + len(b) - common)


def similarity(a: str, b: str, *, k: int = SHINGLE_SIZE) -> float:
    """Jaccard similarity of the two texts' shingles; texts under k words: 1.0 if equal."""
    return jaccard(shingles(a, k), shingles(b, k))


def cluster_texts(
    texts: Sequence[str], *, threshold: float = 0.8, k: int = SHINGLE_SIZE
) -> list[list[int]]:
    """Indexes of ``texts`` grouped by near-identity; every index is in exactly one list.

    Lists come in order of their first index, each sorted.
    """
    return _cluster([normalise_for_matching(t) for t in texts], threshold=threshold, k=k)


def _cluster(keys: Sequence[str], *, threshold: float, k: int) -> list[list[int]]:
    # 1. Texts equal after normalising form one unit; only units are compared.
    unit_of_key: dict[str, int] = {}
    unit_members: list[list[int]] = []
    for index, key in enumerate(keys):
        unit = unit_of_key.setdefault(key, len(unit_members))
        if unit == len(unit_members):
            unit_members.append([])
        unit_members[unit].append(index)
    cache = _WordHashes()
    arrays = [_shingle_array(key.split(), k, cache) for key in unit_of_key]
    unit_shingles = [set(values.tolist()) for values in arrays]

    # 2. Candidate pairs from MinHash bands; biggest units first, so a campaign's plain
    # copy is the first member of its buckets and variants are compared with it.
    order = sorted(
        (u for u in range(len(unit_members)) if unit_shingles[u]),
        key=lambda u: (-len(unit_members[u]), unit_members[u][0]),
    )
    parent = list(range(len(unit_members)))

    def find(u: int) -> int:
        while parent[u] != u:
            parent[u] = parent[parent[u]]
            u = parent[u]
        return u

    if len(order) > 1:
        rows = _rows_per_band(threshold)
        signatures = _minhash([arrays[u] for u in order])
        buckets: dict[tuple[int, bytes], list[int]] = defaultdict(list)
        for position, u in enumerate(order):
            signature = signatures[position]
            for band in range(NUM_PERMUTATIONS // rows):
                buckets[(band, signature[band * rows : (band + 1) * rows].tobytes())].append(u)
        for members in buckets.values():
            if len(members) > 1:
                _link_bucket(members, unit_shingles, threshold, find, parent)

    # 3. Components of units, expanded back to text indexes.
    components: dict[int, list[int]] = defaultdict(list)
    for u, members in enumerate(unit_members):
        components[find(u)].extend(members)
    return sorted((sorted(indexes) for indexes in components.values()), key=lambda c: c[0])


def _rows_per_band(threshold: float) -> int:
    """The most rows per band that still make pairs at ``threshold`` candidates (p > 0.999)."""
    for rows in (8, 4, 2, 1):
        bands = NUM_PERMUTATIONS // rows
        if 1 - (1 - threshold**rows) ** bands > 0.999:
            return rows
    return 1


def _minhash(arrays: list[np.ndarray]) -> np.ndarray:
    """One row of NUM_PERMUTATIONS minimum hash values per non-empty array of shingles."""
    rng = np.random.default_rng(_SEED)
    # Multiply-add-shift hashing: (a * x + b) mod 2**64, top 32 bits; a odd.
    a = rng.integers(1, 2**63, size=NUM_PERMUTATIONS, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 2**63, size=NUM_PERMUTATIONS, dtype=np.uint64)
    values = np.concatenate(arrays)
    starts = np.cumsum([0] + [len(x) for x in arrays[:-1]])
    out = np.empty((len(arrays), NUM_PERMUTATIONS), dtype=np.uint32)
    for p in range(NUM_PERMUTATIONS):
        hashed = ((values * a[p] + b[p]) >> np.uint64(32)).astype(np.uint32)
        out[:, p] = np.minimum.reduceat(hashed, starts)
    return out


def _link_bucket(
    members: list[int],
    unit_shingles: list[set[int]],
    threshold: float,
    find: Callable[[int], int],
    parent: list[int],
) -> None:
    """Join bucket members similar enough to a member that began a component here."""
    leaders: list[int] = []
    for u in members:
        joined = False
        for leader in leaders:
            if find(leader) == find(u):
                joined = True
                continue
            a, b = unit_shingles[leader], unit_shingles[u]
            # Jaccard cannot reach the threshold when the sizes differ too much.
            if min(len(a), len(b)) < threshold * max(len(a), len(b)):
                continue
            if jaccard(a, b) >= threshold:
                parent[find(u)] = find(leader)
                joined = True
        if not joined:
            leaders.append(u)


def group_engagement(
    engagement_id: int | None, *, threshold: float = 0.8, min_size: int = 3
) -> GroupingResult:
    """Find the campaign groups of one engagement (None: general feedback) and store them.

    Creates, updates and deletes DuplicateGroup rows and sets each item's group; items
    marked spam are left out. Item statuses are not changed: staff decide. Flushes, does
    not commit.
    """
    in_engagement = (
        FeedbackItem.engagement_id.is_(None)
        if engagement_id is None
        else FeedbackItem.engagement_id == engagement_id
    )
    items = db.session.scalars(
        select(FeedbackItem)
        .options(
            load_only(
                FeedbackItem.id,
                FeedbackItem.text,
                FeedbackItem.status,
                FeedbackItem.submitted_at,
                FeedbackItem.duplicate_group_id,
                FeedbackItem.engagement_id,
            )
        )
        .where(in_engagement)
        .order_by(FeedbackItem.submitted_at, FeedbackItem.id)
    ).all()
    # A purged item's text is the retention placeholder, the same for all of them: it is
    # never matched (it would make one vast "campaign"), and it keeps the group it had,
    # so that purging changes no count (engage.retention).
    frozen = Counter(
        item.duplicate_group_id
        for item in items
        if item.purged and item.duplicate_group_id is not None
    )
    candidates = [item for item in items if item.status != Status.SPAM and not item.purged]
    keys = [normalise_for_matching(item.text) for item in candidates]
    clusters = [
        indexes
        for indexes in _cluster(keys, threshold=threshold, k=SHINGLE_SIZE)
        if len(indexes) >= min_size
    ]
    # A copy left out of every cluster stays in its group while that group holds purged
    # copies: it may have matched only them, whose texts cannot be compared any more.
    clustered = {i for indexes in clusters for i in indexes}
    stuck = [
        item
        for i, item in enumerate(candidates)
        if i not in clustered and frozen[item.duplicate_group_id]
    ]
    kept = frozen + Counter(item.duplicate_group_id for item in stuck)

    group_filter = (
        DuplicateGroup.engagement_id.is_(None)
        if engagement_id is None
        else DuplicateGroup.engagement_id == engagement_id
    )
    existing = {
        group.id: group for group in db.session.scalars(select(DuplicateGroup).where(group_filter))
    }
    result = GroupingResult(engagements=1)
    now = utcnow()

    # Each cluster keeps the existing group most of its members were in, so group ids
    # (and links staff have shared) survive regrouping.
    overlaps = []
    for position, indexes in enumerate(clusters):
        members = [candidates[i] for i in indexes]
        counts = Counter(m.duplicate_group_id for m in members if m.duplicate_group_id in existing)
        overlaps += [(n, -gid, position, gid) for gid, n in counts.items()]
    chosen: dict[int, DuplicateGroup] = {}
    for _n, _neg, position, gid in sorted(overlaps, reverse=True):
        if position not in chosen and gid not in {g.id for g in chosen.values()}:
            chosen[position] = existing[gid]

    wanted: dict[int, DuplicateGroup] = {}  # item id -> its group
    for position, indexes in enumerate(clusters):
        members = [candidates[i] for i in indexes]
        sample = candidates[_representative(indexes, keys)].text
        group = chosen.get(position)
        if group is None:
            group = DuplicateGroup(
                engagement_id=engagement_id,
                size=len(members),
                sample_text=sample,
                created_at=now,
                updated_at=now,
            )
            db.session.add(group)
            result.groups_created += 1
        else:
            changed = (
                group.size != len(members) + kept[group.id]
                or group.sample_text != sample
                or any(m.duplicate_group_id != group.id for m in members)
            )
            if changed:
                group.size = len(members) + kept[group.id]
                group.sample_text = sample
                group.updated_at = now
                result.groups_updated += 1
        for member in members:
            wanted[member.id] = group
    for item in stuck:
        if item.duplicate_group_id in existing:
            wanted[item.id] = existing[item.duplicate_group_id]
    db.session.flush()  # new groups get their ids

    for item in items:
        if item.purged:
            continue
        group = wanted.get(item.id)
        target = group.id if group is not None else None
        if item.duplicate_group_id != target:
            if target is None:
                result.items_released += 1
            item.duplicate_group_id = target
            db.session.expire(item, ["duplicate_group"])
    db.session.flush()
    # Items moved to another engagement may still point at a group of this one.
    kept_ids = {group.id for group in chosen.values()}
    for gid in frozen.keys() - kept_ids:  # no cluster chose it: its purged copies keep it
        if gid in existing and existing[gid].size != kept[gid]:
            existing[gid].size = kept[gid]
            existing[gid].updated_at = now
            result.groups_updated += 1
    removed = [
        group for gid, group in existing.items() if gid not in kept_ids and gid not in frozen
    ]
    if removed:
        strays = select(FeedbackItem).where(
            FeedbackItem.duplicate_group_id.in_([group.id for group in removed])
        )
        for item in db.session.scalars(strays):
            item.duplicate_group_id = None
            db.session.expire(item, ["duplicate_group"])
        db.session.flush()
    for group in removed:
        db.session.delete(group)
        result.groups_removed += 1
    for group in set(wanted.values()):
        db.session.expire(group, ["items"])
    db.session.flush()

    result.groups = len(clusters)
    result.items_grouped = len(wanted)
    return result


def group_all(*, threshold: float = 0.8, min_size: int = 3) -> GroupingResult:
    """Group every engagement's feedback, and the general feedback, in turn."""
    with_items = select(FeedbackItem.engagement_id).distinct()
    with_groups = select(DuplicateGroup.engagement_id).distinct()
    ids = set(db.session.scalars(with_items)) | set(db.session.scalars(with_groups))
    total = GroupingResult()
    for engagement_id in sorted(ids, key=lambda i: (i is not None, i or 0)):
        total.add(group_engagement(engagement_id, threshold=threshold, min_size=min_size))
    return total


def _representative(indexes: list[int], keys: Sequence[str]) -> int:
    """The earliest copy of the text sent most often in the group (the template, usually)."""
    counts = Counter(keys[i] for i in indexes)
    best = max(counts.values())
    return next(i for i in indexes if counts[keys[i]] == best)
