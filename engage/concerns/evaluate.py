"""Score concern discovery on a labelled set: ``python -m engage.concerns.evaluate [FILE]``.

The file has columns ``theme,concern,text``. Each theme's texts are grouped as the
application groups them (``discovery.discover``, the number of concerns chosen by
silhouette) and compared with the concerns written down by a person:

- adjusted Rand index (ARI) per theme and its mean: 1 is the same grouping, 0 is chance;
- agreement: the share of items whose group's majority concern is their own concern
  (what a person checking "does this item belong with the others?" would accept);
- the same two at the true number of concerns, to separate the grouping from the choice
  of how many.

Prints one JSON object. With ``--seeds N`` each theme is grouped with N k-means seeds
(``discovery.SEED`` and the N - 1 after it) and the figures are the means over them, with
each seed's mean ARI in ``seeds`` (one seed's figure on 30 items moves by ±0.05).
"""

from __future__ import annotations

import csv
import json
import sys
import time
from collections import Counter, defaultdict
from importlib import resources

from sklearn.metrics import adjusted_rand_score

from engage.concerns import discovery


def load(path: str | None = None) -> dict[str, list[tuple[str, str]]]:
    """(concern, text) pairs by theme, in file order."""
    source = (
        open(path, encoding="utf-8", newline="")  # noqa: SIM115  (closed below)
        if path
        else resources.files("engage.concerns")
        .joinpath("data/evaluation.csv")
        .open(encoding="utf-8", newline="")
    )
    with source as handle:
        rows = list(csv.DictReader(handle))
    by_theme: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for row in rows:
        by_theme[row["theme"]].append((row["concern"], row["text"]))
    return dict(by_theme)


def agreement(gold: list[str], found: list[int]) -> float:
    """Share of items whose found group's most common concern is their own."""
    majority = {}
    for group in set(found):
        majority[group] = Counter(
            g for g, f in zip(gold, found, strict=True) if f == group
        ).most_common(1)[0][0]
    return sum(majority[f] == g for g, f in zip(gold, found, strict=True)) / len(gold)


def score(by_theme: dict[str, list[tuple[str, str]]], *, seed: int = discovery.SEED) -> dict:
    out: dict = {"n": 0, "themes": {}}
    for theme, pairs in by_theme.items():
        gold = [concern for concern, _ in pairs]
        entries = [discovery.Entry(i, text) for i, (_, text) in enumerate(pairs)]
        row: dict = {"n": len(pairs), "concerns": len(set(gold))}
        for name, k in (("chosen_k", None), ("true_k", len(set(gold)))):
            started = time.perf_counter()
            result = discovery.discover(entries, k=k, seed=seed)
            labels = [0] * len(pairs)
            for index, concern in enumerate(result.concerns):
                for key in concern.keys:
                    labels[key] = index
            row[name] = {
                "k": result.k,
                "ari": round(adjusted_rand_score(gold, labels), 3),
                "agreement": round(agreement(gold, labels), 3),
                "seconds": round(time.perf_counter() - started, 3),
                "labels": [c.label for c in result.concerns],
            }
        out["themes"][theme] = row
        out["n"] += len(pairs)
    for name in ("chosen_k", "true_k"):
        for metric in ("ari", "agreement"):
            values = [t[name][metric] for t in out["themes"].values()]
            out[f"{name}_{metric}_mean"] = round(sum(values) / len(values), 3)
    return out


def score_seeds(by_theme: dict[str, list[tuple[str, str]]], seeds: int) -> dict:
    """``score`` with each of ``seeds`` k-means seeds; per theme and overall, the means."""
    runs = [score(by_theme, seed=discovery.SEED + i) for i in range(seeds)]
    out: dict = {"n": runs[0]["n"], "seeds": seeds, "themes": {}}
    for theme in runs[0]["themes"]:
        out["themes"][theme] = {
            name: {
                metric: round(sum(r["themes"][theme][name][metric] for r in runs) / seeds, 3)
                for metric in ("ari", "agreement", "k")
            }
            for name in ("chosen_k", "true_k")
        }
    for key in [k for k in runs[0] if k.endswith("_mean")]:
        out[key] = round(sum(r[key] for r in runs) / seeds, 3)
    out["per_seed_chosen_k_ari_mean"] = [r["chosen_k_ari_mean"] for r in runs]
    return out


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    seeds = 1
    if "--seeds" in argv:
        at = argv.index("--seeds")
        seeds = int(argv[at + 1])
        del argv[at : at + 2]
    discovery.space()
    by_theme = load(argv[0] if argv else None)
    result = score(by_theme) if seeds == 1 else score_seeds(by_theme, seeds)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
