"""Turn inbound email into feedback items, one message or a whole mailbox at a time.

A single message (the webhook, IMAP polling) goes through ingest(), which ends in
feedback.service.submit(). A mailbox import goes through ingest_many(), which stores
messages in batches: every message is parsed and validated on its own, the batch's
Message-IDs are checked against the database in one query, its new items are inserted
in one transaction and committed, and only then are they classified (one prediction
for the batch) and acknowledged (queued in the outbox) and committed again. A crash
between the two commits leaves stored items that are unclassified and owed an
acknowledgement: the worker's sweeps finish them, as they do for submit().

One bad message never stops a batch: it is counted as rejected, with a reason worded
for an email, and a batch the database refuses is stored again message by message.
Every message that is rejected or ignored (an automatic reply, a bounce, the
platform's own mail) is kept in the Summary with where it came from and why, so that
`engage import-mail` can report each one.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from engage.engagements.models import Engagement
from engage.extensions import db, writer_queue
from engage.feedback import retention
from engage.feedback import service as feedback
from engage.feedback.models import Channel, FeedbackItem
from engage.mail import outbox, parsing

log = logging.getLogger(__name__)

IMPORTED, DUPLICATE, AUTO_REPLY, REJECTED = "imported", "duplicates", "auto_replies", "rejected"
_TRUNCATED = "\n\n[The rest of this message was longer than we can store.]"
# Added to the text of a message over a MIME limit (too many parts, nested too deeply).
_UNREAD = "\n\n[Part of this email was not read: {reason}.]"
# Messages stored per transaction by ingest_many(): large enough that commits and the
# classifier's fixed cost per call are spread thin, small enough to hold in memory.
BATCH_SIZE = 200


@dataclass
class Outcome:
    """What happened to one message, and which message it was."""

    result: str
    reference: str | None = None
    reason: str | None = None
    source: str = ""  # where it was read: "mbox:PATH#N", "eml:PATH", "imap:FOLDER/UID" …
    message_id: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        """The outcome of a dropped message as `engage import-mail --json` lists it."""
        return {
            "source": self.source or None,
            "message_id": self.message_id,
            "result": self.result,
            "reason": self.reason,
        }


@dataclass
class Summary:
    """Counts for a batch, in the shape `engage import-mail --json` prints, and every
    message that was rejected or ignored (``dropped``), in the order they were read.

    ``on_dropped``, when set, is called with each of those as it is counted.
    """

    counts: Counter = field(default_factory=Counter)
    dropped: list[Outcome] = field(default_factory=list)
    on_dropped: Callable[[Outcome], None] | None = None

    def add(self, outcome: Outcome) -> None:
        self.counts[outcome.result] += 1
        if outcome.result in (REJECTED, AUTO_REPLY):
            self.dropped.append(outcome)
            if self.on_dropped is not None:
                self.on_dropped(outcome)

    def as_dict(self) -> dict[str, int]:
        return {key: self.counts[key] for key in (IMPORTED, DUPLICATE, AUTO_REPLY, REJECTED)}

    def report(self) -> dict:
        """The counts and the list of dropped messages (`--json`)."""
        return {**self.as_dict(), "dropped": [outcome.as_dict() for outcome in self.dropped]}


def _limits() -> parsing.ParseLimits:
    config = current_app.config
    return parsing.ParseLimits(
        max_bytes=config.get("INBOUND_MAX_BYTES", 10 * 1024 * 1024),
        max_parts=config.get("INBOUND_MAX_PARTS", 100),
        max_depth=config.get("INBOUND_MAX_DEPTH", 10),
    )


def _own_addresses() -> frozenset[str]:
    config = current_app.config
    addresses = {config["MAIL_DEFAULT_SENDER"], config["ENGAGE_FEEDBACK_ADDRESS"]}
    return frozenset(a.rpartition("<")[2].rstrip(">").strip().lower() for a in addresses if a)


class _Engagements:
    """Every engagement, read in one query, to route many messages without one each."""

    def __init__(self) -> None:
        rows = db.session.execute(
            select(Engagement.id, Engagement.slug, Engagement.title, Engagement.email_address)
        ).all()
        self.ids = {row.slug: row.id for row in rows}
        self.addresses = {row.email_address.lower(): row.slug for row in rows if row.email_address}
        self.titles = [
            (row.title.lower(), row.slug) for row in sorted(rows, key=lambda r: -len(r.title))
        ]

    def choose(self, message: parsing.ParsedMessage) -> str | None:
        """Plus-address, then an engagement's own address, then its title in the subject."""
        slug = parsing.engagement_hint(message, mapping=self.addresses)
        if slug in self.ids:
            return slug
        subject = (message.subject or "").lower()
        for title, slug in self.titles:
            if title in subject or slug in subject:
                return slug
        return None


