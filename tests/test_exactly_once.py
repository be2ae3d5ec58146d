"""Exactly once with several workers: real processes on the test's database (issue #26).

Two worker processes (tests/sweeper.py: the jobs `engage worker` runs after a hand-over,
in small batches so that they interleave) sweep one database while this process stores
feedback, some of it followed up here as a web node does when it does not hand over to
a worker; a real SMTP server (aiosmtpd) receives the mail. Each item must be classified
once (every process records the items it tagged, as its commits land), queued one
acknowledgement and sent one email. One worker is then killed with SIGKILL inside its
transaction: nothing it held may be lost or done twice.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from flask import current_app
from sqlalchemy import func, select

from engage.extensions import db
from engage.feedback import service as feedback
from engage.feedback.models import Channel, FeedbackItem
from engage.followup import post_commit
from engage.outbox.models import OutboxMessage, OutboxStatus
from tests.sweeper import record_classifications

ROOT = Path(__file__).resolve().parents[1]


class Sweeper:
    """tests/sweeper.py in a process of its own."""

    def __init__(self, app, smtp_server, record: Path, *, pause: str | None = None):
        env = {
            **os.environ,
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "SECRET_KEY": "test-secret",
            "ENGAGE_MODEL_DIR": app.config["ENGAGE_MODEL_DIR"],
            "MAIL_SERVER": "127.0.0.1",
            "MAIL_PORT": str(smtp_server.port),
            "PYTHONPATH": str(ROOT),
        }
        env.pop("REDIS_URL", None)
        if pause:
            env["ENGAGE_TEST_PAUSE"] = pause
        self.stderr = record / f"stderr-{id(self)}.txt"
        with self.stderr.open("w") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.sweeper", str(record)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )

    def wait_ready(self) -> None:
        line = self.process.stdout.readline()
        assert line.strip() == "ready", f"the sweeper did not start: {self.errors()}"

    def finish(self, timeout: float = 120) -> dict:
        """Its totals, once it has stopped (RECORD/stop must exist)."""
        out, _ = self.process.communicate(timeout=timeout)
        assert self.process.returncode == 0, self.errors()
        return json.loads(out.strip().splitlines()[-1])

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def errors(self) -> str:
        return self.stderr.read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        self.process.stdout.close()


@pytest.fixture
def sweepers(app, trained, smtp_server, tmp_path):
    record = tmp_path / "record"
    record.mkdir()
    started: list[Sweeper] = []

    def start(**kwargs) -> Sweeper:
        sweeper = Sweeper(app, smtp_server, record, **kwargs)
        started.append(sweeper)
        return sweeper

    start.record = record
    yield start
    for sweeper in started:
        sweeper.stop()


def _submission(n: int, engagement) -> feedback.Submission:
    return feedback.Submission(
        text=f"Comment {n}: please keep the walk-in centre in Harrow open at weekends.",
        channel=Channel.WEB,
        engagement_slug=engagement.slug,
        author_email=f"resident{n}@example.org",
    )


def _store_for_the_workers(engagement, numbers) -> None:
    """Store items whose follow-up is handed to the workers (the hand-over is a no-op:
    the sweepers find the work in the table, as the minute's sweep does)."""
    app = current_app
    previous = app.config["ENGAGE_POST_COMMIT_IN_WORKER"], post_commit._hand_over
    app.config["ENGAGE_POST_COMMIT_IN_WORKER"] = True
    post_commit.hand_over_to(lambda: None)
    try:
        feedback.intake([_submission(n, engagement) for n in numbers])
    finally:
        app.config["ENGAGE_POST_COMMIT_IN_WORKER"], post_commit._hand_over = previous


def _all_done(expected: int) -> bool:
    with db.engine.connect() as connection:
        owed = connection.scalar(
            select(func.count())
            .select_from(FeedbackItem)
            .where(FeedbackItem.classified_at.is_(None) | FeedbackItem.ack_pending)
        )
        sent = connection.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.SENT)
        )
    return owed == 0 and sent >= expected


