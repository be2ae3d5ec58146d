"""Suggested themes for an unclassified item, and the one percent scale staff read.

The item page's use of these (buttons, roles, CSRF) is in tests/staff/test_triage.py.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engage.classify import service
from engage.classify.corpus import THEMES
from engage.classify.models import ModelVersion
from engage.extensions import db
from engage.feedback.themes import percent, percent_text

MONEY = "The budget is cut again and the deficit grows: who pays for the savings?"


@pytest.mark.parametrize(
    ("probability", "shown"),
    [
        (0.814, 81),
        (0.815, 82),  # halves round up, not to the even number
        (0.8149999, 81),
        (0.005, 1),
        (0.0049, 0),
        (0.0, 0),
        (1.0, 100),
        (0.999, 100),
        (1.2, 100),  # out of range: clamped
        (-0.1, 0),
        (None, None),
        (float("nan"), None),
    ],
)
def test_percent_is_the_probability_rounded_to_a_whole_percent(probability, shown):
    assert percent(probability) == shown
    assert percent_text(probability) == ("" if shown is None else f"{shown}%")


def test_percent_is_the_same_from_a_float_or_the_text_sql_made_of_it():
    # The inbox reads confidences as text (15 significant digits on SQLite, shortest
    # exact on PostgreSQL); the item page and exports read floats. Same number always.
    for n in range(100_001):
        p = n / 100_000
        assert percent(float(f"{p:.15g}")) == percent(float(repr(p))) == percent(p)


def test_suggestions_are_the_likeliest_themes_by_the_active_model(trained):
    model, _ = service.load_active()
    proba = model.predict_proba([MONEY])[0]
    likeliest = sorted(zip(model.themes, proba, strict=True), key=lambda pair: -pair[1])
    got = service.suggest_themes(MONEY)
    assert 1 <= len(got) <= 2
    assert got[0][0] == "money" == likeliest[0][0]
    assert [slug for slug, _ in got] == [slug for slug, _ in likeliest[: len(got)]]
    assert all(slug in THEMES and p >= service.SUGGESTION_FLOOR for slug, p in got)
    assert [p for _, p in got] == sorted((p for _, p in got), reverse=True)
    assert got[0][1] == pytest.approx(float(likeliest[0][1]))
    assert len(service.suggest_themes(MONEY, n=1)) == 1
    assert service.suggest_themes(MONEY, n=0) == []


def test_suggestions_below_the_floor_are_not_offered(trained):
    everything = service.suggest_themes(MONEY, n=5, floor=0.0)
    assert len(everything) == 5
    floor = (everything[0][1] + everything[1][1]) / 2  # between the first two
    assert [slug for slug, _ in service.suggest_themes(MONEY, n=5, floor=floor)] == [
        everything[0][0]
    ]
    assert service.suggest_themes(MONEY, floor=1.01) == []


def test_no_suggestions_without_a_model(app, model_dir):
    assert service.suggest_themes(MONEY) == []


def test_no_suggestions_when_the_model_file_cannot_be_used(trained, model_dir):
    row = db.session.scalar(select(ModelVersion).where(ModelVersion.active.is_(True)))
    (model_dir / row.file_name).write_bytes(b"not a skops file")
    service._cache.clear()
    assert service.suggest_themes(MONEY) == []
