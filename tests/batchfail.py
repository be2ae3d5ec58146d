"""Make feedback.service's batch insert fail part-way, for all-or-none tests."""

from __future__ import annotations

from engage.extensions import db
from engage.feedback import service


def fail_the_batch(monkeypatch, fails_after: str) -> None:
    """Make the next batch fail just after its insert ("insert") or at its commit."""
    real_insert = service.insert_items

    def _raise():
        raise RuntimeError("commit failed")

    def insert_then_fail(rows):
        ids = real_insert(rows)
        if fails_after == "insert":
            raise RuntimeError("connection lost mid-batch")
        monkeypatch.setattr(db.session, "commit", _raise)
        return ids

    monkeypatch.setattr(service, "insert_items", insert_then_fail)
