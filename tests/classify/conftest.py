"""The shipped model, trained once per test session (and kept between runs on one machine)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from engage.classify import pipeline as P

_CODE = [
    Path(P.__file__).parent / name
    for name in ("pipeline.py", "lexicon.py", "augment.py", "text.py")
]


@pytest.fixture(scope="session")
def shipped_model(request, tmp_path_factory) -> P.ThemeModel:
    """What `engage train` makes from the shipped corpus with the default design.

    Cached in pytest's cache folder under a key made of the corpus and the code that
    trains, so a change to either trains again; CI starts from a clean clone and trains.
    """
    texts, Y = P.load_corpus(P.default_corpus_paths())
    key = hashlib.sha256(P.training_hash(texts, Y).encode())
    for path in _CODE:
        key.update(path.read_bytes())
    cache = getattr(request.config, "cache", None)  # None under -p no:cacheprovider
    if cache is not None:
        folder = Path(cache.mkdir("engage-shipped-model"))
    else:
        folder = tmp_path_factory.mktemp("engage-shipped-model")
    path = folder / f"{key.hexdigest()[:24]}.skops"
    if path.exists():
        return P.load(path)
    for old in folder.glob("*.skops"):
        old.unlink()
    model = P.train(texts, Y)
    P.save(model, path)
    return model
