"""The outbox: queue emails as rows and send the due ones with back-off.

A low package: every feature that writes to people (acknowledgements, alerts, staff
invitations) queues here, and mail intake is one channel above it. The rows are
``engage.outbox.models.OutboxMessage``; ``engage.outbox.compose`` builds the messages.

Sending is claim → send → mark sent, each step committed. The claim (_claim_next) is
a lease: any number of workers may send at once and each message is claimed by one of
them. A crash after the claim leaves the message in ``sending``; its lease runs out
after CLAIM_TIMEOUT and another run sends it then, so a worker killed mid-send loses
no email, a quick restart never sends a message twice, and a message whose delivery is
unknown keeps its Message-ID when it is retried.

A message can be queued before it is written (queue_deferred): the row keeps what it
is made from and the name of a renderer registered by the feature that queued it
(renders()), and the run that claims it renders it (_render_claimed) and stores the
result with the outcome of the send. Claiming, leases and retries are the same for it:
rendering happens after the claim, so of several senders only the one holding the
claim renders and sends, and a retry sends what the first try stored.

The one at-least-once edge is SMTP's own: a process killed after the server accepted
the message (the answer to DATA) and before "sent" is committed leaves a message that
was delivered but still looks claimed, and it is sent again when its lease runs out
(with the same Message-ID, so mail clients can fold the two). _send_one commits "sent"
straight after the server's answer, keeping that window to one UPDATE and commit.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import smtplib
import socket
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from email.utils import make_msgid

from flask import current_app
from sqlalchemy import event, insert, or_, select, update

from engage.extensions import db
from engage.outbox import compose
from engage.outbox.models import OutboxMessage, OutboxStatus
from engage.util import utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BASE_DELAY = timedelta(minutes=1)
MAX_DELAY = timedelta(hours=6)
CLAIM_TIMEOUT = timedelta(minutes=15)
TRANSIENT_ERRORS = (smtplib.SMTPException, OSError, socket.timeout)


def backoff(attempts: int) -> timedelta:
    """Delay before the next try after ``attempts`` failures: 1, 2, 4 … minutes, capped."""
    return min(BASE_DELAY * (2 ** max(attempts - 1, 0)), MAX_DELAY)


def render(
    *,
    kind: str,
    recipient: str,
    template: str,
    context: dict,
    headers: dict[str, str] | None = None,
) -> dict:
    """The column values of an outbox message from ``templates/email/<template>/``."""
    return render_many(kind=kind, template=template, messages=[(recipient, context, headers)])[0]


def render_many(
    *,
    kind: str,
    template: str,
    messages: Iterable[tuple[str, dict, dict[str, str] | None]],
) -> list[dict]:
    """Outbox rows for (recipient, context, headers) triples, all from one template.

    Rendered as render_template() would, but with the app's context processors run and
    the three templates looked up once for them all (bulk imports render thousands).
    """
    app = current_app._get_current_object()
    shared: dict = {}
    app.update_template_context(shared)
    subject_t, text_t, html_t = (
        app.jinja_env.get_template(f"email/{template}/{name}")
        for name in ("subject.txt", "body.txt", "body.html")
    )
    rows = []
    for recipient, context, headers in messages:
        compose.check_headers(headers)  # a message that could never be sent is not queued
        values = {**shared, **context}
        rows.append(
            {
                "kind": kind,
                "recipient": recipient,
                "subject": " ".join(subject_t.render(values).split()),
                "body_text": text_t.render(values),
                "body_html": html_t.render(values),
                "headers": headers or {},
                "message_id": _message_id(),
                "next_attempt_at": utcnow(),
            }
        )
    return rows


def _message_id() -> str:
    """A new Message-ID in the sending domain (MAIL_DEFAULT_SENDER's), fixed when the
    message is queued so that every retry sends the same one."""
    domain = current_app.config["MAIL_DEFAULT_SENDER"].rpartition("@")[2] or "localhost"
    return make_msgid(domain=domain)


# What a deferred message is made from -> its subject, bodies and headers (or None when
# there is nothing left to send, e.g. the item it was about is gone), by renderer name.
Renderer = Callable[[dict], "dict | None"]
_renderers: dict[str, Renderer] = {}


def renders(name: str) -> Callable[[Renderer], Renderer]:
    """Register the function that writes deferred messages named ``name`` (a feature
    above the outbox registers its own, as feedback.notifications does)."""

    def register(function: Renderer) -> Renderer:
        _renderers[name] = function
        return function

    return register


def deferred_row(*, kind: str, recipient: str, render: str, **made_from) -> dict:
    """The column values of a message rendered only when it is sent (queue_many
    inserts them): ``render`` names the renderer, ``made_from`` is what it is given
    (JSON values). The Message-ID is fixed now, as for a rendered message."""
    return {
        "kind": kind,
        "recipient": recipient,
        "subject": "",
        "body_text": "",
        "body_html": None,
        "headers": {},
        "message_id": _message_id(),
        "next_attempt_at": utcnow(),
        "deferred": {"render": render, **made_from},
    }


def content(message: OutboxMessage) -> dict | None:
    """Subject, bodies and headers of a message: as stored, or rendered now for one
    still deferred (None when its renderer has nothing to send). Changes nothing."""
    if message.deferred is None:
        return {
            "subject": message.subject,
            "body_text": message.body_text,
            "body_html": message.body_html,
            "headers": dict(message.headers or {}),
        }
    made_from = dict(message.deferred)
    renderer = _renderers.get(made_from.pop("render", None))
    if renderer is None:
        raise LookupError(f"no renderer for outbox message {message.id}: {message.deferred}")
    return renderer(made_from)


# Set on the session when a message is queued; its commit then asks the worker to send
# now (hand_over_to), so a confirmation link or a published response's emails leave in
# seconds rather than at the worker's minute sweep, which still sends whatever this misses.
_QUEUED = "engage_outbox_queued"
_hand_over: Callable[[], None] | None = None
_SENDING_HERE: contextvars.ContextVar[bool] = contextvars.ContextVar("sending_here", default=False)


def hand_over_to(function: Callable[[], None]) -> None:
    """Call ``function`` after each commit that queued mail, when
    ENGAGE_POST_COMMIT_IN_WORKER says a worker sends it (create_app passes
    engage.tasks.hand_over_outbox; this package cannot import the task queue)."""
    global _hand_over
    _hand_over = function
    session_class = db.session.session_factory.class_
    if not event.contains(session_class, "after_commit", _after_commit):
        event.listen(session_class, "after_commit", _after_commit)
        event.listen(session_class, "after_soft_rollback", _after_rollback)


@contextlib.contextmanager
def sending_here() -> Iterator[None]:
    """A job that sends the outbox itself when it ends (the worker's runs): its commits
    ask for no other run, which would only find the same messages."""
    token = _SENDING_HERE.set(True)
    try:
        yield
    finally:
        _SENDING_HERE.reset(token)


def _after_commit(session) -> None:
    if not session.info.pop(_QUEUED, False) or _hand_over is None or _SENDING_HERE.get():
        return
    if not current_app.config.get("ENGAGE_POST_COMMIT_IN_WORKER"):
        return
    try:
        _hand_over()
    except Exception:  # the queue is down: the minute sweep sends it
        log.exception("could not ask the worker to send queued mail; the sweep will")


def _after_rollback(session, _previous) -> None:
    session.info.pop(_QUEUED, None)


def queue(
    *,
    kind: str,
    recipient: str,
    template: str,
    context: dict,
    headers: dict[str, str] | None = None,
) -> OutboxMessage:
    """Render ``templates/email/<template>/`` and add the message to the session.

    The caller commits, so the message is stored in the same transaction as the change
    that caused it.
    """
    message = OutboxMessage(
        **render(
            kind=kind, recipient=recipient, template=template, context=context, headers=headers
        )
    )
    db.session.add(message)
    db.session.info[_QUEUED] = True
    return message


def queue_many(messages: list[dict]) -> None:
    """Insert messages made by render() in one statement (the caller commits).

    For bulk work such as a mailbox import, where adding one ORM object per email would
    cost more than rendering it.
    """
    if messages:
        db.session.execute(insert(OutboxMessage.__table__), messages)
        db.session.info[_QUEUED] = True


@dataclass
class SendResult:
    """What one run of send_due() did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    # The SMTP server could not be reached: the run stopped there.
    unreachable: bool = False


def _claim_next() -> OutboxMessage | None:
    """Claim the next due message (committed) for this process, or None.

    The claim is a compare-and-set: an UPDATE to ``sending`` only while the message is
    still due, committed before the message is handed to SMTP, so of any number of
    processes sending at once exactly one claims each message. On PostgreSQL the
    candidate is read FOR UPDATE SKIP LOCKED, so processes take different messages
    instead of queueing for the same one; on SQLite the UPDATE alone decides.
    """
    while True:
        now = utcnow()
        due = (
            (OutboxMessage.status == OutboxStatus.PENDING) & (OutboxMessage.next_attempt_at <= now)
        ) | (
            (OutboxMessage.status == OutboxStatus.SENDING)
            & (OutboxMessage.claimed_at < now - CLAIM_TIMEOUT)
        )
        candidate = db.session.scalar(
            select(OutboxMessage.id)
            .where(due)
            .order_by(OutboxMessage.next_attempt_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if candidate is None:
            db.session.commit()  # nothing claimed: end the read (COMMIT keeps prepared plans)
            return None
        claimed = db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == candidate, or_(due))
            .values(
                status=OutboxStatus.SENDING, claimed_at=now, attempts=OutboxMessage.attempts + 1
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.commit()
        if claimed:
            return db.session.get(OutboxMessage, candidate, populate_existing=True)
        # Another process claimed it between the read and the UPDATE: take the next.


def _to_email(message: OutboxMessage):
    return compose.build(
        recipient=message.recipient,
        subject=message.subject,
        body_text=message.body_text,
        body_html=message.body_html,
        message_id=message.message_id,
        headers=dict(message.headers),
    )


def _smtp() -> smtplib.SMTP:
    """Open an SMTP connection from the MAIL_* settings, with a timeout."""
    config = current_app.config
    timeout = config.get("MAIL_TIMEOUT", 30)
    factory = smtplib.SMTP_SSL if config["MAIL_USE_SSL"] else smtplib.SMTP
    host = factory(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=timeout)
    if config["MAIL_USE_TLS"]:
        host.starttls()
    if config["MAIL_USERNAME"] and config["MAIL_PASSWORD"]:
        host.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
    return host


def send_due(limit: int | None = None) -> SendResult:
    """Send every due outbox message (up to ``limit``); failures are rescheduled.

    A run stops at the first message for which the SMTP server cannot be reached (that
    one is rescheduled): the rest keep their turn for the next run, rather than each
    waiting out MAIL_TIMEOUT in a worker thread that new items' hand-overs need.
    """
    result = SendResult()
    connection: smtplib.SMTP | None = None
    try:
        while limit is None or result.sent + result.retrying + result.failed < limit:
            message = _claim_next()
            if message is None:
                break
            if message.deferred is not None and not _render_claimed(message, result):
                continue
            connection = _send_one(message, connection, result)
            if result.unreachable:
                break
    finally:
        if connection is not None:
            try:
                connection.quit()
            except TRANSIENT_ERRORS:
                connection.close()
    return result


def _render_claimed(message: OutboxMessage, result: SendResult) -> bool:
    """Render a claimed deferred message into its row (committed with the send's
    outcome by _send_one). False, with the outcome committed, when it cannot be sent:
    its renderer failed (retried like a failed send) or has nothing to send (failed)."""
    try:
        values = content(message)
        if values is not None:
            compose.check_headers(values["headers"])
    except Exception as error:
        log.exception("could not render outbox message %s", message.id)
        _record_failure(message, error, result)
        db.session.commit()
        return False
    if values is None:
        message.status = OutboxStatus.FAILED
        message.last_error = "nothing to send: what the message was about is gone"
        result.failed += 1
        db.session.commit()
        return False
    message.subject = " ".join(values["subject"].split())[:300]
    message.body_text = values["body_text"]
    message.body_html = values["body_html"]
    message.headers = values["headers"]
    message.deferred = None
    return True


def _send_one(
    message: OutboxMessage, connection: smtplib.SMTP | None, result: SendResult
) -> smtplib.SMTP | None:
    """Hand one claimed message to SMTP and record the outcome; return the connection."""
    try:
        if connection is None:
            try:
                connection = _smtp()
            except TRANSIENT_ERRORS:
                result.unreachable = True
                raise
        connection.sendmail(
            current_app.config["MAIL_DEFAULT_SENDER"],
            [message.recipient],
            _to_email(message).as_bytes(),
            mail_options=["SMTPUTF8"] if compose.needs_smtputf8(message.recipient) else [],
        )
    except TRANSIENT_ERRORS as error:
        if connection is not None:
            connection.close()
        connection = None
        _record_failure(message, error, result)
    else:
        message.status = OutboxStatus.SENT
        message.sent_at = utcnow()
        message.last_error = None
        result.sent += 1
    db.session.commit()
    return connection


def _record_failure(message: OutboxMessage, error: Exception, result: SendResult) -> None:
    message.last_error = f"{type(error).__name__}: {error}"[:2000]
    if message.attempts >= MAX_ATTEMPTS:
        message.status = OutboxStatus.FAILED
        result.failed += 1
        log.error(
            "giving up on outbox message %s after %s attempts: %s",
            message.id,
            message.attempts,
            message.last_error,
        )
        return
    message.status = OutboxStatus.PENDING
    message.next_attempt_at = utcnow() + backoff(message.attempts)
    result.retrying += 1
    log.warning(
        "outbox message %s failed (attempt %s); next try at %s: %s",
        message.id,
        message.attempts,
        message.next_attempt_at,
        message.last_error,
    )
