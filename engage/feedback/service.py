"""Accepting feedback: the one path every channel goes through.

intake() stores a list of submissions in one transaction, all or none, and only then
hands the new items to the one post-commit owner (engage.followup.post_commit:
classification and acknowledgement, here or in the worker). Every channel uses it:
submit() is intake() of one (the web form, with its double-submit key),
submit_many() a partner batch refused whole if any item is invalid (with its
Idempotency-Key), and email (the webhook, IMAP, `engage import-mail`) passes
submissions it has already checked, dropping the invalid ones rather than the batch.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Insert, String, bindparam, delete, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import make_transient_to_detached

from engage.engagements.models import Engagement
from engage.extensions import db, writer_queue
from engage.feedback.models import Channel, FeedbackItem, IdempotencyKey, Status, Theme
from engage.feedback.themes import DEFAULT_THEMES
from engage.i18n import _, _l
from engage.i18n import number as i18n_number
from engage.util import CONTROL_IN_TEXT, utcnow

log = logging.getLogger(__name__)

MIN_TEXT = 10
MAX_TEXT = 10_000
# Control characters other than tab, newline and carriage return.
_CONTROL = CONTROL_IN_TEXT
_LINE_BREAK = re.compile(r"[\r\n]")
# Characters no database column can hold: unpaired UTF-16 surrogates (JSON's "\ud800"
# decodes to one; UTF-8 cannot encode it). NUL and the other control characters are
# dropped from text by clean_text()/clean_line(); in a value used as it is (an
# engagement's slug) they are refused too.
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_UNSTORABLE_NAME = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_NUL = re.compile("\x00")

# The web form stores a post sent twice (a double click, a resend after a timeout) once
# when the same browser session sends the same text within this time.
DOUBLE_SUBMIT_WINDOW = timedelta(minutes=10)
# A partner's Idempotency-Key is remembered this long; after it the key may be reused.
IDEMPOTENCY_KEY_LIFETIME = timedelta(hours=24)


class InvalidSubmission(ValueError):
    """The submission cannot be stored; ``errors`` maps field name to message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class InvalidBatch(InvalidSubmission):
    """Some submissions of a batch cannot be stored, so none was.

    ``by_index`` maps each refused submission's position in the batch to its field
    errors; ``errors`` has the same messages keyed ``"<position>.<field>"``.
    """

    def __init__(self, by_index: dict[int, dict[str, str]]):
        super().__init__(
            {
                f"{index}.{name}": message
                for index, errs in by_index.items()
                for name, message in errs.items()
            }
        )
        self.by_index = by_index


class AlreadyStored(Exception):
    """The Idempotency-Key was used before for the same request: nothing new was stored,
    and ``references`` are what that request stored."""

    def __init__(self, references: list[str]):
        super().__init__(f"already stored as {', '.join(references[:3])}")
        self.references = references


class IdempotencyKeyReused(Exception):
    """The Idempotency-Key was used before for a different request; nothing was stored."""


@dataclass(frozen=True)
class Idempotency:
    """A partner's Idempotency-Key for one request, with the SHA-256 of its body."""

    partner_id: int
    key: str
    request_hash: str


@dataclass(frozen=True)
class Submission:
    """What a channel hands to submit(): plain values, no request objects."""

    text: str
    channel: Channel
    engagement_slug: str | None = None
    author_name: str | None = None
    author_email: str | None = None
    area: str | None = None
    consent_to_quote: bool = False
    contact_me: bool = False
    subject: str | None = None
    submitted_at: datetime | None = None
    # False for bulk loads (demo data, staff back-fill): no acknowledgement email.
    acknowledge: bool = True
    # The web form's double-submit key (form_submission_key()): submit() answers an
    # earlier item with the same key, sent within DOUBLE_SUBMIT_WINDOW, instead of
    # storing this one again.
    submission_key: str | None = None
    # The interface language the resident used (the web form's locale; engage.i18n):
    # their emails are written in it when it has a catalogue.
    ui_locale: str | None = None
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Checked:
    """A submission already validated (by validate()), with its cleaned values and its
    engagement's id: what a channel that validates ahead (email import, in its parsing
    thread) hands to intake(), which then stores it as it is."""

    submission: Submission
    cleaned: dict
    engagement_id: int | None


