"""Hand-written keyword lists per theme: the baseline a trained model has to beat.

Used by the design comparison and the data card only; never saved or served.
"""

from __future__ import annotations

import re

import numpy as np

from engage.classify.text import normalise

# Word stems (matched at a word start, case-insensitive) written from docs/themes.md.
KEYWORDS: dict[str, tuple[str, ...]] = {
    "money": (
        "money",
        "fund",
        "budget",
        "allocation",
        "deficit",
        "saving",
        "cost",
        "financ",
        "spend",
        "cash",
        "invest",
        "afford",
        "value for money",
        "pooled",
        "£",
        "million",
        "overspend",
        "cuts to funding",
    ),
    "decision-making": (
        "decision",
        "decide",
        "governance",
        "accountab",
        "transparen",
        "consultation",
        "consult",
        "vote",
        "voting",
        "scrutiny",
        "democra",
        "constitution",
        "meetings in public",
        "in public",
        "listen",
        "local voice",
        "say in",
        "board",
        "engagement",
        "deadline",
        "extension",
        "oversight",
        "who will speak",
    ),
    "clinical-leadership": (
        "clinical lead",
        "clinical chair",
        "clinician",
        "clinical input",
        "clinical voice",
        "gp lead",
        "gps",
        "gp ",
        "doctor",
        "nurse",
        "medical",
        "clinically led",
        "primary care network",
        "pcn",
        "clinical director",
    ),
    "services": (
        "service",
        "hospital",
        "a&e",
        "a & e",
        "appointment",
        "waiting",
        "mental health",
        "maternity",
        "walk-in",
        "walk in",
        "ambulance",
        "care",
        "patient",
        "clinic",
        "closure",
        "close",
        "surgery",
        "treatment",
        "children's",
    ),
    "jobs": (
        "job",
        "staff",
        "redundan",
        "workforce",
        "recruit",
        "retention",
        "retain",
        "morale",
        "career",
        "training",
        "pay",
        "tupe",
        "agency",
        "employ",
        "post",
        "role",
        "union",
    ),
}


def _pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    alts = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?:(?<=\W)|^)(?:{alts})", re.IGNORECASE)


class KeywordBaseline:
    """Tag a theme when any of its keywords occurs in the sender's own words."""

    def __init__(self, themes: tuple[str, ...]) -> None:
        self.themes = themes
        self._patterns = [_pattern(KEYWORDS[t]) for t in themes]

    def fit(self, texts, Y=None) -> KeywordBaseline:  # noqa: ARG002 - nothing to learn
        return self

    def predict(self, texts) -> np.ndarray:
        """Return an (n, n_themes) 0/1 matrix."""
        cleaned = [normalise(t) for t in texts]
        return np.array(
            [[int(bool(p.search(t))) for p in self._patterns] for t in cleaned], dtype=int
        ).reshape(len(cleaned), len(self.themes))
