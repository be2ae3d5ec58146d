"""Emailed feedback end to end: ingest(), import-mail, the webhook and IMAP polling."""

from __future__ import annotations

import imaplib
import json
import resource
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

import pytest
from sqlalchemy import func, select

from engage.cli import cli
from engage.extensions import db
from engage.feedback.models import Channel, FeedbackItem
from engage.mail import inbound, mailboxes
from engage.outbox.models import OutboxMessage
from tests.imapserver import PASSWORD, Dovecot


def count(model=FeedbackItem) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def message(
    body="I am worried the walk-in centre in Ealing will close after the merger.",
    *,
    to="engage@engage.example.org",
    sender="Nora Jones <nora@example.org>",
    subject="My views",
    message_id: str | None = "<abc123@mail.example.org>",
    headers: dict[str, str] | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime(2019, 6, 3, 9, 30, tzinfo=UTC))
    if message_id:
        msg["Message-ID"] = message_id
    for key, value in (headers or {}).items():
        msg[key] = value
    msg.set_content(body)
    return msg.as_bytes()


def test_genuine_message_becomes_an_item(app, make_engagement):
    engagement = make_engagement(slug="case-for-change")
    outcome = inbound.ingest(message(to="engage+case-for-change@engage.example.org"))
    assert outcome.result == inbound.IMPORTED
    item = db.session.scalar(select(FeedbackItem))
    assert item.reference == outcome.reference and item.channel == Channel.EMAIL
    assert item.engagement_id == engagement.id
    assert item.author_email == "nora@example.org" and item.author_name == "Nora Jones"
    assert item.subject == "My views" and item.message_id == "abc123@mail.example.org"
    assert item.submitted_at == datetime(2019, 6, 3, 9, 30)
    assert db.session.scalar(select(OutboxMessage.recipient)) == "nora@example.org"


@pytest.mark.parametrize(
    "date",
    [
        "Thu, 01 Jan 2099 09:00:00 +0000",
        "Thu, 01 Jan 1970 00:00:00 +0000",
        format_datetime(datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)),
    ],
)
def test_an_implausible_date_header_gives_way_to_the_time_received(app, date):
    # An outside review (round 21): a 2099 Date stayed at the top of the inbox as
    # YS-2099-..., never to be purged; a 1970 one would be purged before it was read.
    before = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    raw = message(message_id="<dated@x>").replace(
        format_datetime(datetime(2019, 6, 3, 9, 30, tzinfo=UTC)).encode(), date.encode()
    )
    outcome = inbound.ingest(raw)
    item = db.session.scalar(select(FeedbackItem))
    assert before <= item.submitted_at <= datetime.now(UTC).replace(tzinfo=None)
    assert outcome.reference.startswith(f"YS-{before.year}-")


def test_a_reply_quoting_a_reference_joins_its_engagement(app, make_engagement):
    # An outside review (round 21): the acknowledgement asks residents to write again
    # "with your reference number", and the reply landed in general feedback unlinked.
    from engage.feedback.queries import earlier_items

    engagement = make_engagement(slug="case-for-change")
    first = inbound.ingest(message(to="engage+case-for-change@engage.example.org"))
    subject = f"Re: We received your feedback {first.reference}"
    reply = inbound.ingest(message(subject=subject, message_id="<reply@x>"))
    stranger = inbound.ingest(
        message(subject=subject, message_id="<other@x>", sender="Someone <else@example.org>")
    )
    items = {i.reference: i for i in db.session.scalars(select(FeedbackItem))}
    assert items[reply.reference].engagement_id == engagement.id
    assert items[stranger.reference].engagement_id is None  # not their reference
    assert [i.reference for i in earlier_items(subject, "NORA@example.org")] == [first.reference]
    assert earlier_items(subject, "else@example.org") == []


def test_engagement_from_its_own_address_or_subject(app, make_engagement):
    by_address = make_engagement(email_address="nel@engage.example.org")
    by_subject = make_engagement(title="Commissioning Reform Case for Change")
    inbound.ingest(message(to="nel@engage.example.org", message_id="<a@x>"))
    inbound.ingest(message(subject="Re: Commissioning Reform Case for Change", message_id="<b@x>"))
    inbound.ingest(message(subject="General point", message_id="<c@x>"))
    items = {i.message_id: i for i in db.session.scalars(select(FeedbackItem))}
    assert items["a@x"].engagement_id == by_address.id
    assert items["b@x"].engagement_id == by_subject.id
    assert items["c@x"].engagement_id is None


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto-Submitted": "auto-replied"},
        {"X-Autoreply": "yes"},
        {"X-Autorespond": "yes"},
    ],
)
def test_auto_replies_ignored_without_acknowledgement(app, headers):
    outcome = inbound.ingest(message(headers=headers))
    assert outcome.result == inbound.AUTO_REPLY
    assert count() == 0 and count(OutboxMessage) == 0