@dataclass
class Intake:
    """What intake() did with each submission, by position: ``items`` holds the stored
    item (or, for a post sent twice, the earlier one) or None for a dropped one,
    ``references`` their references (read before any work after the commit, which
    expires the items), and ``refused`` the field errors of each dropped one
    (``drop_invalid``)."""

    items: list[FeedbackItem | None]
    references: list[str | None]
    refused: dict[int, dict[str, str]] = field(default_factory=dict)

    def stored(self, item: FeedbackItem, index: int) -> None:
        self.items[index] = item
        self.references[index] = item.reference


class PostCommitOwner(Protocol):
    def after_commit(self, items: Sequence[FeedbackItem], *, here: bool = False) -> None: ...


# The one owner of the work after a commit (engage.followup.post_commit; create_app sets
# it): classification and acknowledgement, here or in the worker.
_post_commit: PostCommitOwner | None = None


def follow_up_with(owner: PostCommitOwner | None) -> None:
    """Hand every commit's new items to ``owner.after_commit()`` (create_app calls this)."""
    global _post_commit
    _post_commit = owner


def clean_text(value: str | None) -> str:
    """Normalise line endings and drop control characters (keeps tabs and newlines)."""
    if value is None:
        return ""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", value).strip()


def clean_line(value: str | None, *, limit: int) -> str | None:
    """Return a single-line value, or None when empty; rejects CR/LF outright."""
    if value is None:
        return None
    if _LINE_BREAK.search(value):
        raise ValueError("must be on one line")
    value = _CONTROL.sub("", value).strip()
    if len(value) > limit:
        raise ValueError(f"must be {limit} characters or fewer")
    return value or None


def validate(
    submission: Submission,
    *,
    engagements: Mapping[str, Engagement | None] | None = None,
    refuse_nul: bool = False,
) -> dict:
    """Check a submission and return the cleaned values (and its engagement).

    ``engagements`` maps slugs already looked up to their engagement (None: no such
    engagement). ``refuse_nul`` refuses a NUL in any field (a program sent it;
    PostgreSQL cannot store one) instead of dropping it as for a person's typing.
    Stores nothing; raises InvalidSubmission with a message per field.
    """
    errors: dict[str, str] = {}
    if refuse_nul:
        for field in ("text", "author_name", "author_email", "area"):
            raw = getattr(submission, field)
            if isinstance(raw, str) and (nul := _NUL.search(raw)):
                errors[field] = _describe(_field_label(field), raw, nul)
        if errors:
            raise InvalidSubmission(errors)
    text = clean_text(submission.text)
    if unstorable := _unstorable(_field_label("text"), text):
        errors["text"] = unstorable
    elif len(text) < MIN_TEXT:
        errors["text"] = _("Enter your feedback (at least %(num)s characters)", num=MIN_TEXT)
    elif len(text) > MAX_TEXT:
        errors["text"] = _(
            "Feedback must be %(num)s characters or fewer", num=i18n_number(MAX_TEXT)
        )
    cleaned: dict = {"text": text}
    for name, limit in (("author_name", 200), ("author_email", 254), ("area", 120)):
        label = _field_label(name)
        try:
            cleaned[name] = clean_line(getattr(submission, name), limit=limit)
        except ValueError as exc:
            errors[name] = _("%(field)s %(problem)s", field=label, problem=str(exc))
            continue
        if unstorable := _unstorable(label, cleaned[name]):
            errors[name] = unstorable
    try:
        cleaned["subject"] = clean_line(submission.subject, limit=500)
    except ValueError:
        cleaned["subject"] = clean_text(submission.subject).replace("\n", " ")[:500] or None
    if cleaned["subject"]:  # a subject is kept, never the reason to refuse the feedback
        cleaned["subject"] = _SURROGATE.sub("\ufffd", cleaned["subject"])
    slug = submission.engagement_slug
    if slug and (bad := _UNSTORABLE_NAME.search(slug)):
        errors["engagement"] = _describe(_field_label("engagement"), slug, bad)
    email = cleaned.get("author_email")
    if email and "author_email" not in errors:
        try:
            cleaned["author_email"] = validate_email_address(email)
        except ValueError:
            errors["author_email"] = _(
                "Enter an email address in the correct format, like name@example.com"
            )
    if not errors:
        try:
            slug = submission.engagement_slug
            if slug and engagements is not None and slug in engagements:
                cleaned["engagement"] = engagements[slug]
                if cleaned["engagement"] is None:
                    raise InvalidSubmission({"engagement": _no_engagement(slug)})
            else:
                cleaned["engagement"] = _find_engagement(submission.engagement_slug)
        except InvalidSubmission as invalid:
            errors.update(invalid.errors)
    engagement = cleaned.get("engagement")
    area = cleaned.get("area")
    if area and engagement is not None and engagement.areas and area not in engagement.areas:
        errors["area"] = _("Choose an area from the list")
    if errors:
        raise InvalidSubmission(errors)
    return cleaned


