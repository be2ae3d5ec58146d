"""The seed corpus: the five themes, the labelled CSV files and their fingerprint.

A corpus file has the columns ``text`` and ``themes`` (theme slugs separated by ``;``,
empty for none); docs/data-card.md describes the shipped one. No Flask, no database.
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "DATA_DIR",
    "HOLDOUT_PATH",
    "THEMES",
    "default_corpus_paths",
    "load_corpus",
    "training_hash",
]

THEMES: tuple[str, ...] = ("money", "decision-making", "clinical-leadership", "services", "jobs")

DATA_DIR = Path(__file__).parent / "data"
HOLDOUT_PATH = DATA_DIR / "holdout.csv"  # evaluation only: never train on it


def load_corpus(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
) -> tuple[list[str], np.ndarray]:
    """Read ``text,themes`` CSVs; return texts and an (n, 5) 0/1 label matrix.

    Raises ValueError naming the file and row for a missing column, an empty text
    or a theme slug that is not in THEMES.
    """
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    texts: list[str] = []
    rows: list[list[int]] = []
    for path in paths:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            missing = {"text", "themes"} - set(reader.fieldnames or ())
            if missing:
                raise ValueError(f"{path}: missing column(s) {sorted(missing)}")
            for i, rec in enumerate(reader, start=1):
                where = f"{path}: row {i} (line {reader.line_num})"
                text = (rec["text"] or "").strip()
                if not text:
                    raise ValueError(f"{where}: empty text")
                texts.append(text)
                rows.append(_parse_themes(rec["themes"] or "", where))
    return texts, np.array(rows, dtype=np.int64).reshape(len(texts), len(THEMES))


def _parse_themes(field: str, where: str) -> list[int]:
    slugs = {s.strip() for s in field.split(";") if s.strip()}
    unknown = sorted(slugs - set(THEMES))
    if unknown:
        raise ValueError(f"{where}: unknown theme(s) {unknown}; expected {list(THEMES)}")
    return [int(t in slugs) for t in THEMES]


def default_corpus_paths() -> list[Path]:
    """The seed corpus parts shipped with the package (data/corpus/part_*.csv), sorted."""
    return sorted((DATA_DIR / "corpus").glob("part_*.csv"))


def training_hash(texts: Sequence[str], Y: np.ndarray) -> str:
    """sha256 of the (text, labels) pairs, independent of their order."""
    lines = sorted(
        f"{t}\x1f{';'.join(s for s, v in zip(THEMES, row, strict=True) if v)}"
        for t, row in zip(texts, np.asarray(Y), strict=True)
    )
    return hashlib.sha256("\x1e".join(lines).encode("utf-8")).hexdigest()
