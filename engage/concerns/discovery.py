"""Find the concerns inside one theme's feedback: which items say the same worry.

The method, every step of which can be explained to the person reading the result:

1. Each text becomes the stems of its content words (``text.stems``) plus a token for
   each idea of ``concepts`` it names ("redundancies", "lose their jobs" → one idea),
   then a TF-IDF vector of word 1-2 grams (sublinear counts).
2. The vectors are projected onto 100 latent dimensions (LSA, a truncated SVD) learnt
   from the classifier's seed corpus of ~4,100 pieces of feedback about NHS
   reorganisation (a fixed list of its parts, ``SPACE_PARTS``), and joined with one
   column per idea the text names and with the text's word vectors (``wordvectors``:
   learnt from the same corpus), so that "lose their jobs" and "redundancies" meet
   even when no idea names them (``Space``). The space is fitted once and never on
   the items being grouped, so an item's vector is the same on every run, and a new
   item can be compared with the concerns found earlier.
3. Campaign copies (a duplicate group) are one unit: grouped once with one vector,
   counted with their size. A template letter sent 500 times cannot form or pull a
   concern by weight.
4. k-means on the unit vectors (normalised, so Euclidean distance follows cosine) for
   each k from 2 (3 for 30 units or more) to 12, seeded; up to 1,000 units the grouping
   at each k is the consensus of ten k-means runs (how often two units fell together),
   above that one fit of 3 starts; concerns of fewer than 3 units join their nearest
   neighbour, and the k whose grouping so shown has the best silhouette (cosine, on at
   most 2,000 units) is kept.
5. Each concern is labelled from its most distinctive phrases (class-based TF-IDF:
   frequent in this concern, rare in the theme's others) and its items are ordered by
   closeness to its centre.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from math import log

import numpy as np
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import normalize
from threadpoolctl import threadpool_limits

from engage.caching import memoize
from engage.concerns import concepts, wordvectors
from engage.concerns import text as textmod

SEED = 20190528
DIMENSIONS = 100
# How much the idea columns and the word vectors weigh beside the LSA part (each part
# has length 1 before weighting). Chosen on both labelled sets (docs/concerns.md).
IDEA_WEIGHT = 0.7
WORD_WEIGHT = 1.0
# The columns of ideas a text's words lean towards without naming them: the cosine of
# the text's word vector with each idea's (the mean vector of the stems of its
# phrases), counted from NEAR_IDEA_FROM and squared, so only a clear lean counts.
# 0.4 since the word vectors lost their shared directions (wordvectors.COMMON_DIRECTIONS):
# cosines between texts are lower without them; 0.5 was chosen before that.
NEAR_IDEA_WEIGHT = 0.8
NEAR_IDEA_FROM = 0.4
MIN_K, MAX_K = 2, 12
# A theme of at least LARGE_THEME units is given at least LARGE_MIN_K concerns. The
# silhouette favours two groups on noisy text (each half is "far" from the other on
# average even when it mixes several worries), and two concerns for 30 or more people
# are too coarse to answer one by one. On the blind set 5, decision-making (47 items,
# 6 concerns) was cut in two by 3 of 4 seeds (ARI 0.27); with this floor 0.35, and no
# theme of the other three labelled sets changed (none chose 2). Smaller themes may
# still be two concerns.
LARGE_THEME, LARGE_MIN_K = 30, 3
SILHOUETTE_SAMPLE = 2000
# k-means starts: a grouping of few units is cheap, and more starts make it steadier
# (mean ARI over four seeds on both labelled sets moved less from seed to seed with 10
# than with 3); large ones keep 3 to stay within the 10-second budget.
MANY_STARTS, FEW_STARTS, MANY_STARTS_UP_TO = 10, 3, 1000
# Up to CONSENSUS_UP_TO units, each k's grouping is a consensus of CONSENSUS_RUNS
# k-means runs (one start each, seeds apart): units are grouped by how often the runs
# put them together (co-association, then average linkage), so no single seed decides
# a borderline unit, and the silhouette that picks k scores that consensus. Means of
# eight seeds (docs/concerns.md): second held-out set 0.60 -> 0.63 and steadier from
# seed to seed; the evaluation and first held-out sets 0.007 and 0.015 lower. Larger
# groupings keep one k-means fit (the 10-second budget; the co-association is n x n).
# 1,000 units: 1.4 s CPU against 0.8 s.
CONSENSUS_RUNS, CONSENSUS_STARTS, CONSENSUS_UP_TO = 10, 1, 1000
# Fewer units than this are one concern: nothing worth splitting.
MIN_UNITS = 6
# A concern needs this many units (people or campaigns): one campaign alone, or one
# person, is not a concern; its units join the nearest other concern.
MIN_CONCERN_UNITS = 3


@dataclass(frozen=True)
class Entry:
    """One feedback item to group: its key (the item id), text and campaign group."""

    key: int
    text: str
    group: int | None = None


@dataclass
class Found:
    """One concern found: its items (keys), most central first, and its phrases."""

    keys: list[int]
    central: list[int]  # one key per unit, most central first
    phrases: list[str]
    centroid: np.ndarray = field(repr=False)

    @property
    def label(self) -> str:
        return ", ".join(self.phrases[:3])


@dataclass
class Discovery:
    """Every concern of one run, largest first, and how the number was chosen."""

    concerns: list[Found]
    k: int
    silhouette: float | None
    units: int


class Space:
    """The fixed vector space, fitted on the seed corpus. A text's vector joins three
    parts, each normalised, then weighted, and the whole normalised again:

    - LSA: stems and idea tokens → TF-IDF of 1-2 grams → 100 latent dimensions;
    - ideas: one column per idea of ``concepts`` (1 if the text names it), so that two
      texts naming one idea in different words are close however the LSA placed the
      token (weight ``IDEA_WEIGHT``);
    - words: the IDF-weighted sum of the text's word vectors (``wordvectors``), which
      puts "lose their jobs" near "redundancies" without any list (``WORD_WEIGHT``);
    - near ideas: how far the text's word vector leans towards each idea's words, for
      texts that say an idea in words its list does not hold (``NEAR_IDEA_WEIGHT``).
    """

    def __init__(
        self,
        corpus: Sequence[str],
        *,
        with_ideas: bool = True,
        idea_weight: float | None = None,
        word_weight: float | None = None,
    ) -> None:
        self.with_ideas = with_ideas
        if idea_weight is None:
            idea_weight = IDEA_WEIGHT if with_ideas else 0.0
        self.idea_weight = idea_weight
        self.word_weight = WORD_WEIGHT if word_weight is None else word_weight
        self.vectoriser = TfidfVectorizer(
            ngram_range=(1, 2),
            sublinear_tf=True,
            min_df=2,
            token_pattern=r"\S+",  # noqa: S106  (a regex, not a password) dtype=np.float32
        )
        matrix = self.vectoriser.fit_transform(self.documents(corpus))
        dims = min(DIMENSIONS, matrix.shape[1] - 1, matrix.shape[0] - 1)
        with threadpool_limits(limits=1):
            self.svd = TruncatedSVD(dims, random_state=SEED).fit(matrix)
            self.word_vectors = wordvectors.WordVectors(corpus) if self.word_weight else None
        self.idea_vectors = (
            self._idea_vectors(self.word_vectors)
            if self.word_vectors is not None and with_ideas and NEAR_IDEA_WEIGHT
            else None
        )
        self.dimensions = (
            dims
            + (len(concepts.TOKENS) if self.idea_weight else 0)
            + (self.word_vectors.dimensions if self.word_vectors is not None else 0)
            + (len(concepts.TOKENS) if self.idea_vectors is not None else 0)
        )

    @staticmethod
    def _idea_vectors(word_vectors: wordvectors.WordVectors) -> np.ndarray:
        """Per idea, the normalised mean vector of the stems of its phrases."""
        rows = []
        for token in concepts.TOKENS:
            stems = textmod.stems_of([p.replace("*", "") for p in concepts.PHRASES[token]])
            ids = [
                word_vectors.index[w]
                for doc in stems
                for w in doc.split()
                if w in word_vectors.index
            ]
            rows.append(
                word_vectors.vectors_of_stems[ids].mean(axis=0)
                if ids
                else np.zeros(word_vectors.dimensions, dtype=np.float32)
            )
        return normalize(np.vstack(rows)).astype(np.float32)

    def words(self, text: str) -> str:
        """The stems of the text, then its idea tokens (concepts.ideas), twice each."""
        return self.documents([text])[0]

    def documents(self, texts: Sequence[str]) -> list[str]:
        """``words`` of each text (each distinct word stemmed once: textmod.stems_of)."""
        return self._documents(texts, textmod.stems_of(texts), self._ideas(texts))

    def _ideas(self, texts: Sequence[str]) -> list[list[str]]:
        return [concepts.ideas(text) for text in texts] if self.with_ideas else [[] for _ in texts]

    @staticmethod
    def _documents(
        texts: Sequence[str], stemmed: Sequence[str], ideas: Sequence[list[str]]
    ) -> list[str]:
        return [
            " ".join([stems, *found, *found]) if found else stems
            for stems, found in zip(stemmed, ideas, strict=True)
        ]

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length vectors, one row per text (a row of zeros for a text of no known word)."""
        stemmed = textmod.stems_of(texts)
        ideas = self._ideas(texts)
        matrix = self.vectoriser.transform(self._documents(texts, stemmed, ideas))
        parts = [normalize(self.svd.transform(matrix))]
        if self.idea_weight:
            named = np.zeros((len(texts), len(concepts.TOKENS)), dtype=np.float32)
            column = {token: i for i, token in enumerate(concepts.TOKENS)}
            for row, found in enumerate(ideas):
                named[row, [column[token] for token in found]] = 1.0
            parts.append(self.idea_weight * normalize(named))
        if self.word_vectors is not None:
            words = self.word_vectors.of_stems(stemmed)
            parts.append(self.word_weight * words)
            if self.idea_vectors is not None:
                lean = words @ self.idea_vectors.T
                lean = np.where(lean > NEAR_IDEA_FROM, lean, 0.0) ** 2
                parts.append(NEAR_IDEA_WEIGHT * normalize(lean))
        return normalize(np.hstack(parts)).astype(np.float32)


