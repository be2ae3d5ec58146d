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


def test_feedback_item_indexes_match_the_models_partial_ones_included(empty_database_url):
    """compare_metadata does not compare an index's WHERE clause: the migrations must
    make the same partial indexes the models declare (0019, issue 25)."""
    from engage.feedback.models import FeedbackItem

    app = _app(empty_database_url)
    with app.app_context():
        upgrade()
        dialect = db.engine.dialect.name
        if dialect == "postgresql":
            rows = db.session.execute(
                text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'feedback_item'")
            ).all()
        else:
            rows = db.session.execute(
                text(
                    "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
                    "AND tbl_name = 'feedback_item' AND sql IS NOT NULL"
                )
            ).all()
        made = {name: " ".join(sql.split()) for name, sql in rows}
        db.session.remove()
        db.engine.dispose()
    declared = {
        index.name: index.dialect_options[dialect]._non_defaults.get("where")
        for index in FeedbackItem.__table__.indexes
    }
    assert set(declared) <= set(made)
    # The single-column indexes that longer indexes lead with are gone.
    assert not {"ix_feedback_item_engagement_id", "ix_feedback_item_status"} & set(made)
    for name, where in declared.items():
        assert (" WHERE " in made[name]) == (where is not None), (name, made[name])
    for name in ("ix_feedback_item_ack_owed", "ix_feedback_item_unclassified"):
        assert declared[name] is not None


def _required_values(table) -> dict:
    """A value for every NOT NULL column without a default of a reflected table."""
    from datetime import datetime

    by_type = {int: 0, bool: False, datetime: datetime(2026, 12, 1, 10), str: "x"}
    return {
        column.name: by_type[column.type.python_type]
        for column in table.columns
        if not (column.nullable or column.server_default is not None or column.primary_key)
    }


def test_adding_the_whole_review_flag_keeps_every_tag(empty_database_url):
    # 0023 adds a column to feedback_item in place: a batch copy on SQLite would drop
    # the old table and, with foreign keys on, every theme tag and note with it.
    from datetime import datetime

    from sqlalchemy import MetaData, Table

    app = _app(empty_database_url)
    with app.app_context():
        upgrade(revision="0022")
        with db.engine.begin() as conn:
            items = Table("feedback_item", MetaData(), autoload_with=conn)
            tags = Table("theme_tag", MetaData(), autoload_with=conn)
            item = {
                **_required_values(items),
                "reference": "EN-1",
                "channel": "web",
                "status": "triaged",
                "themes_reviewed_at": datetime(2026, 12, 2, 10),
            }
            item_id = conn.execute(items.insert().values(**item)).inserted_primary_key[0]
            theme = conn.execute(text("SELECT id FROM theme WHERE slug = 'services'")).scalar()
            conn.execute(
                tags.insert().values(
                    {
                        **_required_values(tags),
                        "item_id": item_id,
                        "theme_id": theme,
                        "source": "staff",
                    }
                )
            )
        upgrade()
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM theme_tag")).scalar() == 1
            whole = conn.execute(text("SELECT themes_reviewed_whole FROM feedback_item")).scalar()
        assert not whole  # a review from before says nothing about its kind
        db.session.remove()
        db.engine.dispose()


def _store_item_with_tag_and_note(conn, reference: str, text_: str) -> int:
    from sqlalchemy import MetaData, Table

    items = Table("feedback_item", MetaData(), autoload_with=conn)
    tags = Table("theme_tag", MetaData(), autoload_with=conn)
    notes = Table("item_note", MetaData(), autoload_with=conn)
    values = {
        **_required_values(items),
        **{"reference": reference, "channel": "web", "status": "triaged", "text": text_},
    }
    item_id = conn.execute(items.insert().values(**values)).inserted_primary_key[0]
    theme = conn.execute(text("SELECT id FROM theme WHERE slug = 'services'")).scalar()
    conn.execute(
        tags.insert().values(
            {**_required_values(tags), "item_id": item_id, "theme_id": theme, "source": "staff"}
        )
    )
    conn.execute(
        notes.insert().values({**_required_values(notes), "item_id": item_id, "text": "rang back"})
    )
    return item_id


def _found(q: str) -> list[int]:
    from sqlalchemy import select

    from engage.feedback.models import FeedbackItem

    clause = search.matching(q, db.engine.dialect.name)
    return list(db.session.execute(select(FeedbackItem.id).where(clause)).scalars())


def test_upgrading_an_older_database_keeps_its_tags_and_notes(empty_database_url):
    # 0016 batch-copies feedback_item; on SQLite, dropping the old copy with foreign keys
    # on deleted every theme tag and note of a database upgraded from 0015 (an outside
    # review, round 21). migrations/env.py turns the keys off while migrating.
    app = _app(empty_database_url)
    with app.app_context():
        upgrade(revision="0015")
        with db.engine.begin() as conn:
            _store_item_with_tag_and_note(conn, "EN-1", "The walk-in centre in Hillingdon")
        upgrade()
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM theme_tag")).scalar() == 1
            assert conn.execute(text("SELECT count(*) FROM item_note")).scalar() == 1
            if conn.dialect.name == "sqlite":
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        # Stored before the upgrade and found after it.
        assert len(_found("Hillingdon")) == 1
        db.session.remove()
        db.engine.dispose()


def test_items_stored_after_an_upgrade_are_found_by_search(empty_database_url):
    # The batch copies of 0014-0021 dropped SQLite's full-text triggers with the old
    # table: no item stored later was ever found by the staff search.
    app = _app(empty_database_url)
    with app.app_context():
        upgrade()
        with db.engine.begin() as conn:
            _store_item_with_tag_and_note(conn, "EN-2", "Parking at the stroke unit")
        assert len(_found("stroke")) == 1
        assert _found("Hillingdon") == []
        db.session.remove()
        db.engine.dispose()


def test_an_upgrade_puts_back_search_triggers_an_earlier_one_lost(empty_database_url):
    # A database migrated before the repair has no triggers and an index that misses
    # what came after: running the upgrade again (nothing to migrate) mends both.
    # (PostgreSQL's search document is a generated column, with no triggers to lose:
    # there the same steps check that an upgrade with nothing to do keeps search whole.)
    app = _app(empty_database_url)
    with app.app_context():
        upgrade()
        sqlite = db.engine.dialect.name == "sqlite"
        with db.engine.begin() as conn:
            if sqlite:
                for name in ("feedback_fts_ai", "feedback_fts_ad", "feedback_fts_au"):
                    conn.exec_driver_sql(f"DROP TRIGGER {name}")
            _store_item_with_tag_and_note(conn, "EN-3", "Ambulance waits in Andover")
        assert len(_found("Andover")) == (0 if sqlite else 1)
        db.session.remove()
        upgrade()
        assert len(_found("Andover")) == 1
        with db.engine.begin() as conn:
            conn.exec_driver_sql("UPDATE feedback_item SET text = 'Beds in Basingstoke'")
        assert _found("Andover") == []
        assert len(_found("Basingstoke")) == 1
        db.session.remove()
        db.engine.dispose()