def _text(message: parsing.ParsedMessage) -> str:
    """The item's text: the sender's words (with the subject when they are very short),
    marked where a limit cut them; RejectedMessage, worded for an email, when there is
    too little to record."""
    text = message.text or ""
    if len(feedback.clean_text(text)) < feedback.MIN_TEXT and message.subject:
        text = f"{message.subject}\n\n{text}".strip()
    length = len(feedback.clean_text(text))
    if length < feedback.MIN_TEXT:
        if message.attachment_names and not (message.text or "").strip():
            names = ", ".join(message.attachment_names[:5])
            raise parsing.RejectedMessage(
                f"the email has no text to record, only attachments ({names}), which are not kept"
            )
        if not length:
            raise parsing.RejectedMessage("the email has no text to record (no body or subject)")
        raise parsing.RejectedMessage(
            f"the email's text is too short to record ({length} characters with the subject; "
            f"at least {feedback.MIN_TEXT} are needed)"
        )
    note = _UNREAD.format(reason=message.truncated) if message.truncated else ""
    if len(text) + len(note) > feedback.MAX_TEXT:
        text = text[: feedback.MAX_TEXT - len(_TRUNCATED) - len(note)] + _TRUNCATED
    return text + note


def _email_reason(errors: dict[str, str]) -> str:
    """A validation failure worded for an email rather than for the web form."""
    if "text" in errors:
        return f"the email's text cannot be stored: {errors['text'][:200]}"
    fields = ", ".join(name.replace("_", " ") for name in errors)
    return f"the email cannot be stored ({fields}: {'; '.join(errors.values())[:200]})"


def _submission(
    message: parsing.ParsedMessage,
    channel: Channel,
    engagements: _Engagements,
    *,
    check_email: bool = True,
) -> feedback.Submission:
    """What submit() needs from a parsed message (RejectedMessage if it has no text).

    A sender address that is not valid is left out (the message is kept), checked here
    unless ``check_email`` is false and the caller drops it when validate() objects.
    """
    text = _text(message)
    email = message.sender_email or None
    try:
        feedback.clean_line(email, limit=254)
        if email and check_email:
            feedback.validate_email_address(email)
    except ValueError:
        email = None
    submitted_at = None
    if message.date is not None:
        date = message.date
        submitted_at = (date.astimezone(UTC) if date.tzinfo else date).replace(tzinfo=None)
    return feedback.Submission(
        text=text,
        channel=channel,
        engagement_slug=engagements.choose(message),
        author_name=(message.sender_name or None),
        author_email=email,
        subject=message.subject,
        submitted_at=submitted_at,
        # Never acknowledge bulk mail (it would answer a mailing list), nor a mail
        # system's own address, which no one reads.
        acknowledge=message.kind == "genuine" and not _mail_system(email),
        extra={
            "message_id": message.message_id,
            "attachment_names": list(message.attachment_names) or None,
        },
    )


def _mail_system(address: str | None) -> bool:
    return bool(address) and address.partition("@")[0].lower() == "mailer-daemon"


def _identities(message: parsing.ParsedMessage) -> tuple[str, ...]:
    """Every identity the message may be stored under: its own and any legacy ones."""
    return (message.message_id, *message.legacy_ids)


def _known(message_ids: Iterable[str]) -> dict[str, str]:
    """Stored Message-ID -> reference for these IDs, in either form (one query).

    A purged item keeps only a hash of its Message-ID, so both forms are looked up.
    """
    wanted = set()
    for message_id in message_ids:
        wanted.add(message_id)
        wanted.add(retention.hashed_message_id(message_id))
    if not wanted:
        return {}
    rows = db.session.execute(
        select(FeedbackItem.message_id, FeedbackItem.reference).where(
            FeedbackItem.message_id.in_(wanted)
        )
    )
    return {message_id: reference for message_id, reference in rows}


def _reference_of(message_ids: Iterable[str], known: dict[str, str]) -> str | None:
    for message_id in message_ids:
        found = known.get(message_id) or known.get(retention.hashed_message_id(message_id))
        if found:
            return found
    return None


# One message --------------------------------------------------------------------------