# The corpus parts the space is fitted on, named one by one rather than "every part":
# the classifier's corpus grows (a part added for the classifier moved every concern
# figure, held-out-2 ARI 0.68 -> 0.56 when part 28 came), and a space that moved with it
# would regroup and re-place every theme for a reason that has nothing to do with the
# feedback. These are the parts present on 2026-12-06 (there is no part 27); adding a
# part here is a deliberate change, to be measured on every labelled set first.
SPACE_PARTS = (*(f"part_{n:02d}.csv" for n in range(1, 27)), "part_28.csv")


def corpus_folder():  # noqa: ANN201  (an importlib Traversable or a Path)
    """The folder of the classifier's seed corpus parts."""
    return resources.files("engage.classify.data").joinpath("corpus")


def seed_corpus() -> list[str]:
    """The texts of the seed corpus parts in ``SPACE_PARTS``, in that order; other parts
    in the folder are not read. A listed part that is missing is an error."""
    folder = corpus_folder()
    texts: list[str] = []
    for name in SPACE_PARTS:
        with folder.joinpath(name).open(encoding="utf-8", newline="") as handle:
            texts += [row["text"] for row in csv.DictReader(handle) if row.get("text")]
    return texts


@memoize("concerns_space", maxsize=1, seconds=None)
def space() -> Space:
    """The space every run uses: fitted once per process (about a second) and kept in
    the named cache ``concerns_space`` with no lifetime, since the seed corpus it is
    fitted on ships with the code."""
    return Space(seed_corpus())


