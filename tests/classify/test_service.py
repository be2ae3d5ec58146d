"""The classifier inside the app: registry, activation, tagging on submit, the sweep."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sqlalchemy import select

from engage import caching
from engage.classify import corpus as seed
from engage.classify import service
from engage.classify.models import ModelVersion
from engage.cli import cli
from engage.extensions import db
from engage.feedback.models import Channel, FeedbackItem, TagSource, Theme, ThemeTag
from engage.feedback.service import Submission, submit
from engage.feedback.themes import percent
from tests.classify.corpus import ITEMS


def web(text: str) -> FeedbackItem:
    return submit(Submission(text=text, channel=Channel.WEB))


def test_first_model_is_stored_and_activated(trained, model_dir):
    assert trained.activated and trained.reason == "no model was active"
    row = db.session.scalar(select(ModelVersion))
    assert row.active and row.version == trained.version
    assert (model_dir / row.file_name).exists()
    assert set(row.thresholds) == set(seed.THEMES)
    assert 0 <= row.cv_metrics["macro_f1"] <= 1


def test_submit_tags_new_items(trained):
    item = web("How will the budget be shared fairly between the boroughs? Money is tight.")
    tags = [t for t in item.tags if t.source == TagSource.MODEL]
    assert item.classified_at is not None and item.model_version == trained.version
    assert "money" in {t.theme.slug for t in tags}
    assert all(0 <= t.confidence <= 1 and t.model_version == trained.version for t in tags)
    assert item.certainty is not None


def test_without_a_model_items_wait_for_the_worker(app, model_dir, corpus):
    item = web("Who decides for Harrow when there is one body for eight boroughs?")
    assert item.classified_at is None and item.tags == []
    service.train_model(corpus=[corpus])
    assert service.classify_pending() == 1
    db.session.refresh(item)
    assert item.classified_at is not None
    assert service.classify_pending() == 0


def test_corrupt_model_file_keeps_items_unclassified(trained, model_dir):
    row = db.session.scalar(select(ModelVersion))
    (model_dir / row.file_name).write_bytes(b"this is not a skops file")
    service._cache.clear()
    item = web("The new body will cut GP appointments in Ealing.")
    assert db.session.get(FeedbackItem, item.id).classified_at is None
    with pytest.raises(service.NoModelError):
        service.load_active()
    assert service.classify_pending() == 0
    assert db.session.get(FeedbackItem, item.id).classified_at is None


def test_worse_model_not_activated_unless_forced(trained, corpus, monkeypatch):
    first = db.session.scalar(select(ModelVersion))
    first.holdout_metrics = {"macro_f1": 0.99}
    first.cv_metrics = {**first.cv_metrics, "macro_f1": 0.99}
    db.session.commit()
    monkeypatch.setattr(seed, "HOLDOUT_PATH", corpus.parent / "missing.csv")
    second = service.train_model(corpus=[corpus])
    assert not second.activated and "worse" in second.reason
    assert service.active_version().version == first.version
    forced = service.train_model(corpus=[corpus], force=True)
    assert forced.activated and service.active_version().version == forced.version


def test_rollback_to_earlier_version(trained, corpus):
    second = service.train_model(corpus=[corpus], force=True)
    assert service.active_version().version == second.version
    service.activate(trained.version)
    assert service.active_version().version == trained.version
    with pytest.raises(LookupError):
        service.activate("v99-nothing")


def test_staff_corrections_change_the_next_model(trained, corpus):
    pattern = "The bins in Pinner are collected every fortnight now."
    first = web(pattern)
    assert "jobs" not in {t.theme.slug for t in first.tags}
    # Staff insist that this pattern is about jobs (a deliberately odd label).
    jobs = db.session.scalar(select(Theme).where(Theme.slug == "jobs"))
    for n in range(12):
        item = web(f"{pattern} Number {n}.")
        db.session.add(ThemeTag(item=item, theme=jobs, source=TagSource.STAFF))
    db.session.commit()
    texts, labels = service.staff_labels()
    assert len(texts) == 12 and labels[:, seed.THEMES.index("jobs")].sum() == 12
    result = service.train_model(corpus=[corpus], force=True)
    assert result.n_staff_labels == 12
    again = web(pattern)
    assert "jobs" in {t.theme.slug for t in again.tags}


def test_cli_percent_and_probability_agree_at_a_rounding_edge(app, trained, monkeypatch):
    # 0.97497 is 97% on the one scale; printed to four places it would read 0.975 (98%).
    model, _row = service.load_active()
    edge = np.array([[0.97497, 0.1, 0.1, 0.1, 0.1]])
    monkeypatch.setattr(type(model), "predict_proba", lambda self, texts: edge)
    text = "The deficit means cuts to the budget"
    out = app.test_cli_runner().invoke(cli, ["classify", text, "--json"])
    data = json.loads(out.output)
    money = next(t for t in data["themes"] if t["theme"] == "money")
    assert money["percent"] == 97
    assert percent(money["confidence"]) == percent(data["probabilities"]["money"]) == 97


def test_cli_classify_and_evaluate_json(app, trained, corpus):
    runner = app.test_cli_runner()
    out = runner.invoke(cli, ["classify", "The deficit means cuts to the budget", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert set(data) == {
        "themes",
        "unclassified",
        "probabilities",
        "model_version",
        "language",  # issue 24
        "needs_translation",
    }
    assert data["language"] == "en" and data["needs_translation"] is False
    assert data["model_version"] == trained.version
    for theme in data["themes"]:
        assert theme["percent"] == percent(theme["confidence"])
        assert theme["percent"] == percent(data["probabilities"][theme["theme"]])
    text = runner.invoke(cli, ["classify", "The deficit means cuts to the budget"])
    for theme in data["themes"]:  # the text output is on the same percent scale
        assert f"{theme['theme']}\t{theme['percent']}%" in text.output
    for text in ("zzz", "hello", "The deficit means cuts to the budget"):
        data = json.loads(runner.invoke(cli, ["classify", text, "--json"]).output)
        out = runner.invoke(cli, ["classify", text])
        assert out.exit_code == 0
        if data["unclassified"]:  # the two likeliest, on the same percent scale
            top = sorted(data["probabilities"].items(), key=lambda sp: -sp[1])[:2]
            assert ", ".join(f"{s} {percent(p)}%" for s, p in top) in out.output
        else:
            assert "likeliest" not in out.output
    out = runner.invoke(cli, ["evaluate", str(corpus), "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert set(data) == {"n", "macro_f1", "micro_f1", "per_theme", "model_version"}
    assert data["n"] == len(ITEMS) and data["model_version"] == trained.version
    assert set(data["per_theme"]) == set(seed.THEMES)
    assert set(data["per_theme"]["money"]) == {"precision", "recall", "f1", "support"}


def test_cli_evaluate_bad_file_is_a_clear_error(app, trained, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("text,themes\nhello there,not-a-theme\n")
    out = app.test_cli_runner().invoke(cli, ["evaluate", str(bad)])
    assert out.exit_code != 0 and "not-a-theme" in out.output


def test_train_if_missing_only_once(app, model_dir, corpus, monkeypatch):
    monkeypatch.setattr(seed, "default_corpus_paths", lambda: [corpus])
    runner = app.test_cli_runner()
    first = json.loads(runner.invoke(cli, ["train", "--if-missing", "--json"]).output)
    assert first["activated"] is True
    second = json.loads(runner.invoke(cli, ["train", "--if-missing", "--json"]).output)
    assert second["activated"] is False and second["version"] == first["version"]


def test_train_without_any_data(app, model_dir, monkeypatch):
    monkeypatch.setattr(seed, "default_corpus_paths", lambda: [])
    runner = app.test_cli_runner()
    strict = runner.invoke(cli, ["train"])
    assert strict.exit_code != 0 and "No seed corpus" in strict.output
    lenient = runner.invoke(cli, ["train", "--if-missing"])
    assert lenient.exit_code == 0 and "no model trained" in lenient.output
    assert service.active_version() is None


def test_the_active_model_is_loaded_once_into_its_named_cache(trained):
    service._cache.clear()
    model, row = service.load_active()
    again, _ = service.load_active()
    assert again is model
    cache = caching.registered()["classify_model"]
    assert cache is service._cache and cache.seconds is None and len(cache) == 1
    assert cache.get(f"{service.model_dir()}/{row.file_name}") is model
