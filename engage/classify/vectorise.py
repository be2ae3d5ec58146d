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

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfTransformer, TfidfVectorizer

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

    def fit_transform(self, vec: Any, docs: list[str]) -> sp.csr_matrix:
        """``vec.fit_transform(docs)``: the same vocabulary, idf and matrix, sooner for a
        plain TfidfVectorizer of words or of characters (char_wb); any other goes
        through scikit-learn.

        scikit-learn analyses every document afresh; here each distinct document is
        analysed once (training texts and their wrapped copies are mostly the same text
        once normalised), and for char_wb each distinct word is cut once; the counts
        are then built over every n-gram seen, pruned by min_df/max_df over all the
        documents, duplicates included, and put in term order as CountVectorizer does.
        """
        if not _plain(vec) or vec.vocabulary is not None or vec.max_features:
            return vec.fit_transform(docs)
        vec._validate_ngram_range()
        vec._warn_for_unused_params()
        vec._validate_vocabulary()
        vec._check_params()
        vec._tfidf = TfidfTransformer(
            norm=vec.norm,
            use_idf=vec.use_idf,
            smooth_idf=vec.smooth_idf,
            sublinear_tf=vec.sublinear_tf,
        )
        rows: dict[str, int] = {}  # each distinct document -> its row among them
        inverse = np.fromiter(
            (rows.setdefault(doc, len(rows)) for doc in docs), dtype=np.int64, count=len(docs)
        )
        distinct = list(rows)
        seen: dict[str, int] = {}  # every n-gram met -> a provisional column

        def columns_of(grams: list[str]) -> list[int]:
            return [seen.setdefault(g, len(seen)) for g in grams]

        if vec.analyzer == "char_wb":
            indices, indptr = _per_word(vec, distinct, {}, columns_of)
        else:
            indices, indptr = [], [0]
            analyze = vec.build_analyzer()
            for doc in distinct:
                indices.extend(columns_of(analyze(doc)))
                indptr.append(len(indices))
        X = _counts(vec, indices, indptr, len(distinct), len(seen))[inverse]
        n_doc = len(docs)
        high = vec.max_df if isinstance(vec.max_df, int) else vec.max_df * n_doc
        low = vec.min_df if isinstance(vec.min_df, int) else vec.min_df * n_doc
        if high < low:
            raise ValueError("max_df corresponds to < documents than min_df")
        df = np.bincount(X.indices, minlength=X.shape[1])
        keep = (df <= high) & (df >= low)
        terms = sorted(t for t, j in seen.items() if keep[j])
        if not terms:
            raise ValueError("After pruning, no terms remain: lower min_df or raise max_df.")
        X = X[:, np.fromiter((seen[t] for t in terms), dtype=np.int64, count=len(terms))]
        X.sort_indices()
        vec.vocabulary_ = {t: i for i, t in enumerate(terms)}
        vec._tfidf.fit(X)
        return vec._tfidf.transform(X, copy=False)

    def transform(self, vec: Any, docs: list[str]) -> sp.csr_matrix:
        """``vec.transform(docs)``; a vectorizer other than a plain TfidfVectorizer on
        text content goes through scikit-learn."""
        if type(vec) is not TfidfVectorizer or vec.input != "content" or callable(vec.analyzer):
            return vec.transform(docs)
        vocabulary = vec.vocabulary_
        if vec.analyzer == "char_wb":
            words = self._words.setdefault(id(vec), {})
            if len(words) > self.MAX_WORDS:
                words.clear()
            indices, indptr = _per_word(
                vec, docs, words, lambda grams: [vocabulary[g] for g in grams if g in vocabulary]
            )
        else:
            indices, indptr = [], [0]
            analyze = vec.build_analyzer()
            get = vocabulary.get
            for doc in docs:
                indices.extend([j for j in map(get, analyze(doc)) if j is not None])
                indptr.append(len(indices))
        X = _counts(vec, indices, indptr, len(docs), len(vocabulary))
        return vec._tfidf.transform(X, copy=False)


def _plain(vec: Any) -> bool:
    """A TfidfVectorizer of text content whose analyzer is scikit-learn's "word" or
    "char_wb" (no callable analyzer, no files)."""
    return (
        type(vec) is TfidfVectorizer
        and vec.input == "content"
        and vec.analyzer in ("word", "char_wb")
    )


def _per_word(
    vec: Any,
    docs: list[str],
    memory: dict[str, list[int]],
    columns_of: Callable[[list[str]], list[int]],
) -> tuple[list[int], list[int]]:
    """CSR indices and indptr of a char_wb vectorizer's n-grams in *docs*, each distinct
    word cut once: *memory* maps a word to its columns, *columns_of* gives the columns of
    a new word's n-grams (char_wb n-grams never cross a word boundary)."""
    preprocess = vec.build_preprocessor()
    indices: list[int] = []
    indptr = [0]
    for doc in docs:
        text = vec._white_spaces.sub(" ", preprocess(vec.decode(doc)))
        for word in text.split():
            found = memory.get(word)
            if found is None:
                found = memory[word] = columns_of(vec._char_wb_ngrams(word))
            indices.extend(found)
        indptr.append(len(indices))
    return indices, indptr


def _counts(vec: Any, indices: list[int], indptr: list[int], rows: int, cols: int) -> Any:
    """The count matrix of one column index per n-gram occurrence, as CountVectorizer's."""
    index_dtype = np.int32 if len(indices) < np.iinfo(np.int32).max else np.int64
    X = sp.csr_matrix(
        (
            np.ones(len(indices), dtype=vec.dtype),
            np.asarray(indices, dtype=index_dtype),
            np.asarray(indptr, dtype=index_dtype),
        ),
        shape=(rows, cols),
    )
    X.sum_duplicates()  # counts, with sorted indices, as CountVectorizer gives
    if vec.binary:
        X.data.fill(1)
    return X