def _wait(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _classified_by(record: Path) -> dict[str, list[int]]:
    return {
        path.name: [int(line) for line in path.read_text().split()]
        for path in record.glob("classified-*.txt")
    }


def _check_each_item_once(record: Path, smtp_server, expected: int) -> None:
    """Every item: classified once, one outbox row, sent, one email at the server."""
    items = db.session.execute(select(FeedbackItem.id, FeedbackItem.reference)).all()
    assert len(items) == expected
    classified = Counter(i for ids in _classified_by(record).values() for i in ids)
    assert set(classified) == {item_id for item_id, _ in items}
    twice = {item_id: n for item_id, n in classified.items() if n > 1}
    assert not twice, f"classified more than once: {twice}"
    outbox = db.session.execute(select(OutboxMessage.subject, OutboxMessage.status)).all()
    assert len(outbox) == expected
    assert {status for _, status in outbox} == {OutboxStatus.SENT}
    time.sleep(0.5)  # an email sent twice would arrive now
    received = Counter(
        next(ref for ref in (r for _, r in items) if ref in message["Subject"])
        for message in smtp_server.messages
    )
    assert len(smtp_server.messages) == expected, Counter(received.values())
    assert set(received) == {reference for _, reference in items}
    assert set(received.values()) == {1}


@pytest.mark.slow
def test_two_workers_and_the_web_path_do_each_item_once(
    app, sweepers, smtp_server, make_engagement
):
    engagement = make_engagement()
    stop_recording = record_classifications(sweepers.record / "classified-test.txt")
    try:
        # Owed work waits in the table before the workers start, so both find it at once.
        _store_for_the_workers(engagement, range(0, 60))
        workers = [sweepers(), sweepers()]
        for worker in workers:
            worker.wait_ready()
        # While they sweep: items followed up here, one at a time (the form, run_one)
        # and in batches (a partner batch, run_many), and more left to the workers.
        for n in range(60, 120):
            feedback.submit(_submission(n, engagement))
        for start in (120, 145):
            feedback.intake([_submission(n, engagement) for n in range(start, start + 25)])
        _store_for_the_workers(engagement, range(170, 200))
        _wait(lambda: _all_done(200), 120, "every item to be classified, acknowledged and sent")
    finally:
        stop_recording()
    (sweepers.record / "stop").touch()
    totals = [worker.finish() for worker in workers]
    for worker in workers:
        assert "Traceback" not in worker.errors(), worker.errors()
    _check_each_item_once(sweepers.record, smtp_server, 200)
    # Both workers took part (the claims divided the work, they did not serialise it).
    # Which steps each got depends on timing: on a loaded machine the web path and the
    # first worker may classify everything before the second worker's first sweep, and
    # the second then takes its share of the sending.
    assert all(sum(total.values()) - total["rounds"] for total in totals), totals
    assert sum(total["sent"] for total in totals) == 200


@pytest.mark.slow
@pytest.mark.parametrize("step", ["classify", "acknowledge"])
def test_a_worker_killed_mid_batch_loses_and_duplicates_nothing(
    app, sweepers, smtp_server, make_engagement, tmp_path, step
):
    engagement = make_engagement()
    _store_for_the_workers(engagement, range(200))
    marker = tmp_path / "held"
    doomed = sweepers(pause=f"{step}:{marker}")
    doomed.wait_ready()
    _wait(marker.exists, 60, f"the first worker to hold a {step} batch")
    held = json.loads(marker.read_text())
    assert len(held) == 20
    # A second worker starts while the first holds its batch uncommitted (on PostgreSQL
    # it takes other rows; on SQLite it waits for the write lock), then the first dies.
    survivor = sweepers()
    survivor.wait_ready()
    time.sleep(1.0)
    doomed.kill()
    _wait(lambda: _all_done(200), 120, "the surviving worker to finish everything")
    (sweepers.record / "stop").touch()
    survivor.finish()
    assert "Traceback" not in survivor.errors(), survivor.errors()
    _check_each_item_once(sweepers.record, smtp_server, 200)
    # What the killed worker held uncommitted was done by the survivor, once.
    if step == "classify":
        by_survivor = _classified_by(sweepers.record)[f"classified-{survivor.process.pid}.txt"]
        assert set(held) <= set(by_survivor)
    else:
        recipients = {message["To"] for message in smtp_server.messages}
        assert set(held) <= recipients


# IMAP: several workers polling one folder -----------------------------------------------


def test_only_one_holder_of_a_named_lock_at_a_time(app):
    from engage.claiming import only_one

    with (
        only_one("imap:test/Feedback") as first,
        only_one("imap:test/Feedback") as second,
        only_one("imap:test/Other") as other,
    ):
        assert (first, second, other) == (True, False, True)
    with only_one("imap:test/Feedback") as again:
        assert again  # let go at the end of the block


@pytest.mark.slow
def test_workers_polling_one_folder_at_once_import_each_message_once(app, tmp_path):
    from tests.imapserver import PASSWORD, Dovecot
    from tests.mail.test_inbound import _deliver, message

    server = Dovecot().start()
    try:
        _deliver(
            server,
            "Feedback",
            [
                message(
                    f"Message {n}: the walk-in centre must stay open at weekends.",
                    sender=f"Resident {n} <resident{n}@example.org>",
                    message_id=f"<poll-{n}@mail.example.org>",
                )
                for n in range(40)
            ],
        )
        env = {
            **os.environ,
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "SECRET_KEY": "test-secret",
            "ENGAGE_INSTANCE_PATH": str(tmp_path),
            "IMAP_HOST": "127.0.0.1",
            "IMAP_PORT": str(server.port),
            "IMAP_USER": "engage",
            "IMAP_PASSWORD": PASSWORD,
            "IMAP_FOLDER": "Feedback",
            "IMAP_USE_SSL": "false",
        }
        env.pop("REDIS_URL", None)
        engage = str(Path(sys.executable).with_name("engage"))
        polls = [
            subprocess.Popen(
                [engage, "fetch-mail", "--json"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        counts = []
        for poll in polls:
            out, err = poll.communicate(timeout=120)
            assert poll.returncode == 0, err
            counts.append(json.loads(out))
        assert sum(c["imported"] for c in counts) == 40, counts
        assert sum(c["duplicates"] for c in counts) == 0, counts
        ids = db.session.scalars(select(FeedbackItem.message_id)).all()
        assert sorted(ids) == sorted(f"poll-{n}@mail.example.org" for n in range(40))
        from engage.mail.models import ImapState

        assert db.session.scalar(select(func.count()).select_from(ImapState)) == 1
    finally:
        server.stop()


# Real `engage worker` processes on one huey queue -----------------------------------------


@pytest.mark.slow
def test_two_engage_workers_acknowledge_each_post_once_and_soon(
    app, trained, smtp_server, tmp_path
):
    """The production path: a server process hands each commit's work to the queue; two
    `engage worker` processes (two threads each) take the hand-overs and their minute
    sweeps; each post gets one email, sent by the hand-over job itself."""
    from tests.feedback.test_batch_processes import Server
    from tests.partners import create_partner

    token = create_partner("Healthwatch Brent")[1]
    env = {
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": "test-secret",
        "ENGAGE_INSTANCE_PATH": str(tmp_path),  # the queue: tmp_path/tasks.db, shared
        "ENGAGE_MODEL_DIR": app.config["ENGAGE_MODEL_DIR"],
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp_server.port),
    }
    base = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    logs = tmp_path / "workers.log"
    engage = str(Path(sys.executable).with_name("engage"))
    workers = []
    server = None
    try:
        with logs.open("w") as log:
            for _ in range(2):
                workers.append(
                    subprocess.Popen(
                        [engage, "worker", "--workers", "2"],
                        env={**base, **env},
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        server = Server(app, env={**env, "REDIS_URL": ""})
        posted: dict[str, float] = {}

        def post(numbers) -> None:
            batch = [
                {"text": f"Post {n}: keep the Brent walk-in centre open.", "email": f"p{n}@x.org"}
                for n in numbers
            ]
            at = time.monotonic()
            status, _, body = server.post_feedback(token, batch if len(batch) > 1 else batch[0])
            assert status == 201, body
            for n in numbers:
                posted[f"p{n}@x.org"] = at

        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(post, [[n] for n in range(30)] + [range(s, s + 10) for s in (30, 40)]))
        arrived: dict[str, float] = {}
        deadline = time.monotonic() + 120
        while len(arrived) < 50 and time.monotonic() < deadline:
            for message in list(smtp_server.messages):
                arrived.setdefault(message["To"], time.monotonic())
            time.sleep(0.05)
        time.sleep(1.5)  # an email sent twice would arrive now
        messages = list(smtp_server.messages)
    finally:
        if server is not None:
            server.stop()
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
    output = logs.read_text()
    assert "Traceback" not in output, output[-3000:]
    recipients = Counter(message["To"] for message in messages)
    assert set(recipients) == set(posted), output[-3000:]
    assert set(recipients.values()) == {1}, recipients
    assert len(smtp_server.messages) == 50
    db.session.expire_all()
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(FeedbackItem)
            .where(FeedbackItem.classified_at.is_(None))
        )
        == 0
    )
    statuses = db.session.scalars(select(OutboxMessage.status)).all()
    assert statuses == [OutboxStatus.SENT] * 50
    # Sent by the hand-over job, not left to the minute's sweep: every email arrives
    # within seconds of its post (bench/bench_ack.py measures this under load).
    waits = sorted(arrived[a] - posted[a] for a in posted)
    assert waits[-1] < 20, waits
