"""Accepting feedback: the one path every channel goes through."""

from __future__ import annotations

import functools
import hmac
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import Insert, String, bindparam, func, insert, select, text, update
from sqlalchemy.orm import make_transient_to_detached

from engage.engagements.models import Engagement
from engage.extensions import db, writer_queue
from engage.feedback.models import Channel, FeedbackItem, Status, Theme
from engage.feedback.themes import DEFAULT_THEMES
from engage.util import utcnow

log = logging.getLogger(__name__)

MIN_TEXT = 10
MAX_TEXT = 10_000
# Control characters other than tab, newline and carriage return.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_BREAK = re.compile(r"[\r\n]")


class InvalidSubmission(ValueError):
    """The submission cannot be stored; ``errors`` maps field name to message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


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
    extra: dict = field(default_factory=dict)


# Work that runs after the item is committed (classification, acknowledgement).
# Each step may fail; the item is already safe and the worker retries the step.
PostCommitStep = Callable[[FeedbackItem], None]
_post_commit_steps: list[tuple[str, PostCommitStep]] = []


# How a web request hands its post-commit work to the worker (engage.tasks sets it).
_hand_over: Callable[[], None] | None = None


def hand_post_commit_to(hand_over: Callable[[], None] | None) -> None:
    """With ENGAGE_POST_COMMIT_IN_WORKER, submit() calls ``hand_over()`` after its commit.

    ``hand_over`` asks the worker to run every owed post-commit step, for all new items
    in batches; when it fails (the queue is down) the worker's minute sweep still finds
    the work, since unclassified and unacknowledged items are marked in the table.
    """
    global _hand_over
    _hand_over = hand_over


def register_post_commit(name: str, step: PostCommitStep) -> None:
    """Run ``step(item)`` after every successful submit(); replaces a step of the same name."""
    for index, (existing, _) in enumerate(_post_commit_steps):
        if existing == name:
            _post_commit_steps[index] = (name, step)
            return
    _post_commit_steps.append((name, step))


def post_commit_steps() -> list[tuple[str, PostCommitStep]]:
    """The registered post-commit steps, in order (for batch paths that run them)."""
    return list(_post_commit_steps)


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


def validate(submission: Submission, *, engagement: Engagement | None = None) -> dict:
    """Check a submission and return the cleaned values (and its engagement).

    ``engagement``, when given, is the already loaded engagement the submission's slug
    names. Stores nothing; raises InvalidSubmission with a message per field.
    """
    errors: dict[str, str] = {}
    text = clean_text(submission.text)
    if len(text) < MIN_TEXT:
        errors["text"] = f"Enter your feedback (at least {MIN_TEXT} characters)"
    elif len(text) > MAX_TEXT:
        errors["text"] = f"Feedback must be {MAX_TEXT:,} characters or fewer"
    cleaned: dict = {"text": text}
    for name, limit in (("author_name", 200), ("author_email", 254), ("area", 120)):
        try:
            cleaned[name] = clean_line(getattr(submission, name), limit=limit)
        except ValueError as exc:
            errors[name] = f"{name.replace('_', ' ').capitalize()} {exc}"
    try:
        cleaned["subject"] = clean_line(submission.subject, limit=500)
    except ValueError:
        cleaned["subject"] = clean_text(submission.subject).replace("\n", " ")[:500] or None
    email = cleaned.get("author_email")
    if email and "author_email" not in errors:
        try:
            cleaned["author_email"] = validate_email_address(email)
        except ValueError:
            errors["author_email"] = (
                "Enter an email address in the correct format, like name@example.com"
            )
    if not errors:
        try:
            if engagement is not None and engagement.slug == submission.engagement_slug:
                cleaned["engagement"] = engagement
            else:
                cleaned["engagement"] = _find_engagement(submission.engagement_slug)
        except InvalidSubmission as invalid:
            errors.update(invalid.errors)
    engagement = cleaned.get("engagement")
    area = cleaned.get("area")
    if area and engagement is not None and engagement.areas and area not in engagement.areas:
        errors["area"] = "Choose an area from the list"
    if errors:
        raise InvalidSubmission(errors)
    return cleaned


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
        raise InvalidSubmission({"engagement": f"There is no engagement called {slug!r}"})
    return engagement


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
    """Validate, store and commit a feedback item, then run the post-commit steps.

    The steps run here, or in the worker when ENGAGE_POST_COMMIT_IN_WORKER is on (the
    default outside tests): a request then costs one insert and one commit.
    ``engagement`` is the engagement named by ``submission.engagement_slug`` when the
    caller has already loaded it (saves looking it up again).

    Raises InvalidSubmission (nothing stored) when the input is not acceptable.
    """
    cleaned = validate(submission, engagement=engagement)
    engagement = cleaned["engagement"]
    row = item_row(submission, cleaned, engagement.id if engagement else None)
    try:
        with writer_queue():
            insert_items([row])
            db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    item = _loaded_item(row)
    if current_app.config.get("ENGAGE_POST_COMMIT_IN_WORKER") and _hand_over is not None:
        try:
            _hand_over()
        except Exception:
            log.exception("could not queue the work after %s; the sweep will do it", item.reference)
    else:
        run_post_commit(item)
    return item


def _loaded_item(row: dict) -> FeedbackItem:
    """The committed row as a persistent FeedbackItem in the session, without a query.

    Columns not in ``row`` load when first read, as do the item's tags.
    """
    item = FeedbackItem(**row)
    make_transient_to_detached(item)
    db.session.add(item)
    return item


def run_post_commit(item: FeedbackItem) -> None:
    """Run every registered post-commit step; a failing step is logged and left for retry."""
    for name, step in list(_post_commit_steps):
        try:
            step(item)
        except Exception:
            db.session.rollback()
            log.exception(
                "post-commit step %s failed for %s; the worker will retry", name, item.reference
            )


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
