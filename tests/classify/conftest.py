"""The shipped model, trained once per test session (and kept between runs on one machine)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

import engage.classify
from engage.classify.corpus import default_corpus_paths, load_corpus, training_hash
from engage.classify.model import ThemeModel, load, save
from engage.classify.training import train

_CODE = [
    Path(engage.classify.__file__).parent / name
    for name in (
        "corpus.py",
        "designs.py",
        "training.py",
        "model.py",
        "lexicon.py",
        "augment.py",
        "text.py",
        "letter.py",
        "openings.py",
        "data/openings.csv",
    )
]


@pytest.fixture(scope="session")
def shipped_model(request, tmp_path_factory) -> ThemeModel:
    """What `engage train` makes from the shipped corpus with the default design.

    Cached in pytest's cache folder under a key made of the corpus and the code that
    trains, so a change to either trains again; CI starts from a clean clone and trains.
    """
    texts, Y = load_corpus(default_corpus_paths())
    key = hashlib.sha256(training_hash(texts, Y).encode())
    for path in _CODE:
        key.update(path.read_bytes())
    cache = getattr(request.config, "cache", None)  # None under -p no:cacheprovider
    if cache is not None:
        folder = Path(cache.mkdir("engage-shipped-model"))
    else:
        folder = tmp_path_factory.mktemp("engage-shipped-model")
    path = folder / f"{key.hexdigest()[:24]}.skops"
    if path.exists():
        return load(path)
    for old in folder.glob("*.skops"):
        old.unlink()
    model = train(texts, Y)
    save(model, path)
    return model
