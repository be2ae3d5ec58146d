"""Feedback not in English (issue 24): detected, marked "needs translation", read first
in triage, translated by staff (audited, the original kept) and then classified."""

from __future__ import annotations

from sqlalchemy import select

from engage.audit import AuditEvent
from engage.extensions import db
from engage.feedback.models import FeedbackItem, TagSource, ThemeTag
from engage.staff import inbox
from engage.staff.models import Role

POLISH = "Czekałem trzy tygodnie na wizytę u lekarza rodzinnego, a rejestracja nie odbiera."
ENGLISH_TRANSLATION = (
    "I waited three weeks for an appointment with my GP and reception never answers "
    "the phone; the waiting list for appointments is far too long."
)


def _model_tags(item_id: int) -> list[ThemeTag]:
    return list(
        db.session.scalars(
            select(ThemeTag).where(ThemeTag.item_id == item_id, ThemeTag.source == TagSource.MODEL)
        )
    )


def test_polish_feedback_needs_translation_and_is_not_read_by_the_model(trained, make_item):
    item = make_item(POLISH)
    db.session.refresh(item)
    assert item.language == "pl"
    assert item.needs_translation is True
    assert item.classified_at is not None  # the job has seen it: not left "unclassified"
    assert item.model_version is None and item.certainty is None
    assert _model_tags(item.id) == []


def test_english_feedback_is_classified_as_before(trained, make_item):
    item = make_item("The waiting list for a GP appointment is far too long in Harrow.")
    db.session.refresh(item)
    assert item.language == "en"
    assert item.needs_translation is False
    assert item.model_version == trained.version
    assert item.certainty is not None


def test_needs_translation_comes_first_in_triage(trained, make_item):
    english = [
        make_item(f"My GP surgery in Brent never answers the phone, week {n}.") for n in range(3)
    ]
    polish = make_item(POLISH)
    # newer English items after the Polish one
    later = make_item("Parking at Northwick Park hospital costs far too much for visitors.")
    page = inbox.inbox_page(inbox.InboxFilters(), 1)
    ids = [row.id for row in page.items]
    assert ids[0] == polish.id
    assert set(ids) == {polish.id, later.id, *(e.id for e in english)}
    first = page.items[0]
    assert first.language == "pl" and first.needs_translation is True


def test_the_inbox_order_follows_whether_anything_waits_for_a_translation(trained, make_item):
    # With nothing waiting, the inbox's statement leaves the "waiting" part out (SQLite
    # read it row by row through another index); once an item waits it comes first
    # again, and once it no longer waits the page still holds every item once.
    english = [make_item(f"The walk-in centre in Ealing shut early, day {n}.") for n in range(3)]
    first = inbox.inbox_page(inbox.InboxFilters(), 1)
    assert [row.id for row in first.items] == [e.id for e in reversed(english)]
    polish = make_item(POLISH)
    newest = make_item("Parking at Northwick Park hospital costs far too much for visitors.")
    waiting = [row.id for row in inbox.inbox_page(inbox.InboxFilters(), 1).items]
    assert waiting[0] == polish.id and waiting[1] == newest.id
    db.session.get(FeedbackItem, polish.id).needs_translation = False
    db.session.commit()
    after = [row.id for row in inbox.inbox_page(inbox.InboxFilters(), 1).items]
    assert sorted(after) == sorted([polish.id, newest.id, *(e.id for e in english)])


def test_translation_is_audited_kept_beside_the_original_and_classified(
    trained, make_item, signed_in
):
    item = make_item(POLISH)
    client = signed_in(Role.TRIAGER)
    page = client.get(f"/staff/items/{item.id}")
    assert "Needs translation" in page.text
    assert f'action="/staff/items/{item.id}/translation"' in page.text

    response = client.post(
        f"/staff/items/{item.id}/translation", data={"translation": ENGLISH_TRANSLATION}
    )
    assert response.status_code == 302
    db.session.expire_all()
    found = db.session.get(FeedbackItem, item.id)
    assert found.text == POLISH  # the original is never overwritten
    assert found.translation == ENGLISH_TRANSLATION
    assert found.translated_by_id is not None and found.translated_at is not None
    assert found.needs_translation is False
    assert found.language == "pl"
    # The normal classification step ran on the translation.
    assert found.classified_at is not None
    assert found.model_version == trained.version
    slugs = {tag.theme.slug for tag in _model_tags(found.id)}
    assert "services" in slugs, slugs
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "item.translation"))
    assert event is not None and event.target_id == str(item.id)
    assert event.detail["language"] == "pl"
    # Out of the "needs translation" head of the queue.
    page = inbox.inbox_page(inbox.InboxFilters(), 1)
    assert [row.needs_translation for row in page.items] == [False]


def test_a_viewer_cannot_translate(trained, make_item, signed_in):
    item = make_item(POLISH)
    client = signed_in(Role.VIEWER)
    response = client.post(f"/staff/items/{item.id}/translation", data={"translation": "x y z"})
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(FeedbackItem, item.id).translation is None


def test_an_empty_translation_is_refused(trained, make_item, signed_in):
    item = make_item(POLISH)
    client = signed_in(Role.TRIAGER)
    response = client.post(
        f"/staff/items/{item.id}/translation", data={"translation": "  "}, follow_redirects=True
    )
    assert "Enter the English translation" in response.text
    db.session.expire_all()
    assert db.session.get(FeedbackItem, item.id).needs_translation is True


def test_staff_correct_the_language_to_english(trained, make_item, signed_in):
    item = make_item(POLISH)  # say the detector were wrong: staff have the last word
    db.session.refresh(item)
    assert item.language == "pl"
    client = signed_in(Role.TRIAGER)
    client.post(f"/staff/items/{item.id}/language", data={"language": "en"})
    db.session.expire_all()
    found = db.session.get(FeedbackItem, item.id)
    assert found.language == "en" and found.needs_translation is False
    assert found.model_version == trained.version  # classified from its own text now
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "item.language"))


def test_the_retention_purge_removes_the_translation(trained, make_item, make_staff):
    from datetime import timedelta

    from engage import retention
    from engage.staff import translation
    from engage.util import utcnow

    item = make_item(POLISH)
    translation.add_translation(item, ENGLISH_TRANSLATION, by=make_staff(Role.TRIAGER))
    item.submitted_at = utcnow() - timedelta(days=800)
    db.session.commit()
    retention.purge(730)
    db.session.expire_all()
    found = db.session.get(FeedbackItem, item.id)
    assert found.translation is None
    assert found.text == retention.PLACEHOLDER
    assert found.needs_translation is False
    assert found.language == "pl"  # the language is a count, kept