def ingest(raw: bytes, *, channel: Channel = Channel.EMAIL, source: str = "") -> Outcome:
    """Store one raw RFC 822 message as feedback, or say why not. Never raises."""
    seen: dict[str, str] = {}
    try:
        outcome = _ingest(raw, channel, seen)
    except parsing.RejectedMessage as rejected:
        log.warning("rejected %s: %s", source or "message", rejected.reason)
        outcome = Outcome(REJECTED, reason=rejected.reason)
    except Exception as error:  # one bad message must never stop a batch
        db.session.rollback()
        log.exception("could not import %s", source or "message")
        outcome = Outcome(REJECTED, reason=_unexpected(error))
    outcome.source = source
    outcome.message_id = seen.get("message_id")
    return outcome


def _unexpected(error: Exception) -> str:
    return f"the email could not be stored ({type(error).__name__}: {error})"[:300]


def _ingest(raw: bytes, channel: Channel, seen: dict[str, str]) -> Outcome:
    message = parsing.parse_message(raw, limits=_limits(), own_addresses=_own_addresses())
    seen["message_id"] = message.message_id
    if message.kind in ("auto_reply", "bounce", "own"):
        return Outcome(AUTO_REPLY, reason=message.kind_reason)
    identities = _identities(message)
    existing = _reference_of(identities, _known(identities))
    if existing:
        return Outcome(DUPLICATE, reference=existing)
    submission = _submission(message, channel, _Engagements())
    try:
        try:
            item = feedback.submit(submission)
        except feedback.InvalidSubmission as invalid:
            if set(invalid.errors) != {"author_name"}:
                raise
            # A display name we cannot keep is no reason to lose the message.
            item = feedback.submit(replace(submission, author_name=None))
    except feedback.InvalidSubmission as invalid:
        return Outcome(REJECTED, reason=_email_reason(invalid.errors))
    except IntegrityError:  # the same Message-ID committed by a concurrent import
        db.session.rollback()
        return Outcome(DUPLICATE)
    return Outcome(IMPORTED, reference=item.reference)


# Many messages ------------------------------------------------------------------------


@dataclass
class _Valid:
    """A message that passed validation and waits for its batch to be stored."""

    source: str
    message_id: str
    identities: tuple[str, ...]
    submission: feedback.Submission
    cleaned: dict
    engagement_id: int | None


def ingest_many(
    messages: Iterable[tuple[str, bytes]],
    *,
    channel: Channel,
    batch_size: int = BATCH_SIZE,
    summary: Summary | None = None,
) -> Summary:
    """Ingest (source, raw) pairs in batches of ``batch_size``; count the outcomes.

    Reads ``messages`` lazily and keeps at most two batches of validated messages
    (never their raw bytes) in memory: while one batch is stored, classified and
    acknowledged, a second thread parses and validates the next (the database's waits
    then overlap with parsing). Each batch is committed before it is classified and
    acknowledged; a failure in either is logged and left for the worker to retry.
    """
    summary = summary if summary is not None else Summary()
    for batch, outcomes in _validated_batches(messages, channel, batch_size):
        for outcome in outcomes:
            summary.add(outcome)
        if batch:
            for stored in _ingest_batch(batch):
                summary.add(stored)
    return summary


_DONE = object()


