"""The changes staff make to feedback items.

Theme corrections (kept as staff tags, which the next ``engage train`` learns from),
status changes, notes, redaction and bulk actions; and what the item page explains (the
model's suggestions and the words behind its tags). Every change adds an audit entry;
callers commit.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from engage import audit
from engage.extensions import db
from engage.feedback.models import FeedbackItem, Status, TagSource, Theme, ThemeTag
from engage.feedback.themes import percent
from engage.staff.models import ItemNote, StaffUser
from engage.util import MAX_DB_ID, utcnow

MAX_BULK = 500


class TriageError(ValueError):
    """A change staff asked for cannot be made; the message says why."""


def _theme_map() -> dict[str, Theme]:
    return {t.slug: t for t in db.session.scalars(select(Theme))}


def _current_slugs(item: FeedbackItem) -> list[str]:
    return sorted(t.slug for t in item.themes())


def set_themes(
    item: FeedbackItem, slugs: Iterable[str], *, by: StaffUser, whole: bool = True
) -> bool:
    """Replace the item's themes with staff tags; True if they changed.

    The model's tags are kept (for comparison and explanation) but no longer count.
    An empty set is a decision too: "reviewed, none of the themes". ``whole`` is False
    when staff decided one theme only (a bulk add or remove) and the rest are the
    item's themes as they were; engage.classify.agreement leaves such reviews out.
    """
    themes = _theme_map()
    wanted = sorted(set(slugs))
    unknown = [s for s in wanted if s not in themes]
    if unknown:
        raise TriageError(f"Unknown theme: {', '.join(unknown)}")
    before = _current_slugs(item)
    reviewed_before = item.themes_reviewed_at is not None
    # Change only the difference: a kept tag stays the same row (unique item/theme/source).
    staff_tags = {t.theme.slug: t for t in item.tags if t.source == TagSource.STAFF}
    for slug, tag in staff_tags.items():
        if slug not in wanted:
            item.tags.remove(tag)
    for slug in wanted:
        if slug not in staff_tags:
            item.tags.append(ThemeTag(theme=themes[slug], source=TagSource.STAFF, confidence=1.0))
    item.themes_reviewed_at = utcnow()
    item.themes_reviewed_by_id = by.id
    # A bulk change to an item already reviewed whole leaves every theme staff-decided.
    item.themes_reviewed_whole = whole or bool(reviewed_before and item.themes_reviewed_whole)
    changed = before != wanted or not reviewed_before
    if changed:
        audit.record(
            "item.themes", actor=by, target=item, detail={"before": before, "after": wanted}
        )
    return changed


def add_theme(item: FeedbackItem, slug: str, *, by: StaffUser) -> bool:
    return set_themes(item, set(_current_slugs(item)) | {slug}, by=by, whole=False)


def remove_theme(item: FeedbackItem, slug: str, *, by: StaffUser) -> bool:
    return set_themes(item, set(_current_slugs(item)) - {slug}, by=by, whole=False)


def set_status(item: FeedbackItem, status: Status, *, by: StaffUser) -> bool:
    """Change the workflow status; ``responded`` is set only by linking a response."""
    if item.status == status:
        return False
    if status == Status.RESPONDED:
        raise TriageError("Link the item to a response to mark it responded")
    before = item.status
    item.status = status
    audit.record(
        "item.status", actor=by, target=item, detail={"before": before.value, "after": status}
    )
    return True


def add_note(item: FeedbackItem, text: str, *, by: StaffUser) -> ItemNote:
    text = (text or "").strip()
    if not text:
        raise TriageError("Write the note")
    note = ItemNote(item_id=item.id, author_id=by.id, text=text[:5000])
    db.session.add(note)
    audit.record("item.note", actor=by, target=item, detail={"length": len(note.text)})
    return note


def notes_for(item: FeedbackItem) -> list[ItemNote]:
    return list(
        db.session.scalars(
            select(ItemNote)
            .where(ItemNote.item_id == item.id)
            .options(selectinload(ItemNote.author))
            .order_by(ItemNote.created_at, ItemNote.id)
        )
    )


def save_redaction(item: FeedbackItem, redacted_text: str, *, by: StaffUser) -> None:
    """Keep the copy that may be quoted; the original text is never changed."""
    if item.purged:
        raise TriageError(
            "Its text was removed under the retention policy: there is nothing to redact"
        )
    redacted_text = (redacted_text or "").strip()
    if not redacted_text:
        raise TriageError("Enter the redacted text")
    item.redacted_text = redacted_text[:10_000]
    item.redacted_at = utcnow()
    item.redacted_by_id = by.id
    audit.record(
        "item.redaction",
        actor=by,
        target=item,
        detail={"original_length": len(item.text), "redacted_length": len(item.redacted_text)},
    )


BULK_ACTIONS = {
    "add_theme": "Add a theme",
    "remove_theme": "Remove a theme",
    "triaged": "Mark triaged",
    "archived": "Archive",
    "spam": "Mark as spam",
}


def bulk(action: str, item_ids: Iterable[int], *, by: StaffUser, theme: str = "") -> int:
    """Apply one action to many items; returns how many changed."""
    if action not in BULK_ACTIONS:
        raise TriageError("Choose an action")
    ids = sorted({int(i) for i in item_ids})
    if not ids:
        raise TriageError("Select at least one item")
    if len(ids) > MAX_BULK:
        raise TriageError(f"Select at most {MAX_BULK} items at a time")
    if ids[-1] > MAX_DB_ID:
        raise TriageError("Some of the selected items no longer exist; nothing was changed")
    if action in ("add_theme", "remove_theme") and theme not in _theme_map():
        raise TriageError("Choose a theme")
    items = list(
        db.session.scalars(
            select(FeedbackItem)
            .where(FeedbackItem.id.in_(ids))
            .options(selectinload(FeedbackItem.tags))
        )
    )
    if len(items) != len(ids):
        raise TriageError("Some of the selected items no longer exist; nothing was changed")
    changed = 0
    # One flush for the whole change, not one per item when a read inside the loop
    # would flush: the counts kept for the dashboard (feedback.tally) are then read and
    # written once for the batch.
    with db.session.no_autoflush:
        for item in items:
            if action == "add_theme":
                changed += add_theme(item, theme, by=by)
            elif action == "remove_theme":
                changed += remove_theme(item, theme, by=by)
            elif item.status != Status.RESPONDED or action != "triaged":
                changed += set_status(item, Status(action), by=by)
    audit.record(
        "item.bulk", actor=by, detail={"action": action, "theme": theme, "count": len(ids)}
    )
    return changed


def suggestions(item: FeedbackItem, themes: Iterable[Theme], n: int = 2) -> list[tuple[Theme, int]]:
    """An unclassified item's likeliest themes by the active model, as (theme, percent),
    likeliest first, for staff to apply with one click.

    Only for an item the model has classified without any theme over its threshold and
    staff have not reviewed; only themes at or above the suggestion floor; none without
    a usable model, or once the text has been removed under the retention policy.
    """
    from engage.classify import service as classify

    if item.classified_at is None or item.themes_reviewed_at is not None or item.themes():
        return []
    if item.purged or item.needs_translation:  # issue 24
        return []
    by_slug = {theme.slug: theme for theme in themes}
    return [
        (by_slug[slug], percent(p))
        # Issue 24: the model read the English translation, when there is one.
        for slug, p in classify.suggest_themes(item.translation or item.text, n=n)
        if slug in by_slug
    ]


def explanation(item: FeedbackItem, limit: int = 6) -> dict[str, list[tuple[str, float]]]:
    """For each model theme on the item, the words that pushed the model towards it."""
    from engage.classify import service as classify

    model_tags = [t for t in item.tags if t.source == TagSource.MODEL]
    if not model_tags:
        return {}
    try:
        model, row = classify.load_active()
    except classify.NoModelError:
        return {}
    if row.version != item.model_version:
        return {}
    out = {}
    for tag in model_tags:
        try:
            # Issue 24: the words of the English translation, when the model read one.
            english = item.translation or item.text
            out[tag.theme.slug] = model.explain(english, tag.theme.slug, top=limit)
        except ValueError:
            continue
    return out
