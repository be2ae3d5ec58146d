"""Word vectors learnt from the classifier's seed corpus: words used alike, close together.

Two people naming one worry often share no word ("lose their jobs", "redundancies";
"in the red", "overspent"). TF-IDF sees nothing in common; words that keep the same
company in ~4,000 pieces of feedback about NHS reorganisation do. The method is the
count-based one, every step of which can be inspected:

1. Each corpus text becomes its stems (``text.stems_of``). For every pair of stems at
   most ``WINDOW`` words apart in one text, a co-occurrence is counted.
2. The counts become positive pointwise mutual information (PPMI: how much more often
   two stems meet than chance would have them; the context counts smoothed by the
   0.75 power, as is usual, so rare contexts do not dominate; negative values are 0).
3. A truncated SVD keeps ``DIMENSIONS`` dimensions; a stem's vector is its row.
   Stems in fewer than two texts get no vector.
4. What every stem shares is taken out ("all but the top", Mu and Viswanath 2018):
   the mean of the stem vectors and their ``COMMON_DIRECTIONS`` main directions are
   subtracted, then each vector is normalised. Left in, those directions (mostly how
   frequent a word is, and the corpus's one subject, NHS reorganisation) make every
   two texts of a theme look alike, whatever worry they name.

A text's vector is the IDF-weighted sum of its stems' vectors, normalised: words most
texts use count for little. Seeded and fitted only on the seed corpus that ships with
the code, so the vectors are the same on every run and every machine.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD
from sklearn.preprocessing import normalize

from engage.concerns import text as textmod

WINDOW = 5
DIMENSIONS = 100
CONTEXT_SMOOTHING = 0.75
# The main directions shared by all stem vectors that are taken out (step 4). Measured
# on the four labelled sets (docs/concerns.md, 2026-12-06): 0 directions (as before)
# 0.863 / 0.707 / 0.622 / 0.380 mean ARI over eight seeds, 2 directions 0.890 / 0.710 /
# 0.661 / 0.400; 1 and 3 gave the same picture.
COMMON_DIRECTIONS = 2
SEED = 20190528


def _without_common(vectors: np.ndarray, directions: int) -> np.ndarray:
    """``vectors`` less their mean and their ``directions`` main directions (the top
    right singular vectors of the centred rows; deterministic, no random start)."""
    if directions <= 0:
        return vectors
    centred = vectors - vectors.mean(axis=0)
    _, _, top = np.linalg.svd(centred, full_matrices=False)
    top = top[:directions]
    return centred - (centred @ top.T) @ top


class WordVectors:
    """Stem vectors from PPMI + SVD over a corpus, and text vectors from them."""

    def __init__(self, corpus: Sequence[str], *, window: int = WINDOW, dims: int = DIMENSIONS):
        stemmed = [doc.split() for doc in textmod.stems_of(corpus)]
        in_texts = Counter(word for doc in stemmed for word in set(doc))
        kept = sorted(word for word, n in in_texts.items() if n >= 2)
        self.index = {word: i for i, word in enumerate(kept)}
        size = len(kept)
        self.idf = np.array([np.log(len(stemmed) / in_texts[w]) for w in kept], dtype=np.float32)
        rows: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        for doc in stemmed:
            ids = np.array([self.index[w] for w in doc if w in self.index], dtype=np.int32)
            for gap in range(1, window + 1):
                if len(ids) <= gap:
                    break
                rows += [ids[:-gap], ids[gap:]]
                cols += [ids[gap:], ids[:-gap]]
        row = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int32)
        col = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int32)
        counts = sp.coo_matrix(
            (np.ones(len(row), dtype=np.float64), (row, col)), shape=(size, size)
        ).tocsr()
        counts.sum_duplicates()
        counts = counts.tocoo()
        total = counts.sum()
        word_totals = np.asarray(counts.sum(axis=1)).ravel()
        context = np.asarray(counts.sum(axis=0)).ravel() ** CONTEXT_SMOOTHING
        context = context / context.sum()
        expected = (word_totals[counts.row] / total) * context[counts.col]
        pmi = np.log(counts.data / total / expected)
        positive = pmi > 0
        ppmi = sp.csr_matrix(
            (pmi[positive], (counts.row[positive], counts.col[positive])), shape=(size, size)
        )
        dims = min(dims, size - 1)
        svd = TruncatedSVD(dims, random_state=SEED).fit(ppmi)
        # Rows scaled by the square root of the singular values (a common, steadier
        # choice than the full values), then normalised to unit length.
        vectors = normalize((ppmi @ svd.components_.T) / np.sqrt(svd.singular_values_))
        self.vectors_of_stems = normalize(_without_common(vectors, COMMON_DIRECTIONS)).astype(
            np.float32
        )
        self.dimensions = dims

    def similar(self, word: str, *, top: int = 10) -> list[tuple[str, float]]:
        """The stems nearest to ``word``'s stem (for explaining a grouping)."""
        stem = textmod.stem(word.lower())
        if stem not in self.index:
            return []
        scores = self.vectors_of_stems @ self.vectors_of_stems[self.index[stem]]
        words = list(self.index)
        order = np.argsort(-scores, kind="stable")[1 : top + 1]
        return [(words[i], round(float(scores[i]), 3)) for i in order]

    def of_stems(self, stemmed: Sequence[str]) -> np.ndarray:
        """Unit vectors of texts given as space-separated stems (zeros for no known stem)."""
        out = np.zeros((len(stemmed), self.dimensions), dtype=np.float32)
        for row, doc in enumerate(stemmed):
            ids = [self.index[w] for w in doc.split() if w in self.index]
            if ids:
                out[row] = self.idf[ids] @ self.vectors_of_stems[ids]
        return normalize(out)
