"""Small staff-page tags built in Python: an item's status tag and its theme tags,
each made once and kept (an inbox page shows 25 of each, and most repeat), and links
to numbered pages built without a url_for per row.

The inbox's rows and filter lists are Jinja macros (templates/staff/_inbox.html) that
call these. Every text value is escaped by ``Markup``'s ``%`` operator.
"""

from __future__ import annotations

from flask import g, url_for
from markupsafe import Markup

from engage import caching
from engage.feedback.models import Status
from engage.staff.labels import STATUS_COLOURS, STATUS_NAMES

_TAG = Markup('<strong class="nhsuk-tag nhsuk-tag--%s%s">%s</strong>')


def _tag(colour: str, text: str, extra_class: str = "") -> Markup:
    # Markup's % escapes every value (Markup.format is twice as slow).
    return _TAG % (colour, extra_class, text)


_STATUS_TAGS = {s: _tag(STATUS_COLOURS[s], STATUS_NAMES[s]) for s in Status}


def item_status_tag(status: Status) -> Markup:
    """The coloured tag for an item's status (templates: ``item_status_tag``; the
    ``status_tag`` macro of publish/_macros.html is a response's)."""
    return _STATUS_TAGS[status]


def theme_label(name: str, percent: int | None) -> str:
    """A theme as staff read it: "Money 81%" when the model set it (its probability as
    a whole percent, engage.feedback.themes.percent), "Money" when staff did."""
    return name if percent is None else f"{name} {percent}%"


@caching.memoize("staff_theme_tags", maxsize=4096)
def _theme_tag(name: str, share: int | None, colour: str) -> Markup:
    # Kept per tag, not per set of tags: a theme's percent changes from item to item,
    # so sets rarely repeat, while a theme at a percent does (5 x 101 of them).
    return _tag(colour, theme_label(name, share), " engage-theme-tag")


def _theme_tags(labels: tuple[tuple[str, int | None], ...], colour: str) -> Markup:
    if len(labels) == 1:
        return _theme_tag(*labels[0], colour)
    # Each piece is Markup already (escaped by _tag): joined as text, not escaped again.
    tags = " ".join([_theme_tag(name, share, colour) for name, share in labels])
    return Markup(tags)  # noqa: S704  # nosec B704 (every piece escaped by _tag)


def theme_tags(item) -> Markup:
    """An item's current themes as tags (blue once staff have reviewed them; the
    model's with their percent, "Money 81%"), else "No theme" (reviewed as having
    none), "Needs translation" (issue 24: the model reads English only) or
    "Unclassified".

    ``item`` is anything with ``theme_labels()`` and ``themes_reviewed_at``: a
    FeedbackItem or a row of the inbox.
    """
    current = item.theme_labels()
    if current:
        colour = "blue" if item.themes_reviewed_at else "white"
        return _theme_tags(current, colour)
    if item.themes_reviewed_at:
        return _NO_THEME
    if getattr(item, "needs_translation", False):  # issue 24: never silently unclassified
        return _NEEDS_TRANSLATION
    return _UNCLASSIFIED


_NO_THEME = _tag("grey", "No theme")
_UNCLASSIFIED = _tag("orange", "Unclassified")
_NEEDS_TRANSLATION = _tag("purple", "Needs translation")  # issue 24
_PROBE = 987654321


def numbered_url(endpoint: str, key: str, number: int) -> str:
    """url_for(endpoint, **{key: number}), the URL around the number built once a
    request: werkzeug takes ~10 µs a URL and an inbox page links 25 to 50 items."""
    stems = g.setdefault("engage_url_stems", {})
    stem = stems.get((endpoint, key))
    if stem is None:
        before, _, after = url_for(endpoint, **{key: _PROBE}).rpartition(str(_PROBE))
        stem = stems[(endpoint, key)] = (before, after)
    return f"{stem[0]}{int(number)}{stem[1]}"
