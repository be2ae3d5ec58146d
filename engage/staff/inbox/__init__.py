"""The staff triage inbox: a filtered, sorted, paged list of feedback items.

- ``filters``: what the query string may ask for (``InboxFilters``), cleaned.
- ``choices``: what the filter lists offer (engagements, themes, areas) and the ids the
  filters' slugs name.
- ``conditions``: each filter as an SQL condition, and the probes they are made of.
- ``page``: one page of rows with their current themes, the capped count, an item's
  neighbours in the list.
- ``facets``: how many items each filter value would give.

A new filter touches each of these once: a field in ``InboxFilters``, its choice list,
its condition in ``conditions.conditions`` (named, so statements of the same shape are
shared), and its count in ``facets.facets``. The changes staff make to an item are in
``engage.staff.item_actions``.

The names callers use are gathered here: ``from engage.staff import inbox``.
"""

from engage.staff.inbox.choices import (
    InboxChoices,
    ThemeChoice,
    filter_options,
    forget_areas,
    inbox_choices,
)
from engage.staff.inbox.conditions import has_current_theme
from engage.staff.inbox.facets import Facets, facets
from engage.staff.inbox.filters import GENERAL, SORTS, UNCLASSIFIED, InboxFilters
from engage.staff.inbox.page import (
    COUNT_CAP,
    PER_PAGE,
    InboxPage,
    InboxRow,
    Neighbours,
    count,
    inbox_page,
    inbox_query,
    neighbours,
    queue_ids,
)

__all__ = [
    "COUNT_CAP",
    "GENERAL",
    "PER_PAGE",
    "SORTS",
    "UNCLASSIFIED",
    "Facets",
    "InboxChoices",
    "InboxFilters",
    "InboxPage",
    "InboxRow",
    "Neighbours",
    "ThemeChoice",
    "count",
    "facets",
    "filter_options",
    "forget_areas",
    "has_current_theme",
    "inbox_choices",
    "inbox_page",
    "inbox_query",
    "neighbours",
    "queue_ids",
]
