"""Detect the language of items stored before detection existed (issue 24).

New items have their language detected by the classification job. Items classified
before migration 0016 have none: ``detect_missing()`` detects it, and an item not in
English (without a translation) becomes "needs translation" like a new one: the model's
tags, made by the English model from a text it could not read, are removed (staff tags
stay). `engage detect-languages` runs it.
"""

from __future__ import annotations

from sqlalchemy import delete, select, update

from engage.extensions import db
from engage.feedback import tally
from engage.feedback.models import FeedbackItem, TagSource, ThemeTag
from engage.languages import detect

BATCH = 500


def detect_missing(limit: int | None = None) -> dict[str, int]:
    """Detect the language of items that have none, a batch a commit; return
    {language: items} for what was detected."""
    found: dict[str, int] = {}
    done = 0
    last_id = 0
    while limit is None or done < limit:
        size = BATCH if limit is None else min(BATCH, limit - done)
        rows = db.session.execute(
            select(FeedbackItem.id, FeedbackItem.text, FeedbackItem.translation)
            .where(FeedbackItem.language.is_(None), FeedbackItem.id > last_id)
            .order_by(FeedbackItem.id)
            .limit(size)
        ).all()
        if not rows:
            break
        last_id = rows[-1].id
        by_language: dict[str, list[int]] = {}
        for item_id, text, _translation in rows:
            by_language.setdefault(detect.detect(text), []).append(item_id)
        untranslated = [
            item_id
            for item_id, text, translation in rows
            if translation is None and detect.detect(text) != detect.ENGLISH
        ]
        for language, ids in by_language.items():
            db.session.execute(
                update(FeedbackItem).where(FeedbackItem.id.in_(ids)).values(language=language)
            )
            found[language] = found.get(language, 0) + len(ids)
        if untranslated:
            with tally.changing(untranslated):  # the items lose their model themes
                db.session.execute(
                    delete(ThemeTag).where(
                        ThemeTag.item_id.in_(untranslated), ThemeTag.source == TagSource.MODEL
                    )
                )
            db.session.execute(
                update(FeedbackItem)
                .where(FeedbackItem.id.in_(untranslated))
                .values(needs_translation=True, model_version=None, certainty=None)
            )
        db.session.commit()
        done += len(rows)
    return found