def _units(entries: Sequence[Entry]) -> list[list[int]]:
    """Entry indexes by unit: a campaign group's entries together, others alone."""
    units: list[list[int]] = []
    of_group: dict[int, int] = {}
    for index, entry in enumerate(entries):
        if entry.group is None:
            units.append([index])
        elif entry.group in of_group:
            units[of_group[entry.group]].append(index)
        else:
            of_group[entry.group] = len(units)
            units.append([index])
    return units


def choose_k(
    vectors: np.ndarray,
    *,
    k: int | None = None,
    seed: int = SEED,
    progress: Callable[[float], None] | None = None,
) -> tuple[np.ndarray, int, float | None]:
    """Labels from k-means with the given k, or the k in MIN_K..MAX_K of best silhouette
    (from LARGE_MIN_K when there are at least LARGE_THEME units).
    ``progress`` is told the share done (0 to 1) after each k tried."""
    n = len(vectors)
    # Every concern needs MIN_CONCERN_UNITS units, so no more than n // that many.
    most = min(MAX_K, n // MIN_CONCERN_UNITS)
    least = LARGE_MIN_K if n >= LARGE_THEME else MIN_K
    if n < MIN_UNITS or most < MIN_K:
        return np.zeros(n, dtype=int), 1, None
    if k is not None:
        k = max(1, min(k, n))
        if k == 1:
            return np.zeros(n, dtype=int), 1, None
        return _group(vectors, k, seed), k, None
    # k is chosen on a seeded sample of at most SILHOUETTE_SAMPLE units (k-means and
    # silhouette both), then the chosen k is fitted on every unit: 10,000 items in
    # seconds rather than a minute, and the same choice on every run.
    rng = np.random.default_rng(seed)
    if n > SILHOUETTE_SAMPLE:
        sample = np.sort(rng.choice(n, SILHOUETTE_SAMPLE, replace=False))
        rows = vectors[sample]
    else:
        sample, rows = None, vectors
    best: tuple[float, int, np.ndarray] | None = None
    candidates = range(min(least, most), min(most, len(rows) - 1) + 1)
    # The last fit on every unit (when k was chosen on a sample) counts as two k's.
    steps = len(candidates) + (2 if sample is not None else 0)
    for done, candidate in enumerate(candidates, start=1):
        if progress is not None:
            progress((done - 1) / steps)
        # Scored as it would be shown: concerns under MIN_CONCERN_UNITS units given to
        # their nearest neighbour first (``_absorb_small``), not as k-means left them.
        labels = _absorb_small(rows, _group(rows, candidate, seed))
        if len(set(labels.tolist())) < 2:
            continue
        score = float(silhouette_score(rows, labels, metric="cosine"))
        if best is None or score > best[0] + 1e-9:
            best = (score, candidate, labels)
    if best is None:
        return np.zeros(n, dtype=int), 1, None
    if progress is not None and sample is not None:
        progress(len(candidates) / steps)
    labels = best[2] if sample is None else _kmeans(vectors, best[1], seed)
    return labels, best[1], best[0]


def _absorb_small(vectors: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Give the units of concerns under MIN_CONCERN_UNITS to the nearest larger concern."""
    labels = labels.copy()
    sizes = Counter(labels.tolist())
    big = sorted(label for label, n in sizes.items() if n >= MIN_CONCERN_UNITS)
    if not big:
        return np.zeros_like(labels)
    if len(big) == len(sizes):
        return labels
    centres = normalize(np.vstack([vectors[labels == label].mean(axis=0) for label in big]))
    small = np.isin(labels, big, invert=True)
    nearest = np.argmax(vectors[small] @ centres.T, axis=1)
    labels[small] = np.asarray(big)[nearest]
    return labels


def _group(vectors: np.ndarray, k: int, seed: int) -> np.ndarray:
    """k groups of the vectors: a consensus of several seeded k-means runs (up to
    CONSENSUS_UP_TO units), else one k-means fit."""
    n = len(vectors)
    if CONSENSUS_RUNS < 2 or n > CONSENSUS_UP_TO or k >= n:
        return _kmeans(vectors, k, seed)
    # Co-association: how often two units fall in one group over the runs; the groups
    # are then its average-linkage clusters, which no single seed decides.
    together = np.zeros((n, n), dtype=np.float32)
    for run in range(CONSENSUS_RUNS):
        labels = _kmeans(vectors, k, seed + 7919 * run, starts=CONSENSUS_STARTS)
        together += labels[:, None] == labels[None, :]
    distance = 1.0 - together / CONSENSUS_RUNS
    return AgglomerativeClustering(
        n_clusters=k, metric="precomputed", linkage="average"
    ).fit_predict(distance)


def _kmeans(vectors: np.ndarray, k: int, seed: int = SEED, starts: int | None = None) -> np.ndarray:
    # One thread: on a shared 2-core machine OpenMP's threads wait on each other (11
    # fits on 2,000 units took 26 s with the default threads and 1.3 s with one).
    with threadpool_limits(limits=1):
        if starts is None:
            starts = MANY_STARTS if len(vectors) <= MANY_STARTS_UP_TO else FEW_STARTS
        model = KMeans(n_clusters=k, n_init=starts, random_state=seed, max_iter=100)
        return model.fit_predict(vectors)


def distinctive_phrases(
    docs_by_concern: Sequence[Sequence[str]], *, top: int = 5
) -> list[list[str]]:
    """Per concern, the phrases most frequent in it and rare in the others (c-TF-IDF)."""
    counts = [
        Counter(p for doc in docs for p in set(textmod.phrases(doc))) for docs in docs_by_concern
    ]
    totals: Counter[str] = Counter()
    for c in counts:
        totals.update(c)
    average = sum(sum(c.values()) for c in counts) / max(1, len(counts))
    out = []
    for docs, c in zip(docs_by_concern, counts, strict=True):
        size = max(1, len(docs))
        scored = []
        for phrase, n in c.items():
            if n < max(2, size // 20) and size > 2:
                continue  # a phrase one person (or a few of many) used does not describe it
            length = phrase.count(" ") + 1
            # Longer phrases read better as labels: a small lift per extra word.
            score = (n / size) * log(1 + average / totals[phrase]) * (1 + 0.15 * (length - 1))
            scored.append((score, phrase))
        scored.sort(key=lambda s: (-s[0], s[1]))
        chosen: list[str] = []
        for _score, phrase in scored:
            if any(phrase in other or other in phrase for other in chosen):
                continue
            chosen.append(phrase)
            if len(chosen) == top:
                break
        out.append(chosen)
    return out


def discover(
    entries: Sequence[Entry],
    *,
    k: int | None = None,
    the_space: Space | None = None,
    seed: int = SEED,
    progress: Callable[[float], None] | None = None,
) -> Discovery:
    """Group entries into concerns, largest first (by people, campaigns at their size).
    ``seed`` seeds k-means and the silhouette's sample (the evaluation varies it);
    ``progress`` is told the share of the grouping done (0 to 1) as it goes."""
    # One thread for every step (see _kmeans): steady on a shared 2-core machine.
    with threadpool_limits(limits=1):
        return _discover(entries, k=k, the_space=the_space, seed=seed, progress=progress)


def _discover(
    entries: Sequence[Entry],
    *,
    k: int | None,
    the_space: Space | None,
    seed: int,
    progress: Callable[[float], None] | None = None,
) -> Discovery:
    if not entries:
        return Discovery(concerns=[], k=0, silhouette=None, units=0)
    the_space = the_space or space()
    units = _units(entries)
    first = [unit[0] for unit in units]
    vectors = the_space.vectors([entries[i].text for i in first])
    labels, chosen_k, silhouette = choose_k(vectors, k=k, seed=seed, progress=progress)
    if k is None:
        labels = _absorb_small(vectors, labels)
    groups: dict[int, list[int]] = {}
    for unit_index, label in enumerate(labels.tolist()):
        groups.setdefault(label, []).append(unit_index)
    members = list(groups.values())
    phrases = distinctive_phrases([[entries[first[u]].text for u in ms] for ms in members])
    concerns = []
    for unit_indexes, words in zip(members, phrases, strict=True):
        centroid = vectors[unit_indexes].mean(axis=0)
        norm = float(np.linalg.norm(centroid))
        centroid = centroid / norm if norm else centroid
        closeness = vectors[unit_indexes] @ centroid
        order = [unit_indexes[i] for i in np.argsort(-closeness, kind="stable")]
        keys = [entries[i].key for u in unit_indexes for i in units[u]]
        concerns.append(
            Found(
                keys=keys,
                central=[entries[first[u]].key for u in order],
                phrases=words,
                centroid=centroid,
            )
        )
    concerns.sort(key=lambda c: (-len(c.keys), c.central[0] if c.central else 0))
    return Discovery(concerns=concerns, k=chosen_k, silhouette=silhouette, units=len(units))
