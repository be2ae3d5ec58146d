"""Which text of each item the theme classifier reads, by the item's language (issue 24).

The classifier is trained on English. Before a batch is classified
(engage.classify.service.plan_tags) its items are routed here:

- an item with staff's English translation is classified from the translation;
- an item whose language is not known yet has it detected from its text (the
  classification job is where every item's language is detected);
- an English item is classified from its text;
- any other item is not given to the model at all: it "needs translation" (no model
  tags, no certainty), and the inbox reads it first until staff translate it.

A language staff set by hand is kept (the detector is not asked again).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from engage.extensions import db
from engage.feedback.models import FeedbackItem
from engage.languages import detect


@dataclass
class Routed:
    """A batch split by language."""

    rows: list[tuple[int, str]] = field(default_factory=list)  # (id, English text) to classify
    languages: dict[int, str] = field(default_factory=dict)  # newly detected, by item id
    untranslated: set[int] = field(default_factory=set)  # items that need a translation


def route(rows: list[tuple[int, str]]) -> Routed:
    """Split (id, text) rows of committed items into what the model reads and what waits
    for a translation; detect the language of items that have none yet."""
    routed = Routed()
    if not rows:
        return routed
    known = {
        item_id: (language, translation)
        for item_id, language, translation in db.session.execute(
            select(FeedbackItem.id, FeedbackItem.language, FeedbackItem.translation).where(
                FeedbackItem.id.in_([item_id for item_id, _ in rows])
            )
        )
    }
    for item_id, text in rows:
        language, translation = known.get(item_id, (None, None))
        if translation:
            routed.rows.append((item_id, translation))
            continue
        if language is None:
            language = detect.detect(text)
            routed.languages[item_id] = language
        if language == detect.ENGLISH:
            routed.rows.append((item_id, text))
        else:
            routed.untranslated.add(item_id)
    return routed
