"""Shared fixtures: an app on a fresh database, a client, a CLI runner and factories.

The suite runs on SQLite by default. Set ENGAGE_TEST_DATABASE_URL to a PostgreSQL URL
(as .ci/run does) to run the same tests against PostgreSQL.
"""

from __future__ import annotations

import os
from datetime import date

import pytest
from sqlalchemy import text

from engage import create_app
from engage.extensions import db as _db

# Staff accounts and signed-in clients (make_staff, signed_in), for any test.
pytest_plugins = ["tests.staffing", "tests.trained"]

TEST_DATABASE_URL = os.environ.get("ENGAGE_TEST_DATABASE_URL", "")


def database_url(tmp_path_factory) -> str:
    if TEST_DATABASE_URL:
        return TEST_DATABASE_URL
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def instance_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("instance")
    os.environ["ENGAGE_INSTANCE_PATH"] = str(path)
    return path


@pytest.fixture(scope="session")
def _app(instance_dir, tmp_path_factory):
    url = database_url(tmp_path_factory)
    os.environ["DATABASE_URL"] = url
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "test-secret",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_STORAGE_URI": "memory://",
            # Nothing listens here unless a test starts its own SMTP server.
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": 1,
            "MAIL_TIMEOUT": 5,
            "SERVER_NAME": "localhost",
            # Counts on public pages are live in tests; tests/public/test_page_cache.py
            # turns the minute's caching of figures back on where it tests it.
            "ENGAGE_FIGURES_MAX_AGE": 0,
            # Every request reads the public version (another "process" may be the test
            # itself writing with SQL); tests/public/test_page_cache.py covers the second.
            "ENGAGE_PAGE_VERSION_MAX_AGE": 0,
            # Post-commit steps run in the request, so tests see their results at once;
            # tests/test_tasks.py covers handing them to the worker.
            "ENGAGE_POST_COMMIT_IN_WORKER": False,
        }
    )
    with app.app_context():
        _db.drop_all()
        _db.create_all()
    yield app
    with app.app_context():
        _db.engine.dispose()


def _empty_all_tables() -> None:
    tables = list(reversed(_db.metadata.sorted_tables))
    if _db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        _db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            _db.session.execute(table.delete())
    _db.session.commit()


@pytest.fixture
def app(_app):
    """The app inside an app context, on empty tables with the default themes."""
    from engage import caching
    from engage import pagecache as cache
    from engage.extensions import limiter
    from engage.feedback.service import ensure_default_themes

    with _app.app_context():
        # Flask-Limiter is one object: a test that built another app may have switched it
        # off; every test starts with this app's setting.
        limiter.enabled = _app.config["RATELIMIT_ENABLED"]
        limiter.reset()
        _empty_all_tables()
        cache.store().clear()  # pages of the previous test's data
        caching.clear_all()  # and every named cache (the inbox's areas, rankings, ...)
        ensure_default_themes()
        _db.session.commit()
        yield _app
        _db.session.remove()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make_engagement(app):
    """Factory: create and commit an engagement."""
    from engage.engagements.models import Engagement

    counter = iter(range(1, 10_000))

    def factory(**overrides) -> Engagement:
        n = next(counter)
        values = {
            "slug": f"engagement-{n}",
            "title": f"Engagement {n}",
            "summary": "A summary.",
            "body": "A body.",
            "organisation": "NHS Test",
            "opens_on": date(2019, 5, 28),
            "closes_on": date(2099, 8, 24),
            "areas": ["Brent", "Ealing", "Harrow"],
            "email_address": f"engage+engagement-{n}@example.org",
        }
        values.update(overrides)
        engagement = Engagement(**values)
        _db.session.add(engagement)
        _db.session.commit()
        return engagement

    return factory


@pytest.fixture
def make_item(app, make_engagement):
    """Factory: submit a feedback item through the real service."""
    from engage.feedback.models import Channel
    from engage.feedback.service import Submission, submit

    def factory(text="The merger will take decisions away from Harrow.", **overrides):
        if "engagement_slug" not in overrides:
            overrides["engagement_slug"] = make_engagement().slug
        overrides.setdefault("channel", Channel.WEB)
        return submit(Submission(text=text, **overrides))

    return factory


@pytest.fixture
def smtp_server(app):
    """A real SMTP server on loopback; the app sends its mail there during the test."""
    from tests.smtp import SMTPServer

    server = SMTPServer().start()
    previous = app.config["MAIL_SERVER"], app.config["MAIL_PORT"]
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port)
    yield server
    server.stop()
    app.config["MAIL_SERVER"], app.config["MAIL_PORT"] = previous
