"""Feedback exports for staff as CSV or JSON Lines, streamed in batches.

Unlike the open data, these files hold personal data (names, email addresses, the
unredacted text): only staff may download them.

``theme_percent`` gives, for each current theme the model set, its probability as the
whole percent staff see in the inbox and on the item page (``{"money": 81}`` in JSON
Lines, ``money 81%`` in CSV); themes staff set have none.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import Select, select

from engage.engagements.models import Engagement
from engage.extensions import db
from engage.feedback.models import FeedbackItem, TagSource, Theme, ThemeTag, current_of
from engage.feedback.themes import percent
from engage.public.serialize import iso
from engage.util import spreadsheet_safe

FIELDS = (
    "reference",
    "channel",
    "engagement",
    "submitted_at",
    "text",
    "themes",
    "status",
    "author_email",
    "author_name",
    "area",
    "consent_to_quote",
    "duplicate_group_id",
    "redacted_text",
    "theme_percent",
)
# Items loaded (and themes looked up) at a time; well under SQLite's bound-parameter limit.
BATCH = 500

# Characters str.splitlines() breaks on that JSON leaves raw: escaped, so a line is a record.
_LINE_SEPARATORS = {ord(c): f"\\u{ord(c):04x}" for c in "\x85\u2028\u2029"}

Items = Select[tuple[FeedbackItem]] | Iterable[FeedbackItem]


def csv_safe(value: Any) -> str:
    """A CSV cell that a spreadsheet will not run as a formula.

    Text starting with = + - @ tab or carriage return gets a leading apostrophe;
    numbers and booleans we write ourselves are left as they are.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(spreadsheet_safe(value))


def items_query(engagement_id: int | None = None) -> Select[tuple[FeedbackItem]]:
    """Every item (of one engagement, if given), oldest first: the default export."""
    query = select(FeedbackItem).order_by(FeedbackItem.submitted_at, FeedbackItem.id)
    if engagement_id is not None:
        query = query.where(FeedbackItem.engagement_id == engagement_id)
    return query


def _batches(items: Items) -> Iterator[list[FeedbackItem]]:
    if isinstance(items, Select):
        result = db.session.execute(items.execution_options(yield_per=BATCH)).scalars()
        for partition in result.partitions():
            yield list(partition)
        return
    iterator = iter(items)
    while batch := list(islice(iterator, BATCH)):
        yield batch


def _themes_of(ids: list[int]) -> dict[int, list[tuple[str, int | None]]]:
    """Each item's current themes in the guide's order, as (slug, percent): the model's
    probability as a whole percent for a theme the model set, None for one staff set.

    The rule is feedback.models.current_of, applied to the batch's own tags, read
    through their item index: current_tags() in SQL read every tag and every staff
    tag in the table for each batch, so an export's time grew with the square of the
    items (bench growth).
    """
    tags: dict[int, list] = {}
    reviewed: dict[int, datetime | None] = {}
    for row in db.session.execute(
        select(ThemeTag.item_id, Theme.slug, ThemeTag.source, ThemeTag.confidence)
        .add_columns(FeedbackItem.themes_reviewed_at)
        .join(Theme, Theme.id == ThemeTag.theme_id)
        .join(FeedbackItem, FeedbackItem.id == ThemeTag.item_id)
        .where(ThemeTag.item_id.in_(ids))
        .order_by(ThemeTag.item_id, Theme.position, Theme.slug)
    ):
        tags.setdefault(row.item_id, []).append(row)
        reviewed[row.item_id] = row.themes_reviewed_at
    return {
        item_id: [
            (tag.slug, None if tag.source == TagSource.STAFF else percent(tag.confidence))
            for tag in current_of(rows, reviewed=reviewed[item_id])
        ]
        for item_id, rows in tags.items()
    }


def _percent_cell(shares: dict[str, int]) -> str:
    """theme_percent in a CSV cell: "money 81%;services 62%"."""
    return ";".join(f"{slug} {share}%" for slug, share in shares.items())


def iter_records(items: Items) -> Iterator[dict[str, Any]]:
    """One dict of FIELDS per item, with two queries per batch (themes, new engagements)."""
    slugs: dict[int, str] = {}
    for batch in _batches(items):
        missing = {i.engagement_id for i in batch if i.engagement_id is not None} - slugs.keys()
        if missing:
            slugs.update(
                db.session.execute(
                    select(Engagement.id, Engagement.slug).where(Engagement.id.in_(missing))
                ).all()
            )
        themes = _themes_of([item.id for item in batch])
        for item in batch:
            current = themes.get(item.id, [])
            yield {
                "reference": item.reference,
                "channel": item.channel.value,
                "engagement": slugs.get(item.engagement_id) if item.engagement_id else None,
                "submitted_at": iso(item.submitted_at),
                "text": item.text,
                "themes": [slug for slug, _ in current],
                "status": item.status.value,
                "author_email": item.author_email,
                "author_name": item.author_name,
                "area": item.area,
                "consent_to_quote": item.consent_to_quote,
                "duplicate_group_id": item.duplicate_group_id,
                "redacted_text": item.redacted_text,
                # The model's probability of each theme it set, as the inbox shows it.
                "theme_percent": {slug: share for slug, share in current if share is not None},
            }


def iter_csv(items: Items, *, bom: bool = False) -> Iterator[str]:
    """CSV records of FIELDS, header first; ``bom`` starts it with a BOM for Excel."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def line(cells: Iterable[str]) -> str:
        writer.writerow(cells)
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    yield ("\ufeff" if bom else "") + line(FIELDS)
    for record in iter_records(items):
        record["themes"] = ";".join(record["themes"])
        record["theme_percent"] = _percent_cell(record["theme_percent"])
        yield line(csv_safe(record[name]) for name in FIELDS)


def iter_jsonl(items: Items) -> Iterator[str]:
    """One JSON object of FIELDS per line (themes as a list), UTF-8 kept as is."""
    for record in iter_records(items):
        text = json.dumps(record, ensure_ascii=False)
        yield text.translate(_LINE_SEPARATORS) + "\n"
