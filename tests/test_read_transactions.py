"""extensions.end_reads_with_commit(): on PostgreSQL a context that only read ends with
COMMIT (so psycopg keeps its prepared statements); anything that wrote is rolled back."""

import pytest
from sqlalchemy import event, func, select, text

from engage.extensions import _reads_only, db
from engage.feedback.models import Theme


@pytest.mark.parametrize(
    ("statement", "reads"),
    [
        ("SELECT feedback_item.id FROM feedback_item", True),
        ("  select 1", True),
        ("SELECT id FROM engagement FOR UPDATE", True),
        ("WITH RECURSIVE a(area) AS (SELECT 1) SELECT area FROM a", True),
        ("WITH moved AS (DELETE FROM outbox RETURNING id) SELECT count(*) FROM moved", False),
        ("WITH x AS (SELECT 1) INSERT INTO theme (slug) SELECT 'a' FROM x", False),
        ("INSERT INTO theme (slug, name) VALUES ('a', 'A')", False),
        ("UPDATE feedback_item SET status = 'new'", False),
        ("SAVEPOINT sa_savepoint_1", False),
    ],
)
def test_only_selects_count_as_reads(statement, reads):
    assert _reads_only(statement) is reads


def _ends(app, work) -> list[str]:
    """Run ``work`` in a context of its own; say how its transaction ended."""
    seen: list[str] = []
    engine = db.engine
    on_commit = lambda conn: seen.append("commit")  # noqa: E731
    on_rollback = lambda conn: seen.append("rollback")  # noqa: E731
    event.listen(engine, "commit", on_commit)
    event.listen(engine, "rollback", on_rollback)
    try:
        with app.app_context():
            work()
    finally:
        event.remove(engine, "commit", on_commit)
        event.remove(engine, "rollback", on_rollback)
    return seen


def test_a_context_that_only_read_commits_on_postgresql(app):
    ends = _ends(app, lambda: db.session.scalar(select(func.count(Theme.id))))
    postgresql = db.engine.dialect.name == "postgresql"
    assert ends[:1] == (["commit"] if postgresql else ["rollback"])


def test_a_context_that_wrote_without_committing_keeps_nothing(app):
    before = db.session.scalar(select(func.count(Theme.id)))

    def half_done() -> None:
        db.session.add(Theme(slug="half-stored", name="Half stored", position=99))
        db.session.flush()  # written, never committed

    assert _ends(app, half_done)[:1] == ["rollback"]

    def by_sql() -> None:
        db.session.execute(
            text("INSERT INTO theme (slug, name, description, position) VALUES (:s, :n, '', 98)"),
            {"s": "also-half", "n": "Also half"},
        )

    assert _ends(app, by_sql)[:1] == ["rollback"]

    def pending() -> None:
        db.session.scalar(select(func.count(Theme.id)))
        db.session.add(Theme(slug="pending", name="Pending", position=97))  # never flushed

    assert _ends(app, pending)[:1] == ["rollback"]
    assert db.session.scalar(select(func.count(Theme.id))) == before
