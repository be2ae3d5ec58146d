"""Pieces of staff-page HTML built in Python: the inbox shows 25 of each per page, and
rendering them in Jinja (a call, an attribute lookup and an escape per value) cost more
than reading the page (issue #9).

Every text value is escaped: the small tags by ``Markup``'s ``%`` operator, the inbox's
rows and filter lists (larger, and on every page) by ``escape()`` inside one f-string.
"""

from __future__ import annotations

import functools

from flask import current_app, g, url_for
from jinja2.filters import do_truncate
from markupsafe import Markup, escape

from engage.feedback.models import Channel, Status
from engage.languages import names as language_names  # issue 24

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


_STATUS_TAGS = {s: _tag(STATUS_COLOURS[s], s.value.capitalize()) for s in Status}


def status_tag(status: Status) -> Markup:
    """The coloured tag for an item's status."""
    return _STATUS_TAGS[status]


def theme_label(name: str, percent: int | None) -> str:
    """A theme as staff read it: "Money 81%" when the model set it (its probability as
    a whole percent, engage.feedback.themes.percent), "Money" when staff did."""
    return name if percent is None else f"{name} {percent}%"


@functools.lru_cache(maxsize=4096)
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
    none) or "Unclassified".

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


def inbox_row(item, can_triage: bool, trail: str = "", at: int | None = None) -> Markup:
    """One row of the inbox's table for an InboxRow: a tick box (for triagers), the
    reference, when and how it came, a snippet, its campaign group, themes (the model's
    with their percent) and status.

    One f-string with each text value passed through ``escape`` (ids are ints, tags are
    Markup already): a tenth of what the same row cost as Jinja.

    With ``at`` (the row's position in the whole filtered list) the item's link carries
    the inbox's filters (``trail``, a URL-encoded query string) and the position, so
    the item page can offer the previous and next items of the same list.
    """
    item_id = int(item.id)
    reference = escape(item.reference)
    meta = [item.submitted_at.strftime("%d %b %Y"), item.channel.value]
    if item.area:
        meta.append(item.area)
    meta.append(item.engagement_title or "General")
    if item.language and item.language != "en":  # issue 24
        meta.append(language_names.name(item.language))
    checkbox = ""
    if can_triage:
        checkbox = (
            '<td class="nhsuk-table__cell">\n'
            '  <div class="nhsuk-checkboxes__item engage-checkbox-only">\n'
            f'    <input class="nhsuk-checkboxes__input" id="item-{item_id}" name="item"'
            f' type="checkbox" value="{item_id}">\n'
            f'    <label class="nhsuk-label nhsuk-checkboxes__label" for="item-{item_id}">'
            f'<span class="nhsuk-u-visually-hidden">Select {reference}</span></label>\n'
            "  </div>\n"
            "</td>\n"
        )
    group = ""
    if item.duplicate_group_id:
        group_url = numbered_url("staff.inbox", "group", item.duplicate_group_id)
        group = (
            f'  <p class="nhsuk-body-s nhsuk-u-margin-bottom-0"><a href="{escape(group_url)}">'
            f"One of {int(item.duplicate_group_size or 0):,} similar texts</a></p>\n"
        )
    url = numbered_url("staff.item", "item_id", item_id)
    if at is not None:
        url = f"{url}?{trail}&at={int(at)}" if trail else f"{url}?at={int(at)}"
    url = escape(url)
    snippet = escape(do_truncate(current_app.jinja_env, item.text, 280))
    row = (
        '<tr class="nhsuk-table__row">\n'
        f"{checkbox}"
        '<td class="nhsuk-table__cell">\n'
        f'  <a href="{url}"><strong>{reference}</strong></a>\n'
        f'  <span class="nhsuk-body-s engage-item-meta">{escape(" · ".join(meta))}</span>\n'
        f'  <p class="nhsuk-body-s nhsuk-u-margin-bottom-0 engage-snippet">{snippet}</p>\n'
        f"{group}"
        "</td>\n"
        f'<td class="nhsuk-table__cell">{theme_tags(item)}</td>\n'
        f'<td class="nhsuk-table__cell">{status_tag(item.status)}</td>\n'
        "</tr>\n"
    )
    return Markup(row)  # noqa: S704  # nosec B704 (every text value escaped above)


def inbox_filter_options(choices) -> dict[str, tuple[tuple[str, str], ...]]:
    """(value, text) options for each of the inbox's filter lists, from InboxChoices."""
    return {
        "engagement": (*choices.engagements, ("general", "General feedback")),
        "theme": (("unclassified", "Unclassified"), *((t.slug, t.name) for t in choices.themes)),
        "area": tuple((area, area) for area in choices.areas),
        "channel": tuple((c.value, c.label) for c in Channel),
        "status": tuple((s.value, s.value.capitalize()) for s in Status),
        "language": tuple(language_names.NAMES.items()),  # issue 24
    }


def facet_select(
    name: str,
    label: str,
    options: tuple[tuple[str, str], ...],
    selected: str,
    counts: dict[str, int] | None,
    any_label: str,
) -> Markup:
    """A filter's labelled <select>, the chosen value selected and, when ``counts`` is
    given, how many items each value would give. Without counts the same list with the
    same choice is made once and kept (an inbox page has five; each is the same for
    every page until the lists change)."""
    if counts is None:
        return _kept_select(name, label, tuple(options), selected, any_label)
    return _select(name, label, options, selected, any_label, counts)


@functools.lru_cache(maxsize=256)
def _kept_select(name, label, options, selected, any_label) -> Markup:
    return _select(name, label, options, selected, any_label, None)


def _select(name, label, options, selected, any_label, counts) -> Markup:
    name = escape(name)
    lines = [
        '<div class="nhsuk-form-group">',
        f'  <label class="nhsuk-label" for="f-{name}">{escape(label)}</label>',
        f'  <select class="nhsuk-select" id="f-{name}" name="{name}">',
        f'    <option value="">{escape(any_label)}</option>',
    ]
    for value, text in options:
        chosen = "selected" if value == selected else ""
        count = "" if counts is None else f" ({counts.get(value, 0):,})"
        lines.append(f'    <option value="{escape(value)}" {chosen}>{escape(text)}{count}</option>')
    lines += ["  </select>", "</div>"]
    return Markup("\n".join(lines))  # noqa: S704  # nosec B704 (every text value escaped above)
