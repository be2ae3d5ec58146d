"""engage.unit_of_work: a request commits once after its view; a job with transaction()."""

from __future__ import annotations

import pytest
from flask import Response
from sqlalchemy import insert, select, text

from engage import unit_of_work
from engage.extensions import db
from engage.feedback.models import Theme


def _stored(slug: str) -> bool:
    """Whether a theme is committed, read on a connection of its own."""
    with db.engine.connect() as conn:
        found = conn.execute(text("SELECT 1 FROM theme WHERE slug = :slug"), {"slug": slug})
        return found.first() is not None


def _answer(app, status: int) -> None:
    """Run the app's after-request steps on an answer with this status."""
    app.process_response(Response("answer", status=status))


def test_a_request_that_wrote_commits_after_its_view_answered(app):
    with app.test_request_context("/staff/anything", method="POST"):
        db.session.add(Theme(slug="kept", name="Kept", position=90))
        db.session.flush()  # what a service does: no commit
        assert not _stored("kept")
        _answer(app, 302)
        assert _stored("kept")


@pytest.mark.parametrize("status", [400, 404, 422, 500])
def test_an_error_answer_commits_nothing(app, status):
    with app.test_request_context("/staff/anything", method="POST"):
        db.session.add(Theme(slug="dropped", name="Dropped", position=91))
        db.session.flush()
        _answer(app, status)
        db.session.rollback()  # what removing the session at the end does
    assert not _stored("dropped")


def test_a_core_insert_counts_as_a_write(app):
    with app.test_request_context("/staff/anything", method="POST"):
        assert not unit_of_work.wrote()
        db.session.execute(
            insert(Theme), {"slug": "core", "name": "Core", "position": 92, "active": True}
        )
        assert unit_of_work.wrote()
        _answer(app, 200)
        assert _stored("core")
        assert not unit_of_work.wrote()  # the commit ended the transaction


def test_a_request_that_only_read_does_not_commit(app, monkeypatch):
    commits = []
    monkeypatch.setattr(db.session, "commit", lambda: commits.append(1))
    with app.test_request_context("/you-said-we-did"):
        db.session.scalars(select(Theme)).all()
        db.session.execute(text("SELECT count(*) FROM theme")).scalar()
        assert not unit_of_work.wrote()
        _answer(app, 200)
    assert commits == []


def test_transaction_commits_a_job_and_rolls_back_a_failed_one(app):
    with unit_of_work.transaction():
        db.session.add(Theme(slug="job", name="Job", position=93))
    assert _stored("job")
    with pytest.raises(RuntimeError), unit_of_work.transaction():
        db.session.add(Theme(slug="failed-job", name="Failed job", position=94))
        db.session.flush()
        raise RuntimeError("the job failed")
    assert not _stored("failed-job")
    assert db.session.scalar(select(Theme).where(Theme.slug == "failed-job")) is None
