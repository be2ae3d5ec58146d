"""Staff's English translation of an item not in English, and its language (issue 24).

An item whose language is not English is never classified from its text (see
engage.languages.routing): it "needs translation" and the inbox shows it first. A staff
member with the triage role adds an English translation on the item page; it is kept
beside the original text (which is never changed), recorded in the audit log, and the
item is owed a classification again, which the normal classification job makes from
the translation. Staff may also correct the detected language.

Callers commit, then hand the item to engage.followup.post_commit (as new feedback is).
"""

from __future__ import annotations

from sqlalchemy import delete

from engage import audit, i18n
from engage.extensions import db
from engage.feedback import tally
from engage.feedback.models import FeedbackItem, TagSource, ThemeTag
from engage.languages import detect, names
from engage.staff.models import StaffUser
from engage.util import CONTROL_IN_TEXT, utcnow

# As long as feedback itself may be (engage.feedback.service.MAX_TEXT).
MAX_TRANSLATION = 10_000


class TranslationError(ValueError):
    """The translation or language cannot be saved; the message says why."""


def _clean(value: str | None) -> str:
    value = (value or "").replace("\r\n", "\n").replace("\r", "\n")
    return CONTROL_IN_TEXT.sub("", value).strip()


def _owe_classification(item: FeedbackItem) -> None:
    """Forget the model's reading of the item: the classification job reads it again."""
    with tally.changing([item.id]):  # the item may lose its themes
        db.session.execute(
            delete(ThemeTag).where(ThemeTag.item_id == item.id, ThemeTag.source == TagSource.MODEL)
        )
    db.session.expire(item, ["tags"])
    item.classified_at = None
    item.model_version = None
    item.certainty = None


def _refuse_purged(item: FeedbackItem) -> None:
    if item.purged:
        raise TranslationError(
            "Its text was removed under the retention policy: there is nothing to translate"
        )


def add_translation(item: FeedbackItem, text: str | None, *, by: StaffUser) -> bool:
    """Keep ``text`` as the item's English translation; True if it changed.

    The item leaves "needs translation" and is owed a classification from the
    translation. Raises TranslationError for an empty or over-long translation, or for
    an item in English.
    """
    _refuse_purged(item)
    text = _clean(text)
    if not text:
        raise TranslationError("Enter the English translation")
    if len(text) > MAX_TRANSLATION:
        raise TranslationError(f"The translation must be {MAX_TRANSLATION:,} characters or fewer")
    if item.language == detect.ENGLISH:
        raise TranslationError("This item is in English: it needs no translation")
    if text == item.translation:
        return False
    replaced = item.translation is not None
    item.translation = text
    item.translated_at = utcnow()
    item.translated_by_id = by.id
    item.needs_translation = False
    _owe_classification(item)
    audit.record(
        "item.translation",
        actor=by,
        target=item,
        detail={
            "language": item.language,
            "original_length": len(item.text),
            "translation_length": len(text),
            "replaced": replaced,
        },
    )
    return True


def set_language(item: FeedbackItem, code: str, *, by: StaffUser) -> bool:
    """Correct the item's language; True if it changed.

    The item is classified again: from its text if the language is now English (or it
    has a translation), otherwise it waits for a translation. Raises TranslationError
    for a code engage does not know.
    """
    _refuse_purged(item)
    if code not in names.NAMES:
        raise TranslationError("Choose a language from the list")
    if code == item.language:
        return False
    before = item.language
    item.language = code
    item.needs_translation = code != detect.ENGLISH and not item.translation
    _owe_classification(item)
    audit.record("item.language", actor=by, target=item, detail={"from": before, "to": code})
    return True


# ------------------------------------------------------- staff-written content


def content_locales() -> list[str]:
    """The languages staff may write an engagement or a response in: those a visitor can
    read the site in (engage.i18n.available(), the switcher's), but English. A page shows
    staff's text in the visitor's Babel locale, so text in any other language would
    never be shown."""
    return [code for code in i18n.available() if code != detect.ENGLISH]


def set_content_translation(
    obj: object, kind: str, locale: str, values: dict[str, str | None], *, by: StaffUser
) -> bool:
    """Keep staff's ``values`` ({field: text}) as ``obj``'s text in ``locale``; True if
    anything changed. ``kind`` is "engagement" or "response" (content.FIELDS). An empty
    field is removed (the page shows the English). Raises TranslationError."""
    from engage.languages.content import FIELDS

    if locale not in content_locales():
        raise TranslationError("Choose a language from the list")
    limits = FIELDS[kind]
    cleaned: dict[str, str] = {}
    for field, limit in limits.items():
        value = _clean(values.get(field))
        if len(value) > limit:
            raise TranslationError(
                f"The {field.replace('_', ' ')} must be {limit:,} characters or fewer"
            )
        if "\n" in value and field == "title":
            raise TranslationError("The title must be on one line")
        if value:
            cleaned[field] = value
    current = dict(getattr(obj, "translations", None) or {})
    if current.get(locale, {}) == cleaned:
        return False
    if cleaned:
        current[locale] = cleaned
    else:
        current.pop(locale, None)
    # A new dict: the JSON column sees the change.
    obj.translations = current or None
    audit.record(
        f"{kind}.translation",
        actor=by,
        target=obj,
        detail={"locale": locale, "fields": sorted(cleaned)},
    )
    return True
