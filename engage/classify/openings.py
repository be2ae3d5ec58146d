"""Opening paragraphs that only introduce the writer, learnt from examples.

Group and official responses often start with a paragraph about who is writing ("I am
clerk to Ashcombe Town Council and write following our meeting of 14 May", "This
comes from the carers' group at the library; we talked it through over coffee").
Such a paragraph raises nothing, but its words (council, meeting, members, carers,
engagement) are the words of the themes, and on round 19's outside openings they
changed the theme set of 9-23% of the items they were put above (docs/data-card.md,
"Round 19"). letter.py's rules catch the shapes they were written from and little
else: an opening is said in as many ways as there are writers.

So the model also learns what an introduction looks like. ``build_detector`` is a
small logistic regression on word and character n-grams (training.fit_opening_detector
fits it with the theme model): positives are the opening
paragraphs in ``data/openings.csv``, written for the project by people who saw none of
the code (residents, carers, groups, councils, unions; see the data card), and
negatives are the short paragraphs of the training texts themselves, which say
something. ThemeModel.read drops a message's first paragraph that speaks of its writer
or the message when the detector gives it at least ``OPENING_CUT`` and another
paragraph is left. The detector is fitted with
the theme model, saved in its file and versioned with it; a model without one (saved
before round 19) reads as it always did.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from engage.classify.corpus import DATA_DIR

__all__ = [
    "END_PARAGRAPH_WORDS",
    "OPENINGS_PATH",
    "PARAGRAPH_BREAK",
    "OPENING_CUT",
    "build_detector",
    "detector_examples",
    "load_openings",
]

OPENINGS_PATH = DATA_DIR / "openings.csv"
# A first paragraph the detector gives this much is an introduction. At 0.7 the
# detector fitted on three outside sets caught 78% of a fourth set's openings and none
# of 969 real comments' first paragraphs or 138 holdout items (0.5: 87%, 2 and 0).
OPENING_CUT = 0.7
MIN_WORDS = 4  # shorter paragraphs ("Hi all,") are letter.py's greetings
# What ThemeModel.read takes for a paragraph, and the longest it judges on its own (a
# longer one is the body of a message); the detector learns from the same paragraphs.
END_PARAGRAPH_WORDS = 60
PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def load_openings(path: str | Path = OPENINGS_PATH) -> list[str]:
    """The opening paragraphs in *path* (a CSV with a ``text`` column), in file order."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return [row["text"].strip() for row in csv.DictReader(fh) if (row["text"] or "").strip()]


def short_paragraphs(texts: Iterable[str]) -> list[str]:
    """The distinct paragraphs of MIN_WORDS to END_PARAGRAPH_WORDS words in *texts*, in
    order."""
    seen: dict[str, None] = {}
    for text in texts:
        for paragraph in PARAGRAPH_BREAK.split(text):
            paragraph = paragraph.strip()
            if MIN_WORDS <= len(paragraph.split()) <= END_PARAGRAPH_WORDS:
                seen.setdefault(paragraph, None)
    return list(seen)


def detector_examples(
    texts: Sequence[str], openings: Sequence[str]
) -> tuple[list[str], np.ndarray]:
    """The detector's training texts and 0/1 labels: *openings* (1) against the short
    paragraphs of *texts* (0), both as the model reads them, normalised. Empty when
    either side is."""
    positives = list(dict.fromkeys(o for o in openings if o.strip()))
    known = set(positives)
    negatives = [p for p in short_paragraphs(texts) if p not in known]
    if not positives or not negatives:
        return [], np.zeros(0, dtype=np.int64)
    y = np.r_[np.ones(len(positives), dtype=np.int64), np.zeros(len(negatives), dtype=np.int64)]
    return positives + negatives, y


def build_detector() -> Pipeline:
    """An unfitted opening detector: word and character n-grams, logistic regression."""
    features = FeatureUnion(
        [
            ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2)),
            (
                "char",
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2
                ),
            ),
        ]
    )
    return Pipeline(
        [
            ("features", features),
            ("clf", LogisticRegression(C=4.0, class_weight="balanced", max_iter=2000)),
        ]
    )
