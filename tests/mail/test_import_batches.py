"""Mailbox import in batches: every message stored once, then classified and acknowledged.

ingest_many() commits each batch before it classifies and acknowledges it, so these
tests check the batch boundaries, duplicates inside and across batches and runs, a bad
message among good ones, a batch the database refuses, the query count per batch, and
crashes: between the store commit and classification, and a SIGKILL mid-import.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engage import outbox, retention, tasks
from engage.classify import service as classify
from engage.extensions import db
from engage.feedback import notifications
from engage.feedback import service as feedback
from engage.feedback.models import Channel, FeedbackItem, TagSource, ThemeTag
from engage.feedback.storing import make_reference
from engage.followup import post_commit
from engage.mail import inbound
from engage.outbox.models import OutboxMessage
from tests.databases import counting_statements
from tests.mail.test_inbound import _mbox, message

ENGAGE = str(Path(sys.executable).with_name("engage"))
TEXTS = [
    "The deficit means the budget for Harrow will be cut again.",
    "Who decides for Ealing once the eight CCGs are merged into one?",
    "GPs must keep leading the commissioning of local services.",
    "Closing the walk-in centre will push people into A&E at Northwick Park.",
    "Staff at the CCG are worried about redundancies and their jobs.",
]


def count(model=FeedbackItem, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def mail(n: int, *, message_id: str | None = None, **overrides) -> tuple[str, bytes]:
    """A genuine message with its own sender and Message-ID, as a (source, raw) pair."""
    overrides.setdefault("sender", f"Resident {n} <resident{n}@example.org>")
    overrides.setdefault("body", f"Message {n}: {TEXTS[n % len(TEXTS)]}")
    return f"test#{n}", message(message_id=message_id or f"<m{n}@example.org>", **overrides)


@pytest.fixture
def model(trained, model_dir):
    """A trained, active theme model, as `engage train` leaves it."""
    return {"version": trained.version, "dir": model_dir}


def items() -> list[FeedbackItem]:
    db.session.expire_all()
    return list(db.session.scalars(select(FeedbackItem).order_by(FeedbackItem.id)))


def test_batch_boundaries_every_message_stored_classified_and_acknowledged_once(app, model):
    summary = inbound.ingest_many(
        (mail(n) for n in range(250)), channel=Channel.IMPORT, batch_size=100
    )
    assert summary.as_dict() == {"imported": 250, "duplicates": 0, "auto_replies": 0, "rejected": 0}
    stored = items()
    assert len(stored) == 250
    assert sorted(i.message_id for i in stored) == sorted(f"m{n}@example.org" for n in range(250))
    assert all(i.reference == make_reference(i.id, i.submitted_at) for i in stored)
    assert all(i.channel == Channel.IMPORT for i in stored)
    # Classified by the active model, in the same way as one item at a time.
    assert all(i.classified_at is not None and i.model_version == model["version"] for i in stored)
    assert all(i.certainty is not None for i in stored)
    assert count(ThemeTag, ThemeTag.source == TagSource.MODEL) > 0
    # Acknowledged: one email each, to its sender, quoting its reference.
    assert not any(i.ack_pending for i in stored)
    sent = {m.recipient: m for m in db.session.scalars(select(OutboxMessage))}
    assert len(sent) == 250 == count(OutboxMessage)
    for item in stored:
        assert item.reference in outbox.content(sent[item.author_email])["subject"]
        assert item.reference in outbox.content(sent[item.author_email])["body_text"]


def test_batch_classification_matches_one_at_a_time(app, model):
    for n, text in enumerate(TEXTS):
        feedback.submit(feedback.Submission(text=text, channel=Channel.WEB))  # classify_item()
        inbound.ingest_many(
            [mail(n, body=text)], channel=Channel.IMPORT, batch_size=10
        )  # classify_batch()
    by_channel: dict[Channel, dict[str, tuple]] = {Channel.WEB: {}, Channel.IMPORT: {}}
    for item in items():
        tags = sorted((t.theme.slug, round(t.confidence, 6)) for t in item.tags)
        by_channel[item.channel][item.text[-40:]] = (tags, round(item.certainty, 6))
    assert by_channel[Channel.WEB] == by_channel[Channel.IMPORT]
    assert any(tags for tags, _ in by_channel[Channel.IMPORT].values())


def test_classifying_again_replaces_the_models_tags(app, model):
    inbound.ingest_many([mail(0)], channel=Channel.IMPORT)
    item = items()[0]
    before = sorted(t.theme_id for t in item.tags)
    assert before
    assert classify.classify_batch([(item.id, item.text)]) == 1
    assert sorted(t.theme_id for t in items()[0].tags) == before


def test_duplicates_inside_a_batch_across_batches_and_runs(app, model):
    # m3 twice in the first batch; m1 again in the second batch; m4 in both.
    ids = [0, 1, 2, 3, 3, 4, 5, 1, 6, 4, 7]
    messages = [mail(n) for n in ids]
    first = inbound.ingest_many(messages, channel=Channel.IMPORT, batch_size=5)
    assert first.as_dict() == {"imported": 8, "duplicates": 3, "auto_replies": 0, "rejected": 0}
    assert count() == 8 and count(OutboxMessage) == 8
    again = inbound.ingest_many(messages, channel=Channel.IMPORT, batch_size=4)
    assert again.as_dict() == {"imported": 0, "duplicates": 11, "auto_replies": 0, "rejected": 0}
    assert count() == 8 and count(OutboxMessage) == 8


def test_duplicate_of_a_purged_item_found_by_its_hashed_message_id(app):
    inbound.ingest_many([mail(0)], channel=Channel.IMPORT)
    item = items()[0]
    item.message_id = retention.hashed_message_id(item.message_id)  # as purge() leaves it
    db.session.commit()
    summary = inbound.ingest_many([mail(0), mail(1)], channel=Channel.IMPORT)
    assert summary.as_dict() == {"imported": 1, "duplicates": 1, "auto_replies": 0, "rejected": 0}
    assert count() == 2


def test_a_malformed_message_does_not_lose_its_neighbours(app, model):
    huge = message(body="x" * (11 * 1024 * 1024), message_id="<huge@x>")
    parts = EmailMessage()
    parts["From"], parts["Message-ID"] = "Many Parts <parts@example.org>", "<parts@x>"
    parts.set_content("The walk-in centre matters to us.")
    for n in range(120):
        parts.add_attachment(b"x", maintype="application", subtype="octet-stream", filename=f"{n}")
    batch = [
        mail(0),
        ("parts", parts.as_bytes()),  # over the part limit: kept as far as it was read
        mail(1),
        ("empty", b"   \r\n"),
        mail(2, body="Hi"),  # too short, but kept with its subject in front
        ("huge", huge),
        mail(3, subject="", body="ok"),  # no text worth keeping
        mail(4, sender="Broken <not an address>"),  # kept, without the address
        mail(5, headers={"Auto-Submitted": "auto-replied"}),
        mail(6),
    ]
    summary = inbound.ingest_many(batch, channel=Channel.IMPORT, batch_size=100)
    counts = summary.as_dict()
    stored = {i.message_id: i for i in items()}
    for n in (0, 1, 2, 4, 6):
        assert f"m{n}@example.org" in stored
    assert not {"m3@example.org", "huge@x"} & set(stored)
    assert counts == {"imported": 6, "duplicates": 0, "auto_replies": 1, "rejected": 3}
    assert stored["parts@x"].text.startswith("The walk-in centre matters to us.")
    assert "[Part of this email was not read: it has more than 100 MIME parts" in (
        stored["parts@x"].text
    )
    assert stored["m4@example.org"].author_email is None
    assert all(i.classified_at is not None for i in stored.values())
    assert count(OutboxMessage) == 5  # everyone with an address we can write to
    # Every message that was not stored is listed, where it came from and why.
    dropped = {(o.source, o.result): o for o in summary.dropped}
    assert list(dropped) == [
        ("empty", "rejected"),
        ("huge", "rejected"),
        ("test#3", "rejected"),
        ("test#5", "auto_replies"),
    ]
    assert dropped["empty", "rejected"].reason == "the email is empty"
    assert "larger than the limit" in dropped["huge", "rejected"].reason
    assert dropped["huge", "rejected"].message_id is None  # never parsed
    assert dropped["test#3", "rejected"].message_id == "m3@example.org"
    assert "too short to record" in dropped["test#3", "rejected"].reason
    assert "Enter your feedback" not in dropped["test#3", "rejected"].reason
    assert "Auto-Submitted: auto-replied" in dropped["test#5", "auto_replies"].reason


def test_a_batch_the_database_refuses_is_stored_message_by_message(app, model, monkeypatch, caplog):
    """Another import commits m2 after this batch looked for duplicates (a race)."""
    inbound.ingest_many([mail(2)], channel=Channel.IMPORT)
    monkeypatch.setattr(inbound, "stored_references", lambda message_ids: {})
    with caplog.at_level(logging.WARNING, logger="engage.mail.inbound"):
        summary = inbound.ingest_many(
            [mail(n) for n in range(5)], channel=Channel.IMPORT, batch_size=10
        )
    assert "could not be stored together" in caplog.text
    assert summary.as_dict() == {"imported": 4, "duplicates": 1, "auto_replies": 0, "rejected": 0}
    stored = items()
    assert sorted(i.message_id for i in stored) == [f"m{n}@example.org" for n in range(5)]
    assert not [i for i in stored if i.reference.startswith("pending-")]
    assert all(i.classified_at is not None and not i.ack_pending for i in stored)
    assert count(OutboxMessage) == 5


def test_statements_per_batch_do_not_grow_with_its_size(app, model):
    inbound.ingest_many([mail(1000)], channel=Channel.IMPORT)  # load the model first
    with counting_statements() as small:
        inbound.ingest_many((mail(n) for n in range(10)), channel=Channel.IMPORT, batch_size=10)
    with counting_statements() as large:
        inbound.ingest_many(
            (mail(n) for n in range(100, 200)), channel=Channel.IMPORT, batch_size=100
        )
    with counting_statements() as two:
        inbound.ingest_many(
            (mail(n) for n in range(200, 400)), channel=Channel.IMPORT, batch_size=100
        )
    assert count() == 311
    assert len(large) == len(small) <= 20, large
    assert len(two) == 2 * len(large)


def test_one_update_marks_a_batch_classified_and_acknowledged(app, model):
    inbound.ingest_many([mail(1000)], channel=Channel.IMPORT)  # load the model first
    with counting_statements() as statements:
        inbound.ingest_many((mail(n) for n in range(40)), channel=Channel.IMPORT, batch_size=20)
    updates = [s for s in statements if s.lstrip().upper().startswith("UPDATE FEEDBACK_ITEM")]
    marks = [s for s in updates if "classified_at" in s]
    assert len(marks) == 2 and all("ack_pending" in s for s in marks)
    # (SQLite also sets each batch's references with an UPDATE; nothing else updates.)
    assert all("classified_at" in s or "reference" in s for s in updates)
    stored = items()
    assert all(i.classified_at is not None and not i.ack_pending for i in stored)
    assert count(OutboxMessage) == 41


def test_a_failed_acknowledgement_leaves_the_classification_and_the_debt(
    app, model, monkeypatch, caplog
):
    def broken(items):
        raise RuntimeError("template store unavailable")

    monkeypatch.setattr(notifications, "acknowledgement_rows", broken)
    with caplog.at_level(logging.ERROR, logger="engage.mail.inbound"):
        inbound.ingest_many((mail(n) for n in range(10)), channel=Channel.IMPORT, batch_size=10)
    assert caplog.text.count("post-commit step acknowledge failed") == 1
    stored = items()
    assert all(i.classified_at is not None for i in stored)  # done on its own instead
    assert all(i.ack_pending for i in stored) and count(OutboxMessage) == 0
    monkeypatch.undo()
    assert notifications.acknowledge_pending() == 10
    assert count(OutboxMessage) == 10


def test_failed_classification_is_logged_and_left_for_the_worker(app, model, monkeypatch, caplog):
    def broken(rows, model, version):
        raise RuntimeError("classifier fell over")

    # Both the joint step and, after it fails, the classify step on its own predict here.
    monkeypatch.setattr(classify, "plan_tags", broken)
    with caplog.at_level(logging.ERROR, logger="engage.mail.inbound"):
        summary = inbound.ingest_many(
            (mail(n) for n in range(30)), channel=Channel.IMPORT, batch_size=20
        )
    assert summary.as_dict()["imported"] == 30
    assert caplog.text.count("post-commit step classify failed") == 2
    assert "classifier fell over" in caplog.text
    stored = items()
    assert all(i.classified_at is None for i in stored)
    assert count(OutboxMessage) == 30  # the next step still ran
    monkeypatch.undo()
    assert classify.classify_pending() == 30
    assert all(i.classified_at is not None for i in items())


def test_other_post_commit_steps_still_run_for_every_item(app):
    seen: list[str] = []
    post_commit.register("test-audit", lambda item: seen.append(item.reference))
    try:
        inbound.ingest_many((mail(n) for n in range(7)), channel=Channel.IMPORT, batch_size=3)
    finally:
        post_commit.unregister("test-audit")
    assert sorted(seen) == sorted(i.reference for i in items())
    assert len(seen) == 7


def test_crash_between_store_commit_and_classification(app, model, monkeypatch):
    """The process dies just after the first batch is committed: nothing is lost."""

    def crash(rows, model, version):
        raise KeyboardInterrupt  # not an Exception: nothing in the import catches it

    messages = [mail(n) for n in range(25)]
    monkeypatch.setattr(classify, "plan_tags", crash)
    with pytest.raises(KeyboardInterrupt):
        inbound.ingest_many(messages, channel=Channel.IMPORT, batch_size=10)
    monkeypatch.undo()
    db.session.rollback()
    stored = items()
    # The first batch is stored whole, not classified, and still owed its email.
    assert len(stored) == 10
    assert all(i.reference == make_reference(i.id, i.submitted_at) for i in stored)
    assert all(i.classified_at is None and i.ack_pending for i in stored)
    assert count(OutboxMessage) == 0
    # The worker's sweeps finish them.
    tasks.bind(app)
    results = tasks.run_sweeps()
    assert results["classify"] == 10 and results["acknowledge"] == 10
    stored = items()
    assert all(i.classified_at is not None and not i.ack_pending for i in stored)
    assert count(OutboxMessage) == 10
    # Importing again stores the rest, and nothing twice.
    summary = inbound.ingest_many(messages, channel=Channel.IMPORT, batch_size=10)
    assert summary.as_dict() == {"imported": 15, "duplicates": 10, "auto_replies": 0, "rejected": 0}
    assert count() == 25 and count(OutboxMessage) == 25
    assert all(i.classified_at is not None for i in items())


def test_sigkill_mid_import_loses_nothing_and_stores_nothing_twice(app, model, tmp_path):
    """Kill `engage import-mail` part way through, import again, run the worker."""
    total = 1200
    path = tmp_path / "big.mbox"
    _mbox(path, [mail(n)[1] for n in range(total)])
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": "test-secret",
        "ENGAGE_INSTANCE_PATH": str(tmp_path),
        "ENGAGE_MODEL_DIR": str(model["dir"]),
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": "9",
    }
    process = subprocess.Popen(
        [ENGAGE, "import-mail", "--json", str(path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while count() == 0 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.02)
            db.session.rollback()  # see the other process's commits
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    stored = items()
    assert 0 < len(stored) < total, "the import was not interrupted part way"
    # No half-stored item: each has its final reference and its text.
    assert all(i.reference == make_reference(i.id, i.submitted_at) for i in stored)
    assert all(i.text.startswith("Message ") for i in stored)
    result = subprocess.run(
        [ENGAGE, "import-mail", "--json", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    counts = json.loads(result.stdout.strip().splitlines()[-1])
    assert counts == {
        "imported": total - len(stored),
        "duplicates": len(stored),
        "auto_replies": 0,
        "rejected": 0,
        "dropped": [],
    }
    # Whatever the killed run left unclassified or unacknowledged, the worker's sweeps
    # finish.
    while classify.classify_pending() + notifications.acknowledge_pending():
        pass
    stored = items()
    assert len(stored) == total == len({i.message_id for i in stored})
    assert all(i.classified_at is not None and not i.ack_pending for i in stored)
    assert count(OutboxMessage) == total
    assert db.session.scalar(select(func.count(func.distinct(OutboxMessage.recipient)))) == total


def test_the_next_batch_is_parsed_while_one_is_stored_but_never_more(app, monkeypatch):
    """Parsing runs one batch ahead in a second thread: never more than two batches
    of messages are read before the first is stored."""
    pulled = 0

    def messages():
        nonlocal pulled
        for n in range(50):
            pulled += 1
            yield mail(n)

    read_when_stored: list[int] = []
    store = inbound._ingest_batch

    def watching(batch, **options):
        read_when_stored.append(pulled)
        return store(batch, **options)

    monkeypatch.setattr(inbound, "_ingest_batch", watching)
    summary = inbound.ingest_many(messages(), channel=Channel.IMPORT, batch_size=10)
    assert summary.as_dict()["imported"] == 50
    assert len(read_when_stored) == 5
    # When batch k is stored, at most batches k+1 and k+2 have been read.
    for k, pulled_then in enumerate(read_when_stored, start=1):
        assert 10 * k <= pulled_then <= 10 * (k + 2)


def test_an_error_reading_the_mailbox_reaches_the_caller(app):
    def messages():
        yield mail(1)
        raise OSError("the disk went away")

    with pytest.raises(OSError, match="the disk went away"):
        inbound.ingest_many(messages(), channel=Channel.IMPORT, batch_size=10)
    assert not [t for t in threading.enumerate() if t.name == "engage-import-parse"]


def test_stopping_the_import_stops_the_parsing_thread(app, monkeypatch):
    def interrupted(batch, **options):
        raise KeyboardInterrupt

    monkeypatch.setattr(inbound, "_ingest_batch", interrupted)
    endless = (mail(n) for n in range(10**6))
    with pytest.raises(KeyboardInterrupt):
        inbound.ingest_many(endless, channel=Channel.IMPORT, batch_size=5)
    assert not [t for t in threading.enumerate() if t.name == "engage-import-parse"]
    assert count() == 0


def test_with_the_worker_setting_an_import_hands_each_batch_to_the_worker(app, model, monkeypatch):
    """As every channel does with ENGAGE_POST_COMMIT_IN_WORKER: the import stores and
    commits, the worker classifies and acknowledges; ``follow_up_here`` (the CLI's
    --classify-now) still does it during the import."""
    handed: list[int] = []
    monkeypatch.setitem(app.config, "ENGAGE_POST_COMMIT_IN_WORKER", True)
    monkeypatch.setattr(post_commit, "_hand_over", lambda: handed.append(count()))
    summary = inbound.ingest_many(
        (mail(n) for n in range(25)), channel=Channel.IMPORT, batch_size=10
    )
    assert summary.as_dict()["imported"] == 25
    assert handed == [10, 20, 25]  # once a batch, after its commit
    stored = items()
    assert all(i.classified_at is None and i.ack_pending for i in stored)
    assert count(OutboxMessage) == 0
    # The worker's owed jobs finish them: each classified, each acknowledged once.
    jobs = post_commit.owed_jobs()
    assert jobs["classify"]() == 25 and jobs["acknowledge"]() == 25
    stored = items()
    assert all(i.classified_at is not None and not i.ack_pending for i in stored)
    assert count(OutboxMessage) == 25
    # Asked to, the import does it itself whatever the setting says.
    inbound.ingest_many(
        (mail(n) for n in range(25, 30)), channel=Channel.IMPORT, follow_up_here=True
    )
    assert handed == [10, 20, 25]
    assert all(i.classified_at is not None and not i.ack_pending for i in items())
    assert count(OutboxMessage) == 30


def test_import_mail_classify_now_does_the_work_during_the_import(
    app, model, tmp_path, monkeypatch
):
    from engage.cli import cli

    handed: list[int] = []
    monkeypatch.setitem(app.config, "ENGAGE_POST_COMMIT_IN_WORKER", True)
    monkeypatch.setattr(post_commit, "_hand_over", lambda: handed.append(count()))
    first, second = tmp_path / "first.mbox", tmp_path / "second.mbox"
    _mbox(first, [mail(n)[1] for n in range(3)])
    _mbox(second, [mail(n)[1] for n in range(3, 6)])
    runner = app.test_cli_runner()
    assert runner.invoke(cli, ["import-mail", str(first)]).exit_code == 0
    assert handed == [3] and all(i.classified_at is None for i in items())
    result = runner.invoke(cli, ["import-mail", "--classify-now", str(second)])
    assert result.exit_code == 0, result.output
    assert handed == [3]
    done = {i.message_id: i.classified_at is not None and not i.ack_pending for i in items()}
    assert done == {f"m{n}@example.org": n >= 3 for n in range(6)}
