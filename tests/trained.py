"""Fixtures for a small trained theme model (a pytest plugin, see tests/conftest.py).

``corpus`` is the hand-written test corpus as a CSV file; ``model_dir`` points the
app's ENGAGE_MODEL_DIR at a folder of the test's own; ``trained`` is the ModelVersion
row of a model trained on the corpus and activated, as `engage train` leaves it.
"""

from __future__ import annotations

import csv

import pytest

from engage.classify import service
from engage.extensions import db
from tests.classify.corpus import ITEMS


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "themes"])
        writer.writerows(ITEMS)
    return path


@pytest.fixture
def model_dir(app, tmp_path):
    previous = app.config["ENGAGE_MODEL_DIR"]
    app.config["ENGAGE_MODEL_DIR"] = str(tmp_path / "models")
    service._cache.clear()
    yield tmp_path / "models"
    app.config["ENGAGE_MODEL_DIR"] = previous
    service._cache.clear()


@pytest.fixture
def trained(app, model_dir, corpus):
    result = service.train_model(corpus=[corpus])
    db.session.commit()  # as `engage train` does
    return result
