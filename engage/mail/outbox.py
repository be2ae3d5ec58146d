"""Queue emails in the outbox and send the due ones with back-off.

Sending is claim → send → mark sent, each step committed. A crash after the claim
leaves the message in ``sending``; it is retried only once its claim is older than
CLAIM_TIMEOUT, so a quick restart never sends a message twice, and a message whose
delivery is unknown keeps its Message-ID when it is retried.
"""

from __future__ import annotations

import logging
import smtplib
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from email.utils import make_msgid

from flask import current_app
from sqlalchemy import insert, or_, select, update

from engage.extensions import db
from engage.mail import compose
from engage.mail.models import OutboxMessage, OutboxStatus
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
    domain = app.config["MAIL_DEFAULT_SENDER"].rpartition("@")[2] or "localhost"
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
                "message_id": make_msgid(domain=domain),
                "next_attempt_at": utcnow(),
            }
        )
    return rows


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
    return message


def queue_many(messages: list[dict]) -> None:
    """Insert messages made by render() in one statement (the caller commits).

    For bulk work such as a mailbox import, where adding one ORM object per email would
    cost more than rendering it.
    """
    if messages:
        db.session.execute(insert(OutboxMessage.__table__), messages)


@dataclass
class SendResult:
    """What one run of send_due() did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0


def _claim_next() -> OutboxMessage | None:
    now = utcnow()
    due = (
        (OutboxMessage.status == OutboxStatus.PENDING) & (OutboxMessage.next_attempt_at <= now)
    ) | (
        (OutboxMessage.status == OutboxStatus.SENDING)
        & (OutboxMessage.claimed_at < now - CLAIM_TIMEOUT)
    )
    candidate = db.session.scalar(
        select(OutboxMessage.id).where(due).order_by(OutboxMessage.next_attempt_at).limit(1)
    )
    if candidate is None:
        return None
    # Compare-and-set so two workers never claim the same message.
    claimed = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == candidate, or_(due))
        .values(status=OutboxStatus.SENDING, claimed_at=now, attempts=OutboxMessage.attempts + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if not claimed:
        return _claim_next()
    return db.session.get(OutboxMessage, candidate, populate_existing=True)


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
    """Send every due outbox message (up to ``limit``); failures are rescheduled."""
    result = SendResult()
    connection: smtplib.SMTP | None = None
    try:
        while limit is None or result.sent + result.retrying + result.failed < limit:
            message = _claim_next()
            if message is None:
                break
            connection = _send_one(message, connection, result)
    finally:
        if connection is not None:
            try:
                connection.quit()
            except TRANSIENT_ERRORS:
                connection.close()
    return result


def _send_one(
    message: OutboxMessage, connection: smtplib.SMTP | None, result: SendResult
) -> smtplib.SMTP | None:
    """Hand one claimed message to SMTP and record the outcome; return the connection."""
    try:
        if connection is None:
            connection = _smtp()
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
