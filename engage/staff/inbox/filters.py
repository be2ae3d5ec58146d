"""The inbox's filters: what the query string may ask for, cleaned.

A new filter is a field here (read in ``from_args``, written back in ``as_args``), a
choice list in ``choices``, a condition in ``conditions`` and a count in ``facets``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date

from engage.feedback.models import Channel, Status
from engage.languages import names as language_names  # issue 24
from engage.util import MAX_DB_ID, clean_param

UNCLASSIFIED = "unclassified"
GENERAL = "general"  # feedback not tied to an engagement
SORTS = {
    "unclassified": "Unclassified first, then newest",
    "received": "Most recently received first",
    "newest": "Newest first",
    "oldest": "Oldest first",
    "uncertain": "Least certain first",
}


def _parse_date(value: str | None) -> tuple[date | None, bool]:
    """(date, ok): empty is (None, True); a bad date is (None, False)."""
    value = clean_param(value, 20)
    if not value:
        return None, True
    try:
        return date.fromisoformat(value), True
    except ValueError:
        return None, False


@dataclass(frozen=True)
class InboxFilters:
    """The inbox's filters, cleaned; empty strings mean "any"."""

    engagement: str = ""  # a slug, or "general"
    theme: str = ""  # a slug, or "unclassified"
    area: str = ""
    channel: str = ""
    status: str = ""
    date_from: date | None = None
    date_to: date | None = None
    q: str = ""
    group: int | None = None  # a duplicate group's id
    language: str = ""  # issue 24: an ISO 639-1 code (engage.languages.names)
    sort: str = "unclassified"
    counts: bool = False  # show how many items each filter value would give (costly)
    errors: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> InboxFilters:
        """Read the query string. Unknown values are dropped with a message, never an error."""
        errors: list[str] = []
        channel = clean_param(args.get("channel"), 20)
        if channel and channel not in {c.value for c in Channel}:
            errors.append("That channel does not exist; showing every channel")
            channel = ""
        status = clean_param(args.get("status"), 20)
        if status and status not in {s.value for s in Status}:
            errors.append("That status does not exist; showing every status")
            status = ""
        q = clean_param(args.get("q"))
        sort = clean_param(args.get("sort"), 20) or _default_sort(q)
        if sort not in SORTS:
            sort = _default_sort(q)
        date_from, ok_from = _parse_date(args.get("from"))
        date_to, ok_to = _parse_date(args.get("to"))
        if not (ok_from and ok_to):
            errors.append("Enter dates as YYYY-MM-DD, for example 2019-06-30")
        if date_from and date_to and date_from > date_to:
            errors.append("The start date is after the end date; they have been swapped")
            date_from, date_to = date_to, date_from
        group_raw = clean_param(args.get("group"), 12)
        group = int(group_raw) if group_raw.isascii() and group_raw.isdigit() else None
        if group is not None and group > MAX_DB_ID:
            group = -1  # names no group: an empty list, not an error
        return cls(
            engagement=clean_param(args.get("engagement"), 120),
            theme=clean_param(args.get("theme"), 60),
            area=clean_param(args.get("area"), 120),
            channel=channel,
            status=status,
            date_from=date_from,
            date_to=date_to,
            q=q,
            group=group,
            language=_language_param(args.get("language"), errors),  # issue 24
            sort=sort,
            counts=clean_param(args.get("counts"), 1) == "1",
            errors=tuple(errors),
        )

    def as_args(self, **changes) -> dict[str, str]:
        """The filters that are set, as query-string values (for links and forms)."""
        f = replace(self, **changes) if changes else self
        out = {
            "engagement": f.engagement,
            "theme": f.theme,
            "area": f.area,
            "channel": f.channel,
            "status": f.status,
            "from": f.date_from.isoformat() if f.date_from else "",
            "to": f.date_to.isoformat() if f.date_to else "",
            "q": f.q,
            "group": str(f.group) if f.group else "",
            "language": f.language,  # issue 24
            "sort": "" if f.sort == _default_sort(f.q) else f.sort,
            "counts": "1" if f.counts else "",
        }
        return {k: v for k, v in out.items() if v}

    @property
    def active(self) -> bool:
        """True when anything narrows the list (sorting and counts do not)."""
        return any(v for k, v in self.as_args().items() if k not in ("sort", "counts"))


def _language_param(value: str | None, errors: list[str]) -> str:
    """Issue 24: the language filter, a code engage knows, or "" (with a message)."""
    code = clean_param(value, 12)
    if code and code not in language_names.NAMES:
        errors.append("That language is not one we detect; showing every language")
        return ""
    return code


def _default_sort(q: str) -> str:
    """Unclassified first, or for a search the most recently received matches first
    (which the full-text index can give without reading every match)."""
    return "received" if q else "unclassified"
