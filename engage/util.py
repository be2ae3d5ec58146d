"""Small helpers shared by every feature package."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Return the current UTC time as a naive datetime (how the DB stores it)."""
    return datetime.now(UTC).replace(tzinfo=None)
