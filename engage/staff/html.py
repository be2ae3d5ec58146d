"""Small pieces of staff-page HTML built in Python: the inbox shows 25 of each per page,
and a Jinja macro call costs several times more than a format string (issue #9).

Every value is escaped by ``Markup``'s ``%`` operator.
"""

from __future__ import annotations

from markupsafe import Markup

from engage.feedback.models import Status

STATUS_COLOURS = {
    Status.NEW: "yellow",
    Status.TRIAGED: "blue",
    Status.RESPONDED: "green",
    Status.ARCHIVED: "grey",
    Status.SPAM: "red",
    Status.DUPLICATE: "purple",
}


_TAG = Markup('<strong class="nhsuk-tag nhsuk-tag--%s%s">%s</strong>')


def _tag(colour: str, text: str, extra_class: str = "") -> Markup:
    # Markup's % escapes every value (Markup.format is twice as slow).
    return _TAG % (colour, extra_class, text)


def status_tag(status: Status) -> Markup:
    """The coloured tag for an item's status."""
    return _tag(STATUS_COLOURS[status], status.value.capitalize())


def theme_tags(item) -> Markup:
    """An item's current themes as tags (blue once staff have reviewed them), else
    "No theme" (reviewed as having none) or "Unclassified".

    ``item`` is anything with ``themes()`` and ``themes_reviewed_at``: a FeedbackItem
    or a row of the inbox.
    """
    current = item.themes()
    if current:
        colour = "blue" if item.themes_reviewed_at else "white"
        return Markup(" ").join(_tag(colour, theme.name, " engage-theme-tag") for theme in current)
    if item.themes_reviewed_at:
        return _tag("grey", "No theme")
    return _tag("orange", "Unclassified")
