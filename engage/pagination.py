"""Pages of query results, shared by the public log, the API and the staff inbox."""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort
from sqlalchemy import Select, func, select

from engage.extensions import db

MAX_PAGE_DIGITS = 6


@dataclass(frozen=True)
class Page:
    """One page of results."""

    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        """How many pages there are (at least one, even when empty)."""
        return max(1, -(-self.total // self.per_page))


class PageNotFound(LookupError):
    """The page number asked for does not exist."""


def paginate(query: Select, *, page: int, per_page: int, strict: bool = True) -> Page:
    """One page of ``query``; raises PageNotFound past the last page when ``strict``."""
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    total = total or 0
    last = max(1, -(-total // per_page))
    if page < 1 or (page > last and strict):
        raise PageNotFound(page)
    if page > last:
        return Page([], page, per_page, total)
    rows = db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)).all()
    return Page(list(rows), page, per_page, total)


def page_number(value: str | None) -> int:
    """The page asked for in the query string; aborts with 404 when it is not a page."""
    if value is None or value == "":
        return 1
    if not value.isascii() or not value.isdigit() or len(value) > MAX_PAGE_DIGITS:
        abort(404)
    number = int(value)
    if number < 1:
        abort(404)
    return number


def page_kept(value: str | None) -> dict[str, int]:
    """``{"page": n}`` for the page a form was posted from (a hidden ``page`` field), to
    send the user back to it; empty for the first page or anything that is not a page
    (the list redirects to its first page when that page no longer exists)."""
    value = value or ""
    if value.isascii() and value.isdigit() and len(value) <= MAX_PAGE_DIGITS and int(value) > 1:
        return {"page": int(value)}
    return {}
