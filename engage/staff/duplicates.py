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

import re
import unicodedata
import zlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import load_only

from engage.extensions import db
from engage.feedback.models import DuplicateGroup, FeedbackItem, Status
from engage.util import utcnow

SHINGLE_SIZE = 5
NUM_PERMUTATIONS = 64
# Fixed so that signatures, and so groups, are the same on every run and machine.
_SEED = 20190528

_GREETING = re.compile(
    r"\s*(?:dear|hi|hello|hey|good\s+(?:morning|afternoon|evening)|to\s+whom\s+it\s+may\s+concern"
    r"|to\s+the)\b([^\n,:;!]{0,60})([,:;!]|$)",
    re.IGNORECASE,
)
_CLOSING = re.compile(
    r"^\s*(?:(?:kind|kindest|best|warm|warmest|many|with)\s+(?:regards|thanks|wishes)|regards"
    r"|many\s+thanks|thanks|thank\s+you|best\s+wishes|with\s+best\s+wishes|all\s+the\s+best"
    r"|yours(?:\s+(?:sincerely|faithfully|truly))?|sincerely|cheers|best|signed|respectfully)\b"
    r"[^\n]{0,60}$",
    re.IGNORECASE,
)
# A closing within the last sentence of a text written on one line.
_CLOSING_AT_END = re.compile(
    r"(?:^|(?<=[.!?]))\s*(?:(?:kind|best|warm|many)\s+(?:regards|thanks|wishes)|regards"
    r"|yours\s+(?:sincerely|faithfully|truly)|best\s+wishes|thanks|thank\s+you)\b[^.!?\n]{0,60}$",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"\S+@\S+")
_NOT_WORD = re.compile(r"[\W_]+")


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


def normalise_for_matching(text: str) -> str:
    """The words a template letter's copies share: no greeting, sign-off, case or punctuation."""
    text = unicodedata.normalize("NFKC", text or "")
    lines = [line for line in text.splitlines() if line.strip()]
    greeting = _GREETING.match(lines[0]) if lines else None
    # "Dear Sir/Madam," or a short greeting line of its own; not "Hello please keep it open".
    if greeting and (greeting.group(2) or (len(lines) > 1 and len(greeting.group(1)) <= 30)):
        lines[0] = lines[0][greeting.end() :]
    # Cut from the last closing line near the end: the name, address and phone follow it.
    for i in range(len(lines) - 1, max(len(lines) - 7, 0) - 1, -1):
        if i > 0 and _CLOSING.match(lines[i]):
            lines = lines[:i]
            break
    else:
        if lines:
            lines[-1] = _CLOSING_AT_END.sub("", lines[-1])
    joined = _EMAIL.sub(" ", " ".join(lines)).casefold()
    return " ".join(_NOT_WORD.sub(" ", joined).split())


def _hash(value: str) -> int:
    return zlib.crc32(value.encode("utf-8"))


def _shingle_set(words: Sequence[str], k: int) -> set[int]:
    if not words:
        return set()
    if len(words) < k:
        # Too short for one shingle: the whole text is the only "shingle", so short texts
        # match only when they are the same after normalising.
        return {_hash(" ".join(words))}
    return {_hash(" ".join(words[i : i + k])) for i in range(len(words) - k + 1)}


def shingles(text: str, k: int = SHINGLE_SIZE) -> set[int]:
    """Hashed word k-shingles of the normalised text (CRC-32: stable across runs)."""
    return _shingle_set(normalise_for_matching(text).split(), k)


def jaccard(a: set[int], b: set[int]) -> float:
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
    # 1. Texts equal after normalising form one unit; only units are compared.
    unit_of_key: dict[str, int] = {}
    unit_members: list[list[int]] = []
    unit_words: list[list[str]] = []
    for index, text in enumerate(texts):
        normalised = normalise_for_matching(text)
        unit = unit_of_key.get(normalised)
        if unit is None:
            unit = unit_of_key[normalised] = len(unit_members)
            unit_members.append([])
            unit_words.append(normalised.split())
        unit_members[unit].append(index)
    unit_shingles = [_shingle_set(words, k) for words in unit_words]

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
        signatures = _minhash([unit_shingles[u] for u in order])
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


def _minhash(sets: list[set[int]]) -> np.ndarray:
    """One row of NUM_PERMUTATIONS minimum hash values per set (multiply-shift hashing)."""
    rng = np.random.default_rng(_SEED)
    a = rng.integers(1, 2**63, size=NUM_PERMUTATIONS, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 2**63, size=NUM_PERMUTATIONS, dtype=np.uint64)
    lengths = np.fromiter((len(s) for s in sets), dtype=np.int64, count=len(sets))
    values = np.fromiter((v for s in sets for v in s), dtype=np.uint64, count=int(lengths.sum()))
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    out = np.empty((len(sets), NUM_PERMUTATIONS), dtype=np.uint32)
    for p in range(NUM_PERMUTATIONS):
        # uint64 arithmetic wraps modulo 2**64; the top 32 bits are the hash.
        hashed = ((values * a[p] + b[p]) >> np.uint64(32)).astype(np.uint32)
        out[:, p] = np.minimum.reduceat(hashed, starts)
    return out


def _link_bucket(members, unit_shingles, threshold, find, parent) -> None:
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
    candidates = [item for item in items if item.status != Status.SPAM]
    clusters = [
        [candidates[i] for i in indexes]
        for indexes in cluster_texts([item.text for item in candidates], threshold=threshold)
        if len(indexes) >= min_size
    ]

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
    for position, members in enumerate(clusters):
        counts = Counter(m.duplicate_group_id for m in members if m.duplicate_group_id in existing)
        overlaps += [(n, -gid, position, gid) for gid, n in counts.items()]
    chosen: dict[int, DuplicateGroup] = {}
    for _n, _neg, position, gid in sorted(overlaps, reverse=True):
        if position not in chosen and gid not in {g.id for g in chosen.values()}:
            chosen[position] = existing[gid]

    wanted: dict[int, DuplicateGroup] = {}  # item id -> its group
    for position, members in enumerate(clusters):
        sample = _representative(members).text
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
                group.size != len(members)
                or group.sample_text != sample
                or any(m.duplicate_group_id != group.id for m in members)
            )
            if changed:
                group.size = len(members)
                group.sample_text = sample
                group.updated_at = now
                result.groups_updated += 1
        for member in members:
            wanted[member.id] = group
    db.session.flush()  # new groups get their ids

    for item in items:
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
    removed = [group for gid, group in existing.items() if gid not in kept_ids]
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


def _representative(members: list[FeedbackItem]) -> FeedbackItem:
    """The earliest copy of the text sent most often in the group (the template, usually)."""
    keys = [normalise_for_matching(m.text) for m in members]
    counts = Counter(keys)
    best = max(counts.values())
    return next(m for m, key in zip(members, keys, strict=True) if counts[key] == best)
