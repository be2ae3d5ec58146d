"""Benchmark the theme classifier; print one JSON object.

    python bench/bench_classify.py [--design DESIGN]

Measures: median milliseconds to classify one item (500 calls), batch items/s on
5,000 texts, both again with the language detection the classification job runs first
(engage.languages.detect, issue 24), seconds to train (CV thresholds + final fit) on
5,000 items (the corpus resampled with replacement), and the CPU count. Targets:
< 5 ms, > 2,000/s, < 60 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engage.classify.corpus import THEMES, default_corpus_paths, load_corpus  # noqa: E402
from engage.classify.designs import BEST_DESIGN, DESIGNS  # noqa: E402
from engage.classify.training import train  # noqa: E402
from engage.languages import detect  # noqa: E402

N_SINGLE = 500
N_BATCH = 5_000


def _corpus() -> tuple[list[str], np.ndarray, str]:
    parts = default_corpus_paths()
    if parts:
        texts, Y = load_corpus(parts)
        return texts, Y, "corpus parts"
    from tests.classify.corpus import ITEMS  # a fresh checkout without the corpus

    texts = [t for t, _ in ITEMS]
    Y = np.array([[int(s in lab.split(";")) for s in THEMES] for _, lab in ITEMS])
    return texts, Y, "test corpus"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--design", default=BEST_DESIGN, choices=sorted(DESIGNS))
    args = parser.parse_args(argv)

    texts, Y, source = _corpus()
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(texts), size=N_BATCH)
    big_texts, big_Y = [texts[i] for i in idx], Y[idx]

    t0 = time.perf_counter()
    model = train(big_texts, big_Y, design=args.design)
    train_seconds = time.perf_counter() - t0

    model.predict(texts[:5])  # warm-up
    single = []
    for i in range(N_SINGLE):
        text = texts[i % len(texts)]
        t = time.perf_counter()
        model.predict([text])
        single.append((time.perf_counter() - t) * 1000)

    t = time.perf_counter()
    model.predict(big_texts)
    batch_seconds = time.perf_counter() - t

    # Issue 24: the job detects each item's language before the model reads it.
    detect.detect(texts[0])  # loads the detector's model once
    single_lang = []
    for i in range(N_SINGLE):
        text = texts[i % len(texts)]
        t = time.perf_counter()
        if detect.detect(text) == detect.ENGLISH:
            model.predict([text])
        single_lang.append((time.perf_counter() - t) * 1000)
    t = time.perf_counter()
    english = [text for text in big_texts if detect.detect(text) == detect.ENGLISH]
    model.predict(english)
    batch_lang_seconds = time.perf_counter() - t

    print(
        json.dumps(
            {
                "design": args.design,
                "corpus": source,
                "corpus_items": len(texts),
                "single_median_ms": round(statistics.median(single), 3),
                "single_p95_ms": round(float(np.percentile(single, 95)), 3),
                "batch_items_per_s": round(N_BATCH / batch_seconds, 1),
                "with_language_single_median_ms": round(statistics.median(single_lang), 3),
                "with_language_batch_items_per_s": round(N_BATCH / batch_lang_seconds, 1),
                "detected_english": len(english),
                "train_items": N_BATCH,
                "train_seconds": round(train_seconds, 2),
                "cpu_count": os.cpu_count(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
