"""The outbox: acknowledgement emails through a real SMTP server, retries, crashes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from engage import outbox
from engage.extensions import db
from engage.feedback.models import Channel, FeedbackItem
from engage.feedback.service import Submission, submit
from engage.outbox.models import OutboxMessage, OutboxStatus
from engage.util import utcnow
from tests.smtp import SMTPServer

ENGAGE = str(Path(sys.executable).with_name("engage"))


def _submit(email="dee@example.org", contact_me=False, name="Dee"):
    return submit(
        Submission(
            text="Keep the Ealing walk-in centre open please.",
            channel=Channel.WEB,
            author_email=email,
            author_name=name,
            contact_me=contact_me,
        )
    )


def test_acknowledgement_arrives_with_headers(app, smtp_server):
    item = _submit(contact_me=True)
    result = outbox.send_due()
    assert (result.sent, result.retrying, result.failed) == (1, 0, 0)
    [message] = smtp_server.wait_for(1)
    assert message["To"] == "dee@example.org"
    assert item.reference in message["Subject"]
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["List-Unsubscribe"].startswith("<http")
    assert "/unsubscribe/" in message["List-Unsubscribe"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    plain = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert item.reference in plain and item.reference in html
    stored = db.session.scalar(select(OutboxMessage))
    assert stored.status == OutboxStatus.SENT and stored.message_id == message["Message-ID"]


def test_no_list_unsubscribe_without_contact_me(app, smtp_server):
    _submit(contact_me=False)
    outbox.send_due()
    [message] = smtp_server.wait_for(1)
    assert message["List-Unsubscribe"] is None
    assert message["Auto-Submitted"] == "auto-replied"


def test_html_in_name_is_escaped_in_html_body(app, smtp_server):
    _submit(name="<b>Eve</b>")
    outbox.send_due()
    [message] = smtp_server.wait_for(1)
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "<b>Eve</b>" not in html and "&lt;b&gt;Eve&lt;/b&gt;" in html
    plain = message.get_body(preferencelist=("plain",)).get_content()
    assert "<b>Eve</b>" in plain


def test_smtp_outage_keeps_item_and_retries_once_back(app):
    server = SMTPServer()  # not started: nothing listens on its port
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=server.port)
    item = _submit()
    result = outbox.send_due()
    assert (result.sent, result.retrying) == (0, 1)
    message = db.session.scalar(select(OutboxMessage))
    assert message.status == OutboxStatus.PENDING and message.attempts == 1
    assert message.last_error and message.next_attempt_at > utcnow()
    assert db.session.get(FeedbackItem, item.id) is not None
    # Not due yet: a second run sends nothing.
    assert outbox.send_due().sent == 0
    server.start()
    try:
        message.next_attempt_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        assert outbox.send_due().sent == 1
        assert outbox.send_due().sent == 0
        assert len(server.wait_for(1)) == 1
        time.sleep(0.2)
        assert len(server.messages) == 1
    finally:
        server.stop()


def test_a_run_stops_at_an_smtp_server_it_cannot_reach(app):
    """One message pays for the outage; the others are not each tried and timed out."""
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=SMTPServer().port)  # no server
    for n in range(3):
        _submit(email=f"resident{n}@example.org")
    result = outbox.send_due()
    assert (result.sent, result.retrying, result.unreachable) == (0, 1, True)
    attempts = db.session.scalars(select(OutboxMessage.attempts).order_by(OutboxMessage.id))
    assert attempts.all() == [1, 0, 0]
    statuses = set(db.session.scalars(select(OutboxMessage.status)))
    assert statuses == {OutboxStatus.PENDING}


def test_backoff_grows_and_is_capped():
    delays = [outbox.backoff(n) for n in range(1, 12)]
    assert delays[0] == timedelta(minutes=1) and delays[1] == timedelta(minutes=2)
    assert delays == sorted(delays)
    assert delays[-1] == outbox.MAX_DELAY


def test_gives_up_after_max_attempts(app):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=SMTPServer().port)
    _submit()
    message = db.session.scalar(select(OutboxMessage))
    message.attempts = outbox.MAX_ATTEMPTS - 1
    db.session.commit()
    assert outbox.send_due().failed == 1
    assert db.session.scalar(select(OutboxMessage.status)) == OutboxStatus.FAILED


def test_stale_claim_is_retried_fresh_claim_is_not(app, smtp_server):
    _submit()
    message = db.session.scalar(select(OutboxMessage))
    message.status = OutboxStatus.SENDING
    message.claimed_at = utcnow()
    db.session.commit()
    assert outbox.send_due().sent == 0
    message.claimed_at = utcnow() - outbox.CLAIM_TIMEOUT - timedelta(seconds=1)
    db.session.commit()
    assert outbox.send_due().sent == 1
    assert len(smtp_server.wait_for(1)) == 1


def _send_outbox_env(app, server, tmp_path) -> dict[str, str]:
    """The environment of an `engage send-outbox` process on this test's database,
    sending to ``server``."""
    return {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": "test-secret",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(server.port),
        "ENGAGE_INSTANCE_PATH": str(tmp_path),
    }


def test_crash_mid_send_loses_nothing_and_sends_nothing_twice(app, tmp_path):
    """Kill `engage send-outbox` half-way through a batch, then run it again."""
    server = SMTPServer(delay=0.15).start()
    try:
        for n in range(12):
            _submit(email=f"resident{n}@example.org")
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 12
        env = _send_outbox_env(app, server, tmp_path)
        process = subprocess.Popen(
            [ENGAGE, "send-outbox"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        # Kill it while the server holds its sixth message at MAIL FROM: that message is
        # claimed but not handed over, the likeliest place for a real crash.
        server.wait_for_mail_from(6)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        received_before = len(server.messages)
        assert received_before == 5
        db.session.expire_all()
        # A run straight after the crash sends every message still owed, except the one
        # the killed run had claimed: its claim must age before it is retried.
        result = subprocess.run(
            [ENGAGE, "send-outbox"], env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        stuck = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.SENDING)
        ).all()
        assert len(stuck) <= 1
        for message in stuck:
            message.claimed_at = utcnow() - outbox.CLAIM_TIMEOUT - timedelta(seconds=1)
        db.session.commit()
        result = subprocess.run(
            [ENGAGE, "send-outbox"], env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        time.sleep(0.3)
        db.session.expire_all()
        statuses = db.session.scalars(select(OutboxMessage.status)).all()
        assert statuses == [OutboxStatus.SENT] * 12
        recipients = [m["To"] for m in server.messages]
        assert sorted(set(recipients)) == sorted(f"resident{n}@example.org" for n in range(12))
        assert len(recipients) == len(set(recipients)), "a message was sent twice"
    finally:
        server.stop()


# Deferred messages: acknowledgements are rendered by the run that sends them (issue 25)


def test_acknowledgement_is_rendered_when_sent_in_the_items_language(app, smtp_server):
    item = submit(
        Submission(
            text="Proszę nie zamykać przychodni.",
            channel=Channel.WEB,
            author_email="ola@example.org",
            author_name="Ola",
            ui_locale="pl",
        )
    )
    queued = db.session.scalar(select(OutboxMessage))
    assert queued.body_text == "" and queued.subject == ""
    assert queued.deferred == {"render": "acknowledgement", "item": item.id, "locale": "pl"}
    assert outbox.send_due().sent == 1
    [message] = smtp_server.wait_for(1)
    assert message["Subject"].startswith("Otrzymaliśmy Twoją opinię")
    assert item.reference in message["Subject"]
    plain = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert f"Twój numer referencyjny to {item.reference}." in plain
    assert '<html lang="pl" dir="ltr">' in html
    # What was sent is kept on the row, as for a message rendered when queued.
    db.session.expire_all()
    stored = db.session.scalar(select(OutboxMessage))
    assert stored.status == OutboxStatus.SENT and stored.deferred is None
    assert stored.subject == message["Subject"] and item.reference in stored.body_text
    assert stored.message_id == message["Message-ID"] == queued.message_id


def test_a_deferred_message_that_fails_to_render_is_retried(app, smtp_server, monkeypatch):
    item = _submit()

    def broken(made_from):
        raise RuntimeError("templates unavailable")

    monkeypatch.setitem(outbox._renderers, "acknowledgement", broken)
    result = outbox.send_due()
    assert (result.sent, result.retrying, result.failed) == (0, 1, 0)
    message = db.session.scalar(select(OutboxMessage))
    assert message.status == OutboxStatus.PENDING and message.deferred is not None
    assert "templates unavailable" in message.last_error
    monkeypatch.undo()
    message.next_attempt_at = utcnow()
    db.session.commit()
    assert outbox.send_due().sent == 1
    [sent] = smtp_server.wait_for(1)
    assert item.reference in sent["Subject"]


def test_a_deferred_message_about_an_item_purged_meanwhile_is_not_sent(app, smtp_server):
    item = _submit()
    item.author_email = None  # as the retention purge leaves it
    db.session.commit()
    result = outbox.send_due()
    assert (result.sent, result.retrying, result.failed) == (0, 0, 1)
    message = db.session.scalar(select(OutboxMessage))
    assert message.status == OutboxStatus.FAILED and "gone" in message.last_error
    assert smtp_server.messages == []


def test_two_senders_render_and_send_each_acknowledgement_once(app, tmp_path):
    """Two `engage send-outbox` processes at once over deferred acknowledgements: each
    email is rendered by the process that claimed it, right, and sent once."""
    server = SMTPServer(delay=0.05).start()
    try:
        items = {}
        for n in range(16):
            locale = "pl" if n % 2 else None
            item = submit(
                Submission(
                    text=f"Message {n}: keep the walk-in centre open.",
                    channel=Channel.WEB,
                    author_email=f"resident{n}@example.org",
                    ui_locale=locale,
                )
            )
            items[f"resident{n}@example.org"] = (item.reference, locale)
        deferred = db.session.scalars(select(OutboxMessage.deferred)).all()
        assert len(deferred) == 16 and all(d is not None for d in deferred)
        env = _send_outbox_env(app, server, tmp_path)
        senders = [
            subprocess.Popen(
                [ENGAGE, "send-outbox"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            for _ in range(2)
        ]
        errors = [sender.communicate(timeout=120)[1].decode() for sender in senders]
        assert [sender.returncode for sender in senders] == [0, 0], errors
        time.sleep(0.3)
        recipients = [m["To"] for m in server.messages]
        assert sorted(recipients) == sorted(items), "each email once, none lost"
        for message in server.messages:
            reference, locale = items[message["To"]]
            assert reference in message["Subject"]
            plain = message.get_body(preferencelist=("plain",)).get_content()
            assert reference in plain
            greeting = "Otrzymaliśmy" if locale == "pl" else "We have received"
            assert message["Subject"].startswith(greeting), message["Subject"]
        db.session.expire_all()
        rows = db.session.scalars(select(OutboxMessage)).all()
        assert {(m.status, m.deferred) for m in rows} == {(OutboxStatus.SENT, None)}
    finally:
        server.stop()
