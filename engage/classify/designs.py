"""The model designs compared for the theme classifier, and the one chosen.

A design is a set of features (word n-grams, character n-grams, the theme lexicon)
and a one-vs-rest classifier; ``build_pipeline`` turns a design's name and any
parameter overrides into an unfitted scikit-learn Pipeline. docs/data-card.md gives
the comparison that chose ``BEST_DESIGN``. Texts are normalised outside the pipeline,
so that no custom callable ends up in a saved model. No Flask, no database.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.multiclass import OneVsRestClassifier
from sklearn.naive_bayes import ComplementNB
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from engage.classify.corpus import THEMES
from engage.classify.lexicon import LexiconFeatures, default_contexts, default_lexicon

__all__ = ["BEST_DESIGN", "DESIGNS", "build_pipeline"]

# Words: "a&e" stays one token; single letters are dropped as in sklearn's default.
_WORD_REGEX = r"(?u)\b\w[\w&]*\w\b|\b\w&\w\b"

# design -> default parameters; build_pipeline(design, **overrides). Every design takes
# "lexicon" (weight of the theme-lexicon features, 0 for none; see lexicon.py) and
# "augment" (wrapped copies of each training item; see augment.py; used by train())
# and "contexts" (with the lexicon, its two-sided sentence contexts; see lexicon.py).
_PLAIN = {"lexicon": 0.0, "augment": 0, "contexts": False}
_LEXICON = {
    "min_df": 2,
    "char": (2, 5),
    "lexicon": 1.0,
    "augment": 1,
    "contexts": True,
    "balanced": True,
}
DESIGNS: dict[str, dict[str, Any]] = {
    # (a) word 1-2 grams + char_wb 2-5 grams -> one-vs-rest logistic regression
    "lr_word_char": {"C": 8.0, "min_df": 2, "char": (2, 5), **_PLAIN},
    # (b) same features -> one-vs-rest sigmoid-calibrated linear SVM
    "svc_word_char": {"C": 0.5, "min_df": 2, "char": (2, 5), **_PLAIN},
    # (c) word 1-2 grams only -> one-vs-rest SGD logistic regression
    "sgd_word": {"alpha": 1e-4, "min_df": 2, "char": None, **_PLAIN},
    # (d) word 1-2 grams only -> one-vs-rest complement naive Bayes
    "nb_word": {"alpha": 0.3, "min_df": 1, "char": None, **_PLAIN},
    # (e) (a) plus the theme lexicon and its contexts, trained on items and their
    # wrapped copies, with a stronger penalty: chosen on real comments, not the corpus.
    # liblinear's stopping tolerance 1e-2 rather than its 1e-4 fits twice as fast and
    # moves no probability by more than 0.0002 on the real comments.
    "lr_lexicon": {"C": 2.0, **_LEXICON, "tol": 1e-2},
    # (f) (b) plus the theme lexicon, its contexts and wrapped copies
    "svc_lexicon": {"C": 0.3, **_LEXICON},
}
BEST_DESIGN = "lr_lexicon"


def build_pipeline(design: str = BEST_DESIGN, **params: Any) -> Pipeline:
    """Return an unfitted Pipeline(features -> clf) for *design*; params override defaults.

    Raises ValueError for an unknown design or parameter.
    """
    if design not in DESIGNS:
        raise ValueError(f"unknown design {design!r}; choose from {sorted(DESIGNS)}")
    unknown = set(params) - set(DESIGNS[design])
    if unknown:
        raise ValueError(f"unknown parameter(s) for {design}: {sorted(unknown)}")
    p = {**DESIGNS[design], **params}
    parts: list[tuple[str, Any]] = [
        (
            "word",
            TfidfVectorizer(
                ngram_range=(1, 2),
                sublinear_tf=True,
                min_df=p["min_df"],
                max_df=0.9,
                token_pattern=_WORD_REGEX,
                dtype=np.float32,
            ),
        )
    ]
    if p["char"]:
        parts.append(
            (
                "char",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=tuple(p["char"]),
                    sublinear_tf=True,
                    min_df=p["min_df"],
                    max_df=0.9,
                    dtype=np.float32,
                ),
            )
        )
    if p["lexicon"]:
        contexts = default_contexts() if p.get("contexts") else None
        lexicon = LexiconFeatures(default_lexicon(THEMES), float(p["lexicon"]), contexts)
        parts.append(("lexicon", lexicon))
    if design in ("lr_word_char", "lr_lexicon"):
        # The dual problem: the same model, about five times faster to fit when there
        # are far more n-gram features than texts, as here.
        base = LogisticRegression(
            C=p["C"],
            class_weight="balanced" if p.get("balanced", True) else None,
            solver="liblinear",
            dual=True,
            max_iter=1000,
            tol=p.get("tol", 1e-4),
        )
    elif design in ("svc_word_char", "svc_lexicon"):
        base = CalibratedClassifierCV(
            LinearSVC(C=p["C"], class_weight="balanced" if p.get("balanced", True) else None),
            method="sigmoid",
            cv=3,
            ensemble=False,
        )
    elif design == "sgd_word":
        base = SGDClassifier(
            loss="log_loss",
            alpha=p["alpha"],
            class_weight="balanced",
            max_iter=50,
            tol=None,
            random_state=0,
        )
    else:
        base = ComplementNB(alpha=p["alpha"])
    return Pipeline([("features", FeatureUnion(parts)), ("clf", OneVsRestClassifier(base))])