def test_own_address_ignored(app):
    outcome = inbound.ingest(message(sender="engage@engage.example.org"))
    assert outcome.result == inbound.AUTO_REPLY
    assert count() == 0


def test_bulk_mail_kept_but_never_acknowledged(app):
    outcome = inbound.ingest(message(headers={"Precedence": "bulk"}))
    assert outcome.result == inbound.IMPORTED
    assert count() == 1 and count(OutboxMessage) == 0


def test_duplicates_by_message_id_and_by_hash(app):
    assert inbound.ingest(message()).result == inbound.IMPORTED
    assert inbound.ingest(message()).result == inbound.DUPLICATE
    no_id = message(message_id=None, body="A message with no Message-ID header at all.")
    assert inbound.ingest(no_id).result == inbound.IMPORTED
    assert inbound.ingest(no_id).result == inbound.DUPLICATE
    assert count() == 2


def test_oversized_message_rejected_and_batch_goes_on(app):
    huge = message(body="x" * (21 * 1024 * 1024), message_id="<huge@x>")
    summary = inbound.ingest_many(
        [("one", huge), ("two", message(message_id="<ok@x>")), ("three", b"\x00\xff garbage")],
        channel=Channel.IMPORT,
    )
    counts = summary.as_dict()
    assert counts["imported"] == 1 and counts["rejected"] >= 1
    assert count() == 1


def test_invalid_sender_address_still_imported(app):
    outcome = inbound.ingest(message(sender="Broken <not an address>"))
    assert outcome.result == inbound.IMPORTED
    item = db.session.scalar(select(FeedbackItem))
    assert item.author_email is None and count(OutboxMessage) == 0


def _mbox(path, messages: list[bytes]) -> None:
    with path.open("wb") as handle:
        for number, raw in enumerate(messages):
            handle.write(f"From sender{number}@example.org Mon Jun  3 09:30:00 2019\n".encode())
            for line in raw.replace(b"\r\n", b"\n").split(b"\n"):
                handle.write((b">" + line if line.startswith(b"From ") else line) + b"\n")
            handle.write(b"\n")


def test_import_mail_twice_imports_nothing_new(app, tmp_path):
    path = tmp_path / "inbox.mbox"
    _mbox(
        path,
        [
            message(message_id="<1@x>"),
            message(message_id="<2@x>", body="From the start, the plan ignored Hounslow's needs."),
            message(message_id="<3@x>", headers={"Auto-Submitted": "auto-replied"}),
            message(message_id="<1@x>"),
        ],
    )
    runner = app.test_cli_runner()
    first = runner.invoke(cli, ["import-mail", str(path), "--json"])
    assert first.exit_code == 0, first.output
    ignored = {
        "source": f"mbox:{path}#3",
        "message_id": "3@x",
        "result": "auto_replies",
        "reason": "an automatic reply (Auto-Submitted: auto-replied)",
    }
    assert json.loads(first.stdout) == {
        "imported": 2,
        "duplicates": 1,
        "auto_replies": 1,
        "rejected": 0,
        "dropped": [ignored],
    }
    assert first.stderr == (
        f"mbox:{path}#3 <3@x>: ignored: an automatic reply (Auto-Submitted: auto-replied)\n"
    )
    second = json.loads(runner.invoke(cli, ["import-mail", str(path), "--json"]).stdout)
    assert second == {
        "imported": 0,
        "duplicates": 3,
        "auto_replies": 1,
        "rejected": 0,
        "dropped": [ignored],
    }
    assert {i.channel for i in db.session.scalars(select(FeedbackItem))} == {Channel.IMPORT}


def test_import_mail_10k_mbox_counts_and_flat_memory(app, tmp_path):
    path = tmp_path / "10k.mbox"
    _mbox(
        path,
        [
            message(
                message_id=f"<bulk-{i}@x>",
                sender=f"Resident {i} <r{i}@example.org>",
                body=f"Comment number {i}: keep services local in Brent, please.",
            )
            for i in range(10_000)
        ],
    )
    assert mailboxes.count_messages(path) == 10_000
    rss: dict[int, int] = {}

    def watched():
        for number, entry in enumerate(mailboxes.iter_messages(path), start=1):
            yield entry
            if number in (1_000, 10_000):
                rss[number] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    summary = inbound.ingest_many(watched(), channel=Channel.IMPORT)
    assert summary.as_dict() == {
        "imported": 10_000,
        "duplicates": 0,
        "auto_replies": 0,
        "rejected": 0,
    }
    assert count() == 10_000 and count(OutboxMessage) == 10_000
    # Peak memory (KiB) after 10,000 messages is barely above what 1,000 needed.
    assert rss[10_000] - rss[1_000] < 40 * 1024, rss