def _field_label(field: str) -> str:
    """A field's name as the start of an error message ("Feedback", "Author name")."""
    labels = {
        "text": _l("Feedback"),
        "author_name": _l("Author name"),
        "author_email": _l("Author email"),
        "area": _l("Area"),
        "engagement": _l("Engagement"),
    }
    return str(labels[field])


def _unstorable(label: str, value: str | None) -> str | None:
    """Why ``value`` cannot be stored, as a sentence naming its field, or None."""
    if value and (bad := _SURROGATE.search(value)):
        return _describe(label, value, bad)
    return None


def _describe(label: str, value: str, bad: re.Match) -> str:
    char = bad.group()
    if char == "\x00":
        kind = _("a NUL character")
    elif "\ud800" <= char <= "\udfff":
        kind = _("an unpaired surrogate")
    else:
        kind = _("a control character")
    code = f"{ord(char):04X}"
    return _(
        "%(field)s contains a character that cannot be stored: %(kind)s, U+%(code)s, "
        "at position %(position)s",
        field=label,
        kind=kind,
        code=code,
        position=bad.start() + 1,
    )


def validate_email_address(email: str) -> str:
    """The normalised address; raises ValueError when it is not a valid email address."""
    try:
        return validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise ValueError(str(error)) from error


def _find_engagement(slug: str | None) -> Engagement | None:
    if not slug:
        return None
    engagement = db.session.scalar(select(Engagement).where(Engagement.slug == slug))
    if engagement is None:
        raise InvalidSubmission({"engagement": _no_engagement(slug)})
    return engagement


def _no_engagement(slug: str) -> str:
    return _("There is no engagement called %(slug)s", slug=repr(slug))


def make_reference(item_id: int, when: datetime) -> str:
    """Return the human reference for an item, such as ``YS-2026-000042``."""
    return f"{_reference_prefix(when)}{item_id:06d}"


def _reference_prefix(when: datetime) -> str:
    return f"YS-{when.year}-"


def item_row(submission: Submission, cleaned: dict, engagement_id: int | None) -> dict:
    """The columns of the item that ``submission`` (validated as ``cleaned``) becomes.

    The reference is a unique placeholder until insert_items() knows the item's id.
    """
    return {
        "reference": f"pending-{uuid.uuid4().hex}",
        "engagement_id": engagement_id,
        "channel": submission.channel,
        "submitted_at": submission.submitted_at or utcnow(),
        "text": cleaned["text"],
        "subject": cleaned["subject"],
        "author_name": cleaned["author_name"],
        "author_email": cleaned["author_email"],
        "area": cleaned["area"],
        "consent_to_quote": submission.consent_to_quote,
        "contact_me": bool(submission.contact_me and cleaned["author_email"]),
        "status": Status.NEW,
        "ack_pending": bool(submission.acknowledge and cleaned["author_email"]),
        "submission_key": submission.submission_key,
        "ui_locale": submission.ui_locale,
        **submission.extra,
    }


def insert_items(rows: list[dict]) -> list[tuple[int, str]]:
    """Insert item rows (from item_row()) in the caller's transaction; their ids and
    references, in order. The caller commits.

    Core statements on the table, not the ORM: no objects to build, flush and reload,
    and one INSERT for many rows (the ORM would split them into one statement per run of
    rows with the same NULL columns). New feedback moves no public page version. Each
    row is given its ``id`` and final reference.
    """
    if not rows:
        return []
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        _insert_with_sequence(rows)
    elif dialect == "sqlite" and len(rows) == 1:
        _insert_one_sqlite(rows[0])
    else:
        _insert_then_reference(rows)
    return [(row["id"], row["reference"]) for row in rows]


