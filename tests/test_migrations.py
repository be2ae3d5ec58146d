"""Alembic migrations build the schema the models describe, both ways."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from engage import create_app
from engage.extensions import db
from engage.feedback import search
from tests.databases import fresh_database


@pytest.fixture
def empty_database_url(tmp_path):
    """A brand-new empty database of the kind the suite runs on."""
    with fresh_database(tmp_path) as url:
        yield url


def _app(url: str):
    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x", "TESTING": True})


def test_migrations_match_models(empty_database_url):
    app = _app(empty_database_url)
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "render_as_batch": True,
                    "include_object": search.include_object,
                },
            )
            differences = compare_metadata(context, db.metadata)
        db.engine.dispose()
    assert differences == []


def test_upgrade_downgrade_upgrade(empty_database_url):
    app = _app(empty_database_url)
    with app.app_context():
        upgrade()
        tables = set(inspect(db.engine).get_table_names())
        assert {"engagement", "feedback_item", "theme", "theme_tag"} <= tables
        themes = db.session.execute(text("SELECT slug FROM theme ORDER BY position")).scalars()
        assert list(themes) == [
            "money",
            "decision-making",
            "clinical-leadership",
            "services",
            "jobs",
        ]
        db.session.remove()
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        assert {"engagement", "feedback_item"} <= set(inspect(db.engine).get_table_names())
        db.session.remove()
        db.engine.dispose()
