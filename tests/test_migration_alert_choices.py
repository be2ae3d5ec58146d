"""Migration 0013: single-choice alert subscriptions merge into one per address."""

from __future__ import annotations

from datetime import datetime

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from engage import create_app
from engage.extensions import db
from tests.databases import fresh_database

T0 = datetime(2026, 1, 1, 9, 0)
T1 = datetime(2026, 2, 1, 9, 0)
T2 = datetime(2026, 3, 1, 9, 0)


@pytest.fixture
def app_at_0012(tmp_path):
    with fresh_database(tmp_path) as url:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x", "TESTING": True})
        with app.app_context():
            upgrade(revision="0012")
            yield app
            db.session.remove()
            db.engine.dispose()


def _legacy(**values):
    row = {
        "theme_id": None,
        "engagement_id": None,
        "token_hash": None,
        "token_created_at": None,
        "created_at": T0,
        "confirmed_at": None,
        "unsubscribed_at": None,
    }
    row.update(values)
    db.session.execute(
        text(
            "INSERT INTO alert_subscription (id, email, theme_id, engagement_id, token_hash,"
            " token_created_at, created_at, confirmed_at, unsubscribed_at) VALUES (:id, :email,"
            " :theme_id, :engagement_id, :token_hash, :token_created_at, :created_at,"
            " :confirmed_at, :unsubscribed_at)"
        ),
        row,
    )


def test_single_choice_subscriptions_merge_per_address(app_at_0012):
    themes = dict(db.session.execute(text("SELECT slug, id FROM theme")).all())
    db.session.execute(
        text(
            "INSERT INTO engagement (id, slug, title, summary, body, organisation, opens_on,"
            " closes_on, areas, created_at) VALUES (1, 'walk-in', 'Walk-in centres', 's', 'b', 'o',"
            " '2026-01-01', '2026-12-31', '[]', '2026-01-01 00:00:00')"
        )
    )
    # Kim: two confirmed choices, one stopped, one waiting (newest link), any case.
    _legacy(id=3, email="Kim@example.org", theme_id=themes["money"], confirmed_at=T1)
    _legacy(id=5, email="kim@example.org", engagement_id=1, confirmed_at=T0)
    _legacy(
        id=6, email="kim@example.org", theme_id=themes["jobs"], confirmed_at=T0, unsubscribed_at=T1
    )
    _legacy(
        id=8,
        email="KIM@example.org",
        theme_id=themes["services"],
        token_hash="h" * 64,
        token_created_at=T2,
    )
    # Lee: stopped everything; Mo: only waiting.
    _legacy(
        id=4, email="lee@example.org", theme_id=themes["money"], confirmed_at=T0, unsubscribed_at=T2
    )
    _legacy(id=7, email="mo@example.org", engagement_id=1, token_hash="m" * 64, token_created_at=T1)
    db.session.commit()

    upgrade(revision="0013")

    rows = db.session.execute(
        text(
            "SELECT id, email, confirmed_at, unsubscribed_at, token_hash FROM alert_subscription"
            " ORDER BY id"
        )
    ).all()
    assert [(r.id, r.email) for r in rows] == [
        (3, "kim@example.org"),
        (4, "lee@example.org"),
        (7, "mo@example.org"),
    ]
    kim, lee, mo = rows
    assert str(kim.confirmed_at).startswith("2026-01-01") and kim.unsubscribed_at is None
    assert kim.token_hash == "h" * 64  # the waiting choice's link still works
    assert lee.unsubscribed_at is not None
    assert mo.confirmed_at is None and mo.token_hash == "m" * 64
    choices = db.session.execute(
        text(
            "SELECT subscription_id, theme_id, engagement_id, confirmed_at IS NOT NULL AS done"
            " FROM alert_choice ORDER BY subscription_id, id"
        )
    ).all()
    assert {(c.subscription_id, c.theme_id, c.engagement_id, bool(c.done)) for c in choices} == {
        (3, themes["money"], None, True),
        (3, None, 1, True),
        (3, themes["services"], None, False),
        (7, None, 1, False),
    }
    aliases = db.session.execute(
        text("SELECT id, subscription_id FROM alert_subscription_alias ORDER BY id")
    ).all()
    assert [tuple(a) for a in aliases] == [(3, 3), (4, 4), (5, 3), (6, 3), (7, 7), (8, 3)]

    # And back: one row per choice again; Lee, who follows nothing, is gone.
    db.session.commit()
    downgrade(revision="0012")
    back = db.session.execute(
        text(
            "SELECT email, theme_id, engagement_id, confirmed_at IS NOT NULL AS done"
            " FROM alert_subscription"
        )
    ).all()
    assert {(r.email, r.theme_id, r.engagement_id, bool(r.done)) for r in back} == {
        ("kim@example.org", themes["money"], None, True),
        ("kim@example.org", None, 1, True),
        ("kim@example.org", themes["services"], None, False),
        ("mo@example.org", None, 1, False),
    }
    db.session.commit()