def _insert_with_sequence(rows: list[dict]) -> None:
    """PostgreSQL: take the ids from the sequence first, so each row is written once
    with its reference (every later UPDATE would rewrite the row and its indexes)."""
    ids = db.session.scalars(_NEXT_IDS, {"n": len(rows)}).all()
    for row, item_id in zip(rows, ids, strict=True):
        row["id"] = item_id
        row["reference"] = make_reference(item_id, row["submitted_at"])
    db.session.execute(insert(FeedbackItem.__table__), rows)


_NEXT_IDS = text(
    "SELECT nextval(pg_get_serial_sequence('feedback_item', 'id')) FROM generate_series(1, :n)"
)


def _insert_one_sqlite(row: dict) -> None:
    """SQLite, one row (the form's case): one statement that takes the next id itself.

    The next id is max(id) + 1, which is how SQLite numbers a row whose key is not
    given (the table has no AUTOINCREMENT), read and used inside the one INSERT that
    holds the database's write lock; the reference is built from it in the same
    statement. A statement fewer than insert-then-update is a shorter hold on the lock
    every writer waits for.
    """
    columns = tuple(name for name in row if name not in ("id", "reference"))
    params = {name: row[name] for name in columns}
    params["reference_prefix"] = _reference_prefix(row["submitted_at"])
    row["id"] = db.session.execute(_insert_one_statement(columns), params).lastrowid
    row["reference"] = make_reference(row["id"], row["submitted_at"])


@functools.cache
def _insert_one_statement(columns: tuple[str, ...]) -> Insert:
    table = FeedbackItem.__table__
    next_id = select((func.coalesce(func.max(table.c.id), 0) + 1).label("id")).subquery()
    values = select(
        next_id.c.id,
        bindparam("reference_prefix", type_=String) + func.printf("%06d", next_id.c.id),
        *(bindparam(name, type_=table.c[name].type) for name in columns),
    )
    return insert(table).from_select(["id", "reference", *columns], values)


def _insert_then_reference(rows: list[dict]) -> None:
    """Elsewhere one INSERT (the ids come back by the placeholder references, whatever
    order the database returns them in) and one UPDATE run for all the rows."""
    table = FeedbackItem.__table__
    by_placeholder = dict(
        db.session.execute(insert(table).returning(table.c.reference, table.c.id), rows).all()
    )
    for row in rows:
        row["id"] = by_placeholder[row["reference"]]
        row["reference"] = make_reference(row["id"], row["submitted_at"])
    db.session.execute(
        update(table).where(table.c.id == bindparam("item_id")),
        [{"item_id": row["id"], "reference": row["reference"]} for row in rows],
    )


def submit(submission: Submission, *, engagement: Engagement | None = None) -> FeedbackItem:
    """Validate, store and commit one feedback item (the web form): intake() of one.

    ``engagement`` is the engagement named by ``submission.engagement_slug`` when the
    caller has already loaded it (saves looking it up again). With a ``submission_key``
    an item stored with the same key within DOUBLE_SUBMIT_WINDOW is returned instead
    and nothing is stored. Raises InvalidSubmission (nothing stored) when the input is
    not acceptable.
    """
    known = {engagement.slug: engagement} if engagement is not None else None
    try:
        result = intake([submission], engagements=known, refuse_nul=False)
    except InvalidBatch as invalid:
        raise InvalidSubmission(invalid.by_index[0]) from None
    return result.items[0]


def submit_many(
    submissions: Iterable[Submission], *, idempotency: Idempotency | None = None
) -> list[str]:
    """Store a list of submissions in one transaction, all or none; their references
    (the partner API): intake() refusing the whole batch if any submission is invalid."""
    return [r for r in intake(submissions, idempotency=idempotency).references if r]


