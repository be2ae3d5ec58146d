"""Compare the classifier designs and the keyword baseline; print markdown tables.

    python -m engage.classify.data.compare            # or: python engage/classify/data/compare.py
    python -m engage.classify.data.compare --json     # machine-readable results
    python -m engage.classify.data.compare --stats    # corpus statistics only
    python -m engage.classify.data.compare --real a=/path/set_a.csv --real b=/path/b.csv

The real-comment sets (``--real NAME=PATH``, CSV with ``text`` and ``themes``
columns) are kept outside the repository: they are public comments copied for
scoring, not ours to ship. Each is scored transiently with the holdout model, and
the figures, not the texts, go into docs/data-card.md.

Two numbers per candidate:
- CV: 5-fold MultilabelStratifiedKFold over the corpus parts. Each outer fold runs the
  full ``train()`` on its training part (inner CV picks the thresholds), so no fold's
  test items ever influence its thresholds.
- Holdout: ``train()`` on all parts, scored on holdout.csv (different voices, never
  trained on).
- Real: the same model scored on each real-comment set given with ``--real``. The
  design is chosen by the real sets together with CV, not by the holdout alone.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from iterstrat.ml_stratifiers import MultilabelStratifiedKFold

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from engage.classify.corpus import DATA_DIR, HOLDOUT_PATH, THEMES, default_corpus_paths, load_corpus  # noqa: E402
from engage.classify.keywords import KeywordBaseline  # noqa: E402
from engage.classify.model import ThemeModel  # noqa: E402
from engage.classify.text import normalise  # noqa: E402
from engage.classify.training import evaluate, scores, train  # noqa: E402

# (label, design, params): the designs at their defaults plus the tuning variants
# reported in docs/data-card.md.
CANDIDATES: list[tuple[str, str | None, dict[str, Any]]] = [
    ("keyword baseline", None, {}),
    ("lr_word_char", "lr_word_char", {}),
    ("lr_word_char + augment", "lr_word_char", {"augment": 1}),
    ("lr_word_char + lexicon", "lr_word_char", {"lexicon": 1.0}),
    ("lr_lexicon without contexts", "lr_lexicon", {"contexts": False}),
    ("lr_lexicon", "lr_lexicon", {}),
    ("lr_lexicon C=8", "lr_lexicon", {"C": 8.0}),
    ("lr_lexicon C=0.5", "lr_lexicon", {"C": 0.5}),
    ("svc_word_char", "svc_word_char", {}),
    ("svc_lexicon", "svc_lexicon", {}),
    ("sgd_word", "sgd_word", {}),
    ("nb_word", "nb_word", {}),
]


def _keyword_scores(texts: list[str], Y: np.ndarray) -> dict[str, Any]:
    return scores(Y, KeywordBaseline(THEMES).predict(texts))


def cross_validate(
    texts: list[str], Y: np.ndarray, design: str | None, params: dict[str, Any], folds: int = 5
) -> dict[str, Any]:
    """Pooled out-of-fold scores of train() (or the keyword baseline) over outer folds."""
    if design is None:
        return _keyword_scores(texts, Y)
    pred = np.zeros_like(Y)
    arr = np.asarray(texts, dtype=object)
    splitter = MultilabelStratifiedKFold(n_splits=folds, shuffle=True, random_state=42)
    for tr, te in splitter.split(arr, Y):
        model = train(list(arr[tr]), Y[tr], design=design, **params)
        pred[te] = model.decide(model.predict_proba(list(arr[te])))
    return scores(Y, pred)


def holdout(
    texts: list[str],
    Y: np.ndarray,
    ho_texts: list[str],
    ho_Y: np.ndarray,
    design: str | None,
    params: dict[str, Any],
) -> tuple[dict[str, Any], ThemeModel | None]:
    """Train on all of the corpus, score on the holdout."""
    if design is None:
        return _keyword_scores(ho_texts, ho_Y), None
    model = train(texts, Y, design=design, **params)
    return evaluate(model, ho_texts, ho_Y), model


def corpus_stats(texts: list[str], Y: np.ndarray) -> dict[str, Any]:
    """Counts per theme, multi-label and no-theme shares, duplicates, lengths."""
    n_labels = Y.sum(axis=1)
    cleaned = [normalise(t).lower() for t in texts]
    return {
        "n": len(texts),
        "per_theme": {t: int(c) for t, c in zip(THEMES, Y.sum(axis=0), strict=True)},
        "labels_per_item": {int(k): int(v) for k, v in sorted(Counter(n_labels).items())},
        "multi_label_share": round(float((n_labels > 1).mean()), 3),
        "no_theme_share": round(float((n_labels == 0).mean()), 3),
        "duplicate_texts": len(cleaned) - len(set(cleaned)),
        "median_chars": int(np.median([len(t) for t in texts])),
        "max_chars": max(len(t) for t in texts),
        "emails_with_quotes_or_signatures": sum(
            1 for t, c in zip(texts, cleaned, strict=True) if len(c) < 0.9 * len(t.strip())
        ),
    }


def _fmt(x: float) -> str:
    return f"{x:.3f}"


def markdown(results: list[dict[str, Any]], real_names: list[str] = ()) -> str:
    """A table per measure (CV, holdout, each real set, real sets pooled), a row per candidate."""
    lines = []
    tables = [("cv", "5-fold CV on the corpus parts"), ("holdout", "Holdout")]
    tables += [(f"real:{n}", f"Real comments: {n}") for n in real_names]
    if len(real_names) > 1:
        tables.append(("real:all", "Real comments: all sets together"))
    for key, title in tables:
        if not any(key in r for r in results):
            continue
        lines += [
            f"**{title}**",
            "",
            "| candidate | macro-F1 | micro-F1 | " + " | ".join(THEMES) + " |",
            "| --- | ---: | ---: | " + " | ".join("---:" for _ in THEMES) + " |",
        ]
        for r in results:
            if key not in r:
                continue
            s = r[key]
            per = " | ".join(_fmt(s["per_theme"][t]["f1"]) for t in THEMES)
            lines.append(
                f"| {r['label']} | {_fmt(s['macro_f1'])} | {_fmt(s['micro_f1'])} | {per} |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of markdown")
    parser.add_argument("--stats", action="store_true", help="corpus statistics only")
    parser.add_argument("--only", nargs="*", help="candidate labels to run")
    parser.add_argument(
        "--real",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="a labelled set of real comments (CSV text,themes) to score; repeatable",
    )
    parser.add_argument("--no-cv", action="store_true", help="skip the 5-fold CV (slow)")
    args = parser.parse_args(argv)
    real: dict[str, tuple[list[str], np.ndarray]] = {}
    for spec in args.real:
        name, _, path = spec.partition("=")
        if not path:
            parser.error(f"--real takes NAME=PATH, not {spec!r}")
        real[name] = load_corpus(path)
    if len(real) > 1:
        real["all"] = (
            [t for n in list(real) for t in real[n][0]],
            np.concatenate([real[n][1] for n in list(real)]),
        )

    parts = default_corpus_paths()
    if not parts:
        parser.error(f"no corpus parts in {DATA_DIR / 'corpus'}")
    texts, Y = load_corpus(parts)
    ho_texts, ho_Y = load_corpus(HOLDOUT_PATH)
    overlap = {normalise(t).lower() for t in texts} & {normalise(t).lower() for t in ho_texts}
    stats = {
        "parts": [p.name for p in parts],
        "corpus": corpus_stats(texts, Y),
        "holdout": corpus_stats(ho_texts, ho_Y),
        "holdout_texts_also_in_corpus": len(overlap),
    }
    if args.stats:
        print(json.dumps(stats, indent=2))
        return 0

    results = []
    for label, design, params in CANDIDATES:
        if args.only and label not in args.only:
            continue
        t0 = time.perf_counter()
        row: dict[str, Any] = {"label": label, "design": design, "params": params}
        if not args.no_cv:
            row["cv"] = cross_validate(texts, Y, design, params)
        row["holdout"], model = holdout(texts, Y, ho_texts, ho_Y, design, params)
        for name, (r_texts, r_Y) in real.items():
            row[f"real:{name}"] = (
                evaluate(model, r_texts, r_Y) if model else _keyword_scores(r_texts, r_Y)
            )
        row["thresholds"] = model.metadata["thresholds"] if model else None
        row["seconds"] = round(time.perf_counter() - t0, 1)
        results.append(row)
        summary = " ".join(
            f"{k} {v['macro_f1']:.3f}"
            for k, v in row.items()
            if isinstance(v, dict) and "macro_f1" in v
        )
        print(f"{label}: {summary}", file=sys.stderr)
    if args.json:
        print(json.dumps({"stats": stats, "results": results}, indent=2))
    else:
        print(markdown(results, [n for n in real if n != "all"]))
        for r in results:
            if r["thresholds"]:
                print(f"- {r['label']} thresholds: {r['thresholds']} ({r['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
