"""Turn inbound email into feedback submissions, one message or a whole mailbox at a time.

This module parses and validates: each message becomes a checked submission
(feedback.service.Checked) or an Outcome saying why it was rejected or ignored, and
Message-IDs already stored are found (one query a batch). How a parsed message becomes
a submission (its engagement, text and sender) is engage.mail.submissions. Storing is
feedback.service.intake(), the one path every channel takes, and what runs after the
commit (classification, acknowledgement) is engage.followup.post_commit's.

A single message (the webhook, IMAP polling) goes through ingest(): a batch of one,
whose follow-up runs as for the web form (in the worker by default). A mailbox import
goes through ingest_many(): batches of BATCH_SIZE, each inserted in one transaction and
committed, then handed to the post-commit owner like every other channel's: with
ENGAGE_POST_COMMIT_IN_WORKER (the default) the worker classifies and acknowledges them
in batches; with ``follow_up_here`` (`engage import-mail --classify-now`) or without
the setting, each batch is classified (one prediction for the batch) and acknowledged
(queued in the outbox) here and now. Either way a crash after a batch's commit leaves
stored items that are unclassified and owed an acknowledgement: the worker's sweeps
finish them.

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

from flask import current_app
from sqlalchemy.exc import IntegrityError

from engage.extensions import db
from engage.feedback import service as feedback
from engage.feedback.models import Channel, hashed_message_id
from engage.mail import parsing
from engage.mail.submissions import (
    Engagements,
    email_reason,
    identities_of,
    own_addresses,
    parse_limits,
    reference_of,
    stored_references,
    submission_of,
)

log = logging.getLogger(__name__)

IMPORTED, DUPLICATE, AUTO_REPLY, REJECTED = "imported", "duplicates", "auto_replies", "rejected"
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


# One message --------------------------------------------------------------------------


def ingest(raw: bytes, *, channel: Channel = Channel.EMAIL, source: str = "") -> Outcome:
    """Store one raw RFC 822 message as feedback, or say why not. Never raises."""
    try:
        checked = _validated(raw, source, channel, parse_limits(), own_addresses(), Engagements())
        if isinstance(checked, Outcome):
            outcome = checked
        else:
            [outcome] = _ingest_batch([checked], follow_up_here=False)
    except Exception as error:  # one bad message must never stop a batch
        db.session.rollback()
        log.exception("could not import %s", source or "message")
        outcome = Outcome(REJECTED, reason=_unexpected(error), source=source)
    if outcome.result == REJECTED:
        log.warning("rejected %s: %s", source or "message", outcome.reason)
    return outcome


def _unexpected(error: Exception) -> str:
    return f"the email could not be stored ({type(error).__name__}: {error})"[:300]


# Many messages ------------------------------------------------------------------------


@dataclass
class _Valid:
    """A message that passed validation and waits for its batch to be stored."""

    source: str
    message_id: str
    identities: tuple[str, ...]
    checked: feedback.Checked


def ingest_many(
    messages: Iterable[tuple[str, bytes]],
    *,
    channel: Channel,
    batch_size: int = BATCH_SIZE,
    summary: Summary | None = None,
    follow_up_here: bool = False,
) -> Summary:
    """Ingest (source, raw) pairs in batches of ``batch_size``; count the outcomes.

    Reads ``messages`` lazily and keeps at most two batches of validated messages
    (never their raw bytes) in memory: while one batch is stored, classified and
    acknowledged, a second thread parses and validates the next (the database's waits
    then overlap with parsing). Each batch is committed by feedback.service.intake()
    before the post-commit owner hands it to the worker, or (``follow_up_here``, or
    without ENGAGE_POST_COMMIT_IN_WORKER) classifies and acknowledges it here and now;
    a failure in either is logged and left for the worker to retry.
    """
    summary = summary if summary is not None else Summary()
    for batch, outcomes in _validated_batches(messages, channel, batch_size):
        for outcome in outcomes:
            summary.add(outcome)
        if batch:
            for stored in _ingest_batch(batch, follow_up_here=follow_up_here):
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
                limits, own = parse_limits(), own_addresses()
                batch: list[_Valid] = []
                outcomes: list[Outcome] = []
                engagements: Engagements | None = None
                for source, raw in messages:
                    if engagements is None:
                        engagements = Engagements()
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
    engagements: Engagements,
) -> Outcome | _Valid:
    """Parse and validate one message. Never raises. The database is read only for a
    reply whose subject quotes a reference (Engagements.choose), in this thread's own
    session."""
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
        submission = submission_of(message, channel, engagements)
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
        reason = email_reason(invalid.errors)
    except Exception as error:  # one bad message must never stop a batch
        log.exception("could not import %s", source or "message")
        reason = _unexpected(error)
    else:
        return _Valid(
            source=source,
            message_id=message.message_id,
            identities=identities_of(message),
            checked=feedback.Checked(
                submission, cleaned, engagements.ids.get(slug) if slug else None
            ),
        )
    message_id = message.message_id if message is not None else None
    return Outcome(REJECTED, reason=reason, source=source, message_id=message_id)


def _ingest_batch(batch: list[_Valid], *, follow_up_here: bool = False) -> list[Outcome]:
    """Store a batch of validated messages through the intake; their outcomes.

    Duplicates are found with one query for the batch, and within the batch itself. The
    new messages are stored by feedback.service.intake() in one transaction, which then
    hands them to the post-commit owner (``follow_up_here``: classified and acknowledged
    now, a batch at a time, whatever ENGAGE_POST_COMMIT_IN_WORKER says). If the
    database refuses the batch, each message is stored in its own transaction, so one
    bad row costs only itself.
    """
    known = stored_references(identity for valid in batch for identity in valid.identities)
    outcomes: list[Outcome] = []
    fresh: list[_Valid] = []
    taken: set[str] = set()
    for valid in batch:
        existing = reference_of(valid.identities, known)
        if existing or valid.message_id in taken:
            outcomes.append(_outcome(valid, DUPLICATE, reference=existing))
            continue
        taken.add(valid.message_id)
        taken.add(hashed_message_id(valid.message_id))
        fresh.append(valid)
    if not fresh:
        return outcomes
    try:
        references = _store(fresh, follow_up_here)
    except Exception as error:
        db.session.rollback()
        if len(fresh) == 1:
            outcomes.append(_failed(fresh[0], error))
            return outcomes
        log.warning(
            "a batch of %s messages could not be stored together (%s); storing them one by one",
            len(fresh),
            f"{type(error).__name__}: {error}"[:300],
        )
    else:
        outcomes.extend(
            _outcome(valid, IMPORTED, reference=reference)
            for valid, reference in zip(fresh, references, strict=True)
        )
        return outcomes
    for valid in fresh:
        try:
            [reference] = _store([valid], follow_up_here)
        except Exception as error:
            db.session.rollback()
            outcomes.append(_failed(valid, error))
        else:
            outcomes.append(_outcome(valid, IMPORTED, reference=reference))
    return outcomes


def _failed(valid: _Valid, error: Exception) -> Outcome:
    """The outcome of a message the database refused on its own."""
    if isinstance(error, IntegrityError):  # the same Message-ID committed by another import
        return _outcome(valid, DUPLICATE)
    log.error("could not import %s", valid.source or "message", exc_info=error)
    return _outcome(valid, REJECTED, reason=_unexpected(error))


def _outcome(valid: _Valid, result: str, **details) -> Outcome:
    return Outcome(result, source=valid.source, message_id=valid.message_id, **details)


def _store(batch: list[_Valid], follow_up_here: bool) -> list[str]:
    """Store checked messages through the one intake, all or none; their references."""
    stored = feedback.intake(
        [valid.checked for valid in batch], drop_invalid=True, follow_up_here=follow_up_here
    )
    return [reference for reference in stored.references if reference]