def intake(
    submissions: Iterable[Submission | Checked],
    *,
    idempotency: Idempotency | None = None,
    drop_invalid: bool = False,
    refuse_nul: bool = True,
    engagements: Mapping[str, Engagement | None] | None = None,
    follow_up_here: bool = False,
) -> Intake:
    """Store submissions in one transaction, all or none, then hand them to the one
    post-commit owner: the one way feedback is stored, whatever the channel.

    Each Submission is validated first (the engagements named looked up in one query;
    ``engagements`` maps slugs the caller has already loaded); a Checked one was
    validated by its caller. If any is not acceptable, InvalidBatch says which and why
    and nothing is stored, or with ``drop_invalid`` (email) those are left out and
    listed in ``Intake.refused`` and the others stored. The rows are then inserted and
    committed together, so a failure at any point before the commit (an error, a lost
    connection, a killed process) leaves none of them. ``refuse_nul`` refuses a NUL
    (a program sent it) rather than dropping it (a person's typing).

    Only after the commit are the items handed to the post-commit owner (classification
    and acknowledgement: now, or in the worker with ENGAGE_POST_COMMIT_IN_WORKER;
    ``follow_up_here`` always now).

    A Submission with a ``submission_key`` (the web form) that matches an item stored
    within DOUBLE_SUBMIT_WINDOW is answered with that item and not stored again: one
    index seek before anything else. The key's unique index settles two posts racing.

    With ``idempotency`` (a partner's Idempotency-Key) the key is recorded with the
    references in the same transaction. If the key was recorded before for the same
    request, nothing is stored and AlreadyStored carries the earlier references; for a
    different request, IdempotencyKeyReused. Either can also come from a concurrent
    request with the same key that committed first.
    """
    submissions = list(submissions)
    if idempotency is not None:
        earlier = stored_under(idempotency)
        if earlier is not None:
            raise AlreadyStored(earlier)
    result = Intake(items=[None] * len(submissions), references=[None] * len(submissions))
    if not submissions:
        return result
    keys = {
        s.submission_key: index
        for index, s in enumerate(submissions)
        if isinstance(s, Submission) and s.submission_key
    }
    answered, stale = _sent_before(keys)
    for index, item in answered.items():
        result.stored(item, index)
    wanted = [
        s.engagement_slug
        for s in submissions
        if isinstance(s, Submission) and not (engagements and s.engagement_slug in engagements)
    ]
    known = {**_engagements_named(wanted), **(engagements or {})}
    rows: list[dict] = []
    positions: list[int] = []
    for index, submission in enumerate(submissions):
        if index in answered:
            continue
        if isinstance(submission, Checked):
            rows.append(
                item_row(submission.submission, submission.cleaned, submission.engagement_id)
            )
            positions.append(index)
            continue
        try:
            cleaned = validate(submission, engagements=known, refuse_nul=refuse_nul)
        except InvalidSubmission as invalid:
            result.refused[index] = invalid.errors
            continue
        engagement = cleaned["engagement"]
        rows.append(item_row(submission, cleaned, engagement.id if engagement else None))
        positions.append(index)
    if result.refused and not drop_invalid:
        raise InvalidBatch(result.refused)
    if not rows:
        return result
    try:
        with writer_queue():
            if stale:  # sent again after the window: the new item takes the key
                db.session.execute(
                    update(FeedbackItem)
                    .where(FeedbackItem.id.in_(stale))
                    .values(submission_key=None)
                    .execution_options(synchronize_session=False)
                )
            references = [reference for _, reference in insert_items(rows)]
            if idempotency is not None:
                _record_key(idempotency, references)
            db.session.commit()
    except IntegrityError:
        db.session.rollback()
        if idempotency is not None:
            earlier = stored_under(idempotency)  # raises IdempotencyKeyReused for another body
            if earlier is not None:
                raise AlreadyStored(earlier) from None
        if keys and len(keys) == len(rows):  # the same posts, sent at the same moment
            first, _ = _sent_before(keys, window=None)
            if len(first) == len(keys):
                for index, item in first.items():
                    result.stored(item, index)
                return result
        raise
    except BaseException:
        db.session.rollback()
        raise
    stored = [_loaded_item(row) for row in rows]
    for index, item in zip(positions, stored, strict=True):
        result.stored(item, index)
    if _post_commit is not None:
        _post_commit.after_commit(stored, here=follow_up_here)
    return result


def _sent_before(
    keys: Mapping[str, int], *, window: timedelta | None = DOUBLE_SUBMIT_WINDOW
) -> tuple[dict[int, FeedbackItem], list[int]]:
    """Items stored under these double-submit keys: those within ``window`` by the
    position of the submission they answer, and the ids of the older ones."""
    if not keys:
        return {}, []
    column = FeedbackItem.submission_key
    # The form's case, one key, is one index seek.
    where = column == next(iter(keys)) if len(keys) == 1 else column.in_(list(keys))
    answered: dict[int, FeedbackItem] = {}
    stale: list[int] = []
    for earlier in db.session.scalars(select(FeedbackItem).where(where)):
        if window is None or earlier.submitted_at >= utcnow() - window:
            log.info("a post sent again within the window: answered with %s", earlier.reference)
            answered[keys[earlier.submission_key]] = earlier
        else:
            stale.append(earlier.id)
    return answered, stale