def _validated_batches(
    messages: Iterable[tuple[str, bytes]], channel: Channel, batch_size: int
) -> Iterator[tuple[list[_Valid], list[Outcome]]]:
    """(validated messages, outcomes of the others) a batch at a time, made one batch
    ahead in a second thread with its own app context and session.

    The thread only parses, validates and reads the engagements (once a batch: they may
    change); storing stays with the caller, in order. An error in the thread is raised
    here; when the caller stops early (an error, Ctrl-C), the thread stops too.
    """
    app = current_app._get_current_object()
    handoff: queue.Queue = queue.Queue(maxsize=1)
    stop = threading.Event()

    def put(value: object) -> bool:
        while not stop.is_set():
            try:
                handoff.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        with app.app_context():
            try:
                limits, own = _limits(), _own_addresses()
                batch: list[_Valid] = []
                outcomes: list[Outcome] = []
                engagements: _Engagements | None = None
                for source, raw in messages:
                    if engagements is None:
                        engagements = _Engagements()
                    outcome = _validated(raw, source, channel, limits, own, engagements)
                    if isinstance(outcome, Outcome):
                        outcomes.append(outcome)
                    else:
                        batch.append(outcome)
                    if len(batch) >= batch_size:
                        if not put((batch, outcomes)):
                            return
                        batch, outcomes, engagements = [], [], None
                if put((batch, outcomes)):
                    put(_DONE)
            except BaseException as error:  # handed to the caller, who raises it
                put(error)
            finally:
                db.session.remove()

    thread = threading.Thread(target=produce, name="engage-import-parse", daemon=True)
    thread.start()
    try:
        while True:
            item = handoff.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def _validated(
    raw: bytes,
    source: str,
    channel: Channel,
    limits: parsing.ParseLimits,
    own: frozenset[str],
    engagements: _Engagements,
) -> Outcome | _Valid:
    """Parse and validate one message without touching the database. Never raises."""
    message = None
    try:
        message = parsing.parse_message(raw, limits=limits, own_addresses=own)
        if message.kind in ("auto_reply", "bounce", "own"):
            return Outcome(
                AUTO_REPLY,
                reason=message.kind_reason,
                source=source,
                message_id=message.message_id,
            )
        submission = _submission(message, channel, engagements, check_email=False)
        slug = submission.engagement_slug
        # The engagement comes from the batch's table, not a query per message; only
        # known slugs are ever chosen, so validate() has nothing to look up.
        try:
            cleaned = feedback.validate(replace(submission, engagement_slug=None))
        except feedback.InvalidSubmission as invalid:
            if not set(invalid.errors) <= {"author_name", "author_email"}:
                raise
            # A display name or an address we cannot keep is no reason to lose the
            # message: it is kept without them (and so without an acknowledgement).
            submission = replace(submission, **dict.fromkeys(invalid.errors))
            cleaned = feedback.validate(replace(submission, engagement_slug=None))
    except parsing.RejectedMessage as rejected:
        # Reported by the caller (the Summary lists it): only a debug line here.
        log.debug("rejected %s: %s", source or "message", rejected.reason)
        reason = rejected.reason
    except feedback.InvalidSubmission as invalid:
        reason = _email_reason(invalid.errors)
    except Exception as error:  # one bad message must never stop a batch
        log.exception("could not import %s", source or "message")
        reason = _unexpected(error)
    else:
        return _Valid(
            source=source,
            message_id=message.message_id,
            identities=_identities(message),
            submission=submission,
            cleaned=cleaned,
            engagement_id=engagements.ids.get(slug) if slug else None,
        )
    message_id = message.message_id if message is not None else None
    return Outcome(REJECTED, reason=reason, source=source, message_id=message_id)


@dataclass(frozen=True)
class Stored:
    """A message a batch has committed as an item: what its post-commit steps need."""

    id: int
    reference: str
    text: str


def _ingest_batch(batch: list[_Valid]) -> list[Outcome]:
    """Store a batch of validated messages, commit, then classify and acknowledge them."""
    outcomes, stored = _store(batch)
    if stored:
        run_post_commit(stored)
    return outcomes


def _store(batch: list[_Valid]) -> tuple[list[Outcome], list[Stored]]:
    """Insert the batch's new messages in one transaction; its outcomes and stored items.

    Duplicates are found with one query for the batch, and within the batch itself. If
    the database refuses the batch, each message is stored in its own transaction, so
    one bad row costs only itself.
    """
    known = _known(identity for valid in batch for identity in valid.identities)
    outcomes: list[Outcome] = []
    fresh: list[_Valid] = []
    taken: set[str] = set()
    for valid in batch:
        existing = _reference_of(valid.identities, known)
        if existing or valid.message_id in taken:
            outcomes.append(_outcome(valid, DUPLICATE, reference=existing))
            continue
        taken.add(valid.message_id)
        taken.add(retention.hashed_message_id(valid.message_id))
        fresh.append(valid)
    if not fresh:
        return outcomes, []
    try:
        stored = _insert(fresh)
    except Exception as error:
        db.session.rollback()
        log.warning(
            "a batch of %s messages could not be stored together (%s); storing them one by one",
            len(fresh),
            f"{type(error).__name__}: {error}"[:300],
        )
    else:
        outcomes.extend(
            _outcome(valid, IMPORTED, reference=item.reference)
            for valid, item in zip(fresh, stored, strict=True)
        )
        return outcomes, stored
    stored = []
    for valid in fresh:
        try:
            stored.extend(_insert([valid]))
        except IntegrityError:  # the same Message-ID committed by a concurrent import
            db.session.rollback()
            outcomes.append(_outcome(valid, DUPLICATE))
        except Exception as error:
            db.session.rollback()
            log.exception("could not import %s", valid.source or "message")
            outcomes.append(_outcome(valid, REJECTED, reason=_unexpected(error)))
        else:
            outcomes.append(_outcome(valid, IMPORTED, reference=stored[-1].reference))
    return outcomes, stored


def _outcome(valid: _Valid, result: str, **details) -> Outcome:
    return Outcome(result, source=valid.source, message_id=valid.message_id, **details)


