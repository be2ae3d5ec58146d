"""The fast vectoriser: scikit-learn's TF-IDF matrix for a fitted TfidfVectorizer, sooner.

scikit-learn counts n-grams in a Python loop, one dictionary lookup per n-gram: for
character n-grams that is most of the time spent classifying an import. ``transform``
builds the same counts as a CSR matrix with one column index per n-gram occurrence
(duplicates summed by scipy), then lets the vectorizer's own TfidfTransformer weight and
normalise them. tests/classify/test_pipeline.py checks the result against
``TfidfVectorizer.transform`` element for element.

This module reads three private parts of TfidfVectorizer (``_white_spaces``,
``_char_wb_ngrams``, ``_tfidf``); pyproject.toml pins scikit-learn below its next major
version, and the test above fails if a release changes what they do.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

__all__ = ["FastVectoriser"]


class FastVectoriser:
    """``vec.transform(docs)`` for the fitted vectorizers of one model, with faster counting.

    A char_wb vectorizer's n-grams never cross a word boundary, so each distinct word's
    vocabulary indices are worked out once and remembered here, per vectorizer, up to
    ``MAX_WORDS`` words (then forgotten: a long import meets ever rarer words). The
    memory belongs to one model and goes with it; it is not a process cache
    (engage.caching), because its entries are only true of the vectorizer that made
    them, and the classifier looks up every word of every item in it without a lock.
    """

    MAX_WORDS = 100_000

    def __init__(self) -> None:
        # id(char_wb vectorizer) -> {word: its n-grams' vocabulary indices}
        self._words: dict[int, dict[str, list[int]]] = {}

    def forget(self) -> None:
        """Drop every remembered word."""
        self._words.clear()

    def transform(self, vec: Any, docs: list[str]) -> sp.csr_matrix:
        """``vec.transform(docs)``; a vectorizer other than a plain TfidfVectorizer on
        text content goes through scikit-learn."""
        if type(vec) is not TfidfVectorizer or vec.input != "content" or callable(vec.analyzer):
            return vec.transform(docs)
        vocabulary = vec.vocabulary_
        indices: list[int] = []
        indptr = [0]
        if vec.analyzer == "char_wb":
            preprocess = vec.build_preprocessor()
            words = self._words.setdefault(id(vec), {})
            if len(words) > self.MAX_WORDS:
                words.clear()
            for doc in docs:
                text = vec._white_spaces.sub(" ", preprocess(vec.decode(doc)))
                for word in text.split():
                    found = words.get(word)
                    if found is None:
                        found = [
                            vocabulary[g] for g in vec._char_wb_ngrams(word) if g in vocabulary
                        ]
                        words[word] = found
                    indices.extend(found)
                indptr.append(len(indices))
        else:
            analyze = vec.build_analyzer()
            get = vocabulary.get
            for doc in docs:
                indices.extend([j for j in map(get, analyze(doc)) if j is not None])
                indptr.append(len(indices))
        index_dtype = np.int32 if len(indices) < np.iinfo(np.int32).max else np.int64
        X = sp.csr_matrix(
            (
                np.ones(len(indices), dtype=vec.dtype),
                np.asarray(indices, dtype=index_dtype),
                np.asarray(indptr, dtype=index_dtype),
            ),
            shape=(len(docs), len(vocabulary)),
        )
        X.sum_duplicates()  # counts, with sorted indices, as CountVectorizer gives
        if vec.binary:
            X.data.fill(1)
        return vec._tfidf.transform(X, copy=False)