@pytest.fixture
def webhook_token(app):
    app.config["INBOUND_EMAIL_TOKEN"] = "hook-secret"
    yield "hook-secret"
    app.config["INBOUND_EMAIL_TOKEN"] = None


def post_raw(client, raw, token="hook-secret"):
    headers = {"Content-Type": "message/rfc822"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return client.post("/inbound/email", data=raw, headers=headers)


def test_webhook(client, webhook_token):
    assert post_raw(client, message(), token=None).status_code == 401
    assert post_raw(client, message(), token="wrong").status_code == 401
    created = post_raw(client, message())
    assert created.status_code == 201 and created.json["reference"].startswith("YS-")
    assert post_raw(client, message()).status_code == 200
    auto = post_raw(
        client, message(message_id="<ooo@x>", headers={"Auto-Submitted": "auto-replied"})
    )
    assert auto.status_code == 202
    assert post_raw(client, b"").status_code == 400
    assert count() == 1


def test_webhook_off_without_token(client):
    assert post_raw(client, message()).status_code == 404


@pytest.fixture
def dovecot(app):
    server = Dovecot().start()
    app.config.update(
        IMAP_HOST="127.0.0.1",
        IMAP_PORT=server.port,
        IMAP_USER="engage",
        IMAP_PASSWORD=PASSWORD,
        IMAP_FOLDER="Feedback",
        IMAP_USE_SSL=False,
    )
    yield server
    app.config.update(IMAP_HOST=None, IMAP_USER=None, IMAP_PASSWORD=None)
    server.stop()


def _imap(server) -> imaplib.IMAP4:
    client = imaplib.IMAP4("127.0.0.1", server.port)
    client.login("engage", PASSWORD)
    return client


def _deliver(server, folder: str, messages: list[bytes]) -> None:
    client = _imap(server)
    client.create(folder)
    for raw in messages:
        client.append(folder, None, None, raw.replace(b"\n", b"\r\n"))
    client.logout()


def test_fetch_mail_from_dovecot(app, dovecot):
    _deliver(
        dovecot,
        "Feedback",
        [
            message(message_id="<i1@x>"),
            message(message_id="<i2@x>", headers={"Auto-Submitted": "auto-replied"}),
            message(message_id="<i3@x>", body="Who decides for Harrow now? Nobody asked us."),
        ],
    )
    runner = app.test_cli_runner()
    result = runner.invoke(cli, ["fetch-mail", "--json"])
    assert result.exit_code == 0, result.output
    fetched = json.loads(result.stdout)
    assert fetched == {
        "imported": 2,
        "duplicates": 0,
        "auto_replies": 1,
        "rejected": 0,
        "dropped": [
            {
                "source": "imap:Feedback/2",
                "message_id": "i2@x",
                "result": "auto_replies",
                "reason": "an automatic reply (Auto-Submitted: auto-replied)",
            }
        ],
    }
    assert result.stderr.startswith("imap:Feedback/2 <i2@x>: ignored: an automatic reply")
    client = _imap(dovecot)
    client.select("Feedback")
    assert client.uid("SEARCH", None, "UNSEEN")[1] == [b""]
    client.logout()
    again = json.loads(runner.invoke(cli, ["fetch-mail", "--json"]).stdout)
    assert again == {
        "imported": 0,
        "duplicates": 0,
        "auto_replies": 0,
        "rejected": 0,
        "dropped": [],
    }

    # The folder is recreated: a new UIDVALIDITY, the same messages plus one new one.
    client = _imap(dovecot)
    client.delete("Feedback")
    client.logout()
    _deliver(
        dovecot,
        "Feedback",
        [
            message(message_id="<i1@x>"),
            message(message_id="<i4@x>", body="Please keep the GP surgery on the high street."),
        ],
    )
    after = json.loads(runner.invoke(cli, ["fetch-mail", "--json"]).stdout)
    assert after == {
        "imported": 1,
        "duplicates": 1,
        "auto_replies": 0,
        "rejected": 0,
        "dropped": [],
    }
    assert count() == 3


def test_fetch_mail_not_configured(app):
    result = app.test_cli_runner().invoke(cli, ["fetch-mail"])
    assert result.exit_code != 0 and "IMAP_HOST" in result.output