def _insert(batch: list[_Valid]) -> list[Stored]:
    """Insert and commit; each item has its final reference when the transaction commits."""
    rows = [
        feedback.item_row(valid.submission, valid.cleaned, valid.engagement_id) for valid in batch
    ]
    with writer_queue():
        ids = feedback.insert_items(rows)
        db.session.commit()
    return [
        Stored(item_id, reference, row["text"])
        for (item_id, reference), row in zip(ids, rows, strict=True)
    ]


def _batch_forms() -> dict[Callable, Callable[[list[Stored]], object]]:
    """The batch form of each post-commit step that has one."""
    from engage.classify import service as classify
    from engage.feedback import notifications

    return {
        classify.classify_item: lambda stored: classify.classify_batch(
            [(item.id, item.text) for item in stored]
        ),
        notifications.acknowledge: lambda stored: acknowledge_batch([item.id for item in stored]),
    }


def run_post_commit(stored: list[Stored]) -> None:
    """Run feedback.service's post-commit steps on committed items, a batch at a time.

    Classification and acknowledgement, when both are registered, run together in one
    transaction (_classify_and_acknowledge); if that fails they run one after the
    other. Any other step with a batch form runs once for all the items, and a step
    without one item by item, as submit() would run it. A failing step is logged and
    rolled back, and the worker's sweep retries it; the next step still runs.
    """
    batch_forms = _batch_forms()
    # The steps submit() runs (classification, acknowledgement) as create_app registered
    # them; feedback.service keeps them in this list.
    steps = feedback.post_commit_steps()
    done = _classify_and_acknowledge(stored, {step for _, step in steps})
    for name, step in steps:
        if step in done:
            continue
        batch_step = batch_forms.get(step)
        if batch_step is not None:
            _run_step(name, batch_step, stored, stored)
            continue
        ids = [item.id for item in stored]
        items = db.session.scalars(
            select(FeedbackItem)
            .where(FeedbackItem.id.in_(ids))
            .order_by(FeedbackItem.id)
            .execution_options(populate_existing=True)
        ).all()
        for item in items:
            _run_step(name, step, item, [item])


def _classify_and_acknowledge(stored: list[Stored], registered: set[Callable]) -> set[Callable]:
    """Classify the batch and queue its acknowledgements in one transaction, with one
    UPDATE marking the items both classified and acknowledged (on PostgreSQL each
    UPDATE rewrites every row and its index entries). Returns the steps it did: both,
    or none when either step is not registered, there is no model, or it failed.
    """
    from engage.classify import service as classify
    from engage.feedback import notifications

    steps = {classify.classify_item, notifications.acknowledge}
    if not steps <= registered:
        return set()
    try:
        model, row = classify.load_active()
    except classify.NoModelError:
        return set()  # the classify step says so and leaves them for the sweep
    try:
        plan = classify.plan_tags([(item.id, item.text) for item in stored], model, row.version)
        owed = notifications.owed_acknowledgement(_items_for_acknowledgement(plan.ids))
        outbox.queue_many(notifications.acknowledgement_rows(owed))
        classify.apply_tag_plan(plan, acknowledged=[item.id for item in owed])
        db.session.commit()
    except Exception:
        db.session.rollback()
        log.warning(
            "classifying and acknowledging %s items together failed; one step at a time",
            len(stored),
            exc_info=True,
        )
        return set()
    return steps


def _run_step(name: str, step: Callable, argument: object, items: list) -> None:
    """Run one post-commit step; on failure roll back, log and leave it to the worker."""
    first = items[0].reference if items else "?"
    try:
        step(argument)
    except Exception:
        db.session.rollback()
        log.exception(
            "post-commit step %s failed for %s item(s) from %s; the worker will retry",
            name,
            len(items),
            first,
        )


def acknowledge_batch(ids: list[int]) -> int:
    """Batch form of notifications.acknowledge(): queue the emails these items are owed.

    The same emails and bookkeeping (ack_pending cleared in the same transaction), with
    one read, one outbox insert and one commit for the batch. Returns how many.
    """
    from engage.feedback import notifications

    # feedback.notifications renders and queues them: one place says what the email is.
    return notifications.queue_acknowledgements(_items_for_acknowledgement(ids))


def _items_for_acknowledgement(ids: list[int]) -> list[FeedbackItem]:
    """The items among ``ids`` still owed an acknowledgement, with what the email names."""
    return list(
        db.session.scalars(
            select(FeedbackItem)
            .where(FeedbackItem.id.in_(ids), FeedbackItem.ack_pending.is_(True))
            .options(selectinload(FeedbackItem.engagement))  # the email names it
            .order_by(FeedbackItem.id)
        )
    )
