"""Small helpers shared by every feature package."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Enum

# The largest id a database integer column holds: a larger one names nothing.
MAX_DB_ID = 2**31 - 1


def utcnow() -> datetime:
    """Return the current UTC time as a naive datetime (how the DB stores it)."""
    return datetime.now(UTC).replace(tzinfo=None)


def db_enum(enum_cls: type[enum.Enum], name: str) -> Enum:
    """Store an enum as its string values with a CHECK constraint: portable and readable."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


# Spreadsheets run cells that start with these as formulas (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """A CSV cell value a spreadsheet will not run: text that looks like a formula gets "'"."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value
