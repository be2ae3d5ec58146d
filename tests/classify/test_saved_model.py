"""A model file saved by an earlier version of the code still loads and predicts the same.

tests/data/models/pre-split-lr_lexicon.skops.gz was saved (then gzipped to keep the
repository small) by the classifier as it stood before engage/classify/pipeline.py was
split into corpus, designs, model, training and vectorise: the lr_lexicon design
trained on the test corpus with 3 folds. The .json beside it holds what that code
predicted and explained for four texts. A skops file names the module of every class
it holds, so moving a saved class would break every model already on disk; this test
fails if that happens.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from engage.classify import storage
from engage.classify.model import load

DATA = Path(__file__).parents[1] / "data" / "models"


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("saved") / "pre-split-lr_lexicon.skops"
    with gzip.open(DATA / "pre-split-lr_lexicon.skops.gz", "rb") as src, path.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    return path


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads((DATA / "pre-split-lr_lexicon.json").read_text(encoding="utf-8"))


def test_pre_split_file_names_only_allowed_types(saved):
    present = storage.types_in(saved)
    assert "engage.classify.lexicon.LexiconFeatures" in present
    assert present <= storage.ALLOWED_TYPES


def test_pre_split_model_loads_and_predicts_as_it_did(saved, expected):
    model = load(saved)
    # Since the file was saved the speller learnt to leave real English words alone
    # ("decides" in the third text); what it predicted then is read with that off.
    model.speller.english = {}
    model.speller._cache.clear()
    assert model.version == expected["version"]
    assert model.thresholds.tolist() == expected["thresholds"]
    proba = model.predict_proba(expected["texts"])
    np.testing.assert_allclose(proba, np.array(expected["proba"]), rtol=1e-9, atol=1e-12)
    got = [[[t, p] for t, p in row] for row in model.predict(expected["texts"])]
    assert [[t for t, _ in row] for row in got] == [
        [t for t, _ in row] for row in expected["predict"]
    ]
    explained = model.explain(expected["texts"][0], "money")
    assert [w for w, _ in explained] == [w for w, _ in expected["explain"]]
    np.testing.assert_allclose(
        [s for _, s in explained], [s for _, s in expected["explain"]], rtol=1e-9
    )