def stored_under(idempotency: Idempotency) -> list[str] | None:
    """The references stored by the request that used this Idempotency-Key, or None when
    the partner has not used the key (within IDEMPOTENCY_KEY_LIFETIME).

    Raises IdempotencyKeyReused when the key was used for a request with another body.
    """
    row = db.session.execute(
        select(IdempotencyKey.request_hash, IdempotencyKey.item_references).where(
            IdempotencyKey.partner_id == idempotency.partner_id,
            IdempotencyKey.key == idempotency.key,
            IdempotencyKey.created_at >= utcnow() - IDEMPOTENCY_KEY_LIFETIME,
        )
    ).first()
    if row is None:
        return None
    if not hmac.compare_digest(row.request_hash, idempotency.request_hash):
        raise IdempotencyKeyReused(idempotency.key)
    return list(row.item_references)


def request_hash(payload: object) -> str:
    """SHA-256 of a JSON request body, the same however its keys were ordered or spaced."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _record_key(idempotency: Idempotency, references: list[str]) -> None:
    """Record the key in the caller's transaction; the partner's expired keys go first
    (so an expired key can be used again)."""
    db.session.execute(
        delete(IdempotencyKey)
        .where(
            IdempotencyKey.partner_id == idempotency.partner_id,
            IdempotencyKey.created_at < utcnow() - IDEMPOTENCY_KEY_LIFETIME,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        insert(IdempotencyKey),
        {
            "partner_id": idempotency.partner_id,
            "key": idempotency.key,
            "request_hash": idempotency.request_hash,
            "item_references": references,
            "created_at": utcnow(),
        },
    )


def form_submission_key(session_id: str, submission: Submission) -> str:
    """The double-submit key of a web form post: the same browser session (``session_id``,
    a secret of the session) sending the same text to the same place gets the same key."""
    values = [
        session_id,
        submission.engagement_slug,
        submission.subject,
        clean_text(submission.text),
    ]
    canonical = json.dumps(values, ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _engagements_named(slugs: Iterable[str | None]) -> dict[str, Engagement | None]:
    """The engagements these slugs name, in one query (None for a slug naming none).

    A slug that could not be stored is left out: validate() refuses it by itself.
    """
    wanted = {slug for slug in slugs if slug and not _UNSTORABLE_NAME.search(slug)}
    if not wanted:
        return {}
    found = {
        engagement.slug: engagement
        for engagement in db.session.scalars(select(Engagement).where(Engagement.slug.in_(wanted)))
    }
    return {slug: found.get(slug) for slug in wanted}


def _loaded_item(row: dict) -> FeedbackItem:
    """The committed row as a persistent FeedbackItem in the session, without a query.

    Columns not in ``row`` load when first read, as do the item's tags.
    """
    item = FeedbackItem(**row)
    make_transient_to_detached(item)
    db.session.add(item)
    return item


def find_for_tracking(reference: str | None, email: str | None) -> FeedbackItem | None:
    """The item with this reference, only if ``email`` is the address it was sent with."""
    reference = (reference or "").strip().upper()
    email = (email or "").strip().lower()
    if not reference or not email:
        return None
    item = db.session.scalar(select(FeedbackItem).where(FeedbackItem.reference == reference))
    stored = (item.author_email or "").lower() if item else ""
    # Compare in constant time, and the same way whether or not the reference exists.
    if not hmac.compare_digest(stored.encode(), email.encode()) or not stored:
        return None
    return item


def ensure_default_themes() -> list[Theme]:
    """Create any of the five default themes that are missing; return all themes in order."""
    existing = {t.slug for t in db.session.scalars(select(Theme))}
    for position, (slug, name, description) in enumerate(DEFAULT_THEMES):
        if slug not in existing:
            db.session.add(Theme(slug=slug, name=name, description=description, position=position))
    db.session.commit()
    return list(db.session.scalars(select(Theme).order_by(Theme.position)))
