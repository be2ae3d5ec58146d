"""Small helpers shared by every feature package."""

from __future__ import annotations

import enum
import re
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Enum

# Control characters, defined once. In text (feedback, a mail body): every C0 control
# and DEL except tab, newline and carriage return, which text may keep.
CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# In one line (a query-string value): every C0 control and DEL, line breaks included.
CONTROL_IN_LINE = re.compile(r"[\x00-\x1f\x7f]")

# The longest query-string value kept (a search box); longer ones are cut.
MAX_QUERY = 200
_CONTROL = CONTROL_IN_LINE


def clean_param(value: str | None, limit: int = MAX_QUERY) -> str:
    """A query-string value made safe for any database: one line, no NULs, bounded."""
    return _CONTROL.sub(" ", value or "").strip()[:limit]


def like_pattern(text: str) -> str:
    """``%text%`` for LIKE with ``\\`` as the escape character, so % and _ match literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# The largest id a database integer column holds: a larger one names nothing.
MAX_DB_ID = 2**31 - 1


# Dates people enter (milestones, deadlines) must fall in this window: a typo such as
# 0001-01-01 or 9999-12-31 is refused with a message, never stored (issue #20).
EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2100, 12, 31)


def date_in_window(value: date) -> bool:
    """Is ``value`` between EARLIEST_DATE and LATEST_DATE (inclusive)?"""
    if isinstance(value, datetime):
        value = value.date()
    return EARLIEST_DATE <= value <= LATEST_DATE


def date_window_message(what: str = "The date") -> str:
    """The error for a date outside the window, in plain words."""
    return (
        f"{what} must be between {EARLIEST_DATE.day} {EARLIEST_DATE:%B %Y} "
        f"and {LATEST_DATE.day} {LATEST_DATE:%B %Y}"
    )


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
