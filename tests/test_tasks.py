"""The worker's periodic sweep on the huey queue."""

from __future__ import annotations

from sqlalchemy import func, select

from engage import tasks
from engage.cli import cli
from engage.extensions import db
from engage.feedback.models import Channel, FeedbackItem
from engage.feedback.service import Submission, submit
from engage.followup import post_commit
from engage.outbox.models import OutboxMessage, OutboxStatus


def test_sweep_acknowledges_and_sends(app, smtp_server, monkeypatch):
    tasks.bind(app)
    item = submit(
        Submission(
            text="Please confirm you received this.",
            channel=Channel.WEB,
            author_email="kim@example.org",
            acknowledge=True,
        )
    )
    # Simulate an acknowledgement that a failed post-commit step left owed.
    db.session.execute(db.delete(OutboxMessage))
    item.ack_pending = True
    db.session.commit()
    results = tasks.run_sweeps()
    assert results["acknowledge"] == 1
    assert results["send_outbox"].sent == 1
    [message] = smtp_server.wait_for(1)
    assert item.reference in message["Subject"]


def test_one_failing_sweep_does_not_stop_the_others(app, smtp_server):
    tasks.bind(app)
    submit(
        Submission(
            text="Another comment with an address.",
            channel=Channel.WEB,
            author_email="lee@example.org",
        )
    )

    def broken():
        raise RuntimeError("IMAP server on fire")

    post_commit.register("test-broken", lambda item: None, owed=broken)
    try:
        results = tasks.run_sweeps()
    finally:
        post_commit.unregister("test-broken")
    assert results["test-broken"] == "failed"
    assert results["send_outbox"].sent == 1
    assert db.session.scalar(select(OutboxMessage.status)) == OutboxStatus.SENT


def test_periodic_task_runs_through_huey(app, smtp_server):
    tasks.bind(app)
    submit(
        Submission(
            text="Comment sent through the huey queue.",
            channel=Channel.WEB,
            author_email="max@example.org",
        )
    )
    tasks.huey.immediate = True
    try:
        tasks.every_minute()  # enqueued and executed by huey's immediate mode
    finally:
        tasks.huey.immediate = False
    [message] = smtp_server.wait_for(1)
    assert message["To"] == "max@example.org"
    assert db.session.scalar(select(FeedbackItem.ack_pending)) is False
    assert db.session.scalar(select(OutboxMessage.status)) == OutboxStatus.SENT


def test_cli_send_outbox_and_partner(runner, smtp_server):
    submit(
        Submission(
            text="Comment for the command line test.",
            channel=Channel.WEB,
            author_email="ned@example.org",
        )
    )
    result = runner.invoke(cli, ["send-outbox"])
    assert result.exit_code == 0, result.output
    assert "Sent 1" in result.output
    result = runner.invoke(cli, ["create-partner", "Healthwatch Brent"])
    assert result.exit_code == 0 and "eng_" in result.output
    again = runner.invoke(cli, ["create-partner", "Healthwatch Brent"])
    assert again.exit_code != 0 and "already" in again.output
    assert runner.invoke(cli, ["revoke-partner", "Healthwatch Brent"]).exit_code == 0


def test_quarter_hour_task_groups_campaign_texts(app, make_engagement, make_item):
    from engage.feedback.models import DuplicateGroup

    engagement = make_engagement()
    letter = (
        "Save our local hospital. I object to the closure of the A&E and ask the board "
        "to keep emergency care in our borough for everyone who needs it."
    )
    for sign_off in ("Regards, Ann", "Thanks, Bob", "Yours, Cat", "Best, Dev"):
        make_item(f"{letter} {sign_off}", engagement_slug=engagement.slug)
    make_item("Something quite different about parking charges.", engagement_slug=engagement.slug)
    tasks.bind(app)
    tasks.huey.immediate = True
    try:
        tasks.every_quarter_hour()
    finally:
        tasks.huey.immediate = False
    group = db.session.scalars(select(DuplicateGroup)).one()
    assert group.size == 4


def test_a_web_submission_hands_its_work_to_the_worker(
    app, client, monkeypatch, make_engagement, smtp_server
):
    """With ENGAGE_POST_COMMIT_IN_WORKER the request only stores; one queued run tags
    and acknowledges every item sent in its window, in batches, and sends the emails
    (not left to the minute's sweep)."""
    from engage.classify.service import train_model

    train_model(force=True)
    db.session.commit()
    engagement = make_engagement()
    monkeypatch.setitem(app.config, "ENGAGE_POST_COMMIT_IN_WORKER", True)
    monkeypatch.setattr(tasks, "_last_hand_over", float("-inf"))
    tasks.bind(app)
    tasks.huey.flush()
    for n in range(3):
        sent = client.post(
            f"/engagements/{engagement.slug}/feedback",
            data={"text": f"Keep the walk-in centre open, comment {n}.", "author_email": "a@b.org"},
        )
        assert sent.status_code == 303
    items = db.session.scalars(select(FeedbackItem).order_by(FeedbackItem.id)).all()
    assert len(items) == 3
    assert all(i.classified_at is None and i.ack_pending for i in items)  # stored, nothing else
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    # One run was asked for (the window covers all three), to start when the window ends.
    [queued] = tasks.huey.pending()
    assert queued.name.endswith("process_new_feedback") and queued.eta is not None
    result = tasks.process_new_feedback.call_local()
    assert {k: result[k] for k in ("classify", "acknowledge")} == {"classify": 3, "acknowledge": 3}
    assert result["send_outbox"].sent == 3
    assert sorted(m["To"] for m in smtp_server.wait_for(3)) == ["a@b.org"] * 3
    db.session.expire_all()
    items = db.session.scalars(select(FeedbackItem)).all()
    assert all(i.classified_at is not None and not i.ack_pending for i in items)
    assert db.session.scalars(select(OutboxMessage.status)).all() == [OutboxStatus.SENT] * 3
    again = tasks.process_new_feedback.call_local()
    assert (again["classify"], again["acknowledge"], again["send_outbox"].sent) == (0, 0, 0)


def test_a_queue_that_is_down_loses_nothing(app, client, monkeypatch, make_engagement):
    engagement = make_engagement()
    monkeypatch.setitem(app.config, "ENGAGE_POST_COMMIT_IN_WORKER", True)
    monkeypatch.setattr(tasks, "_last_hand_over", float("-inf"))

    def broken(*args, **kwargs):
        raise ConnectionError("queue unreachable")

    monkeypatch.setattr(tasks.process_new_feedback, "schedule", broken)
    sent = client.post(
        f"/engagements/{engagement.slug}/feedback",
        data={"text": "The queue is down but this is kept.", "author_email": "c@d.org"},
    )
    assert sent.status_code == 303
    item = db.session.scalars(select(FeedbackItem)).one()
    assert item.ack_pending  # the minute's sweep still owes and sends it
    tasks.bind(app)
    assert tasks.run_sweeps()["acknowledge"] == 1


def test_sqlite_statistics_are_made_once_there_is_feedback(app, make_item, make_engagement):
    """SQLite plans the staff pages' statements well only with ANALYZE's statistics
    (bench README: the editor's picker 40 ms a call without, 3.75 ms with)."""
    from sqlalchemy import text

    from engage.extensions import keep_sqlite_statistics

    if db.engine.dialect.name != "sqlite":
        assert keep_sqlite_statistics(only_if_missing=True) is False  # autovacuum's job
        return
    db.session.execute(text("DROP TABLE IF EXISTS sqlite_stat1"))
    db.session.commit()
    assert keep_sqlite_statistics(only_if_missing=True) is False  # no feedback yet
    engagement = make_engagement()
    for n in range(3):
        make_item(
            f"Keep the walk-in centre open at weekends, please ({n}).",
            engagement_slug=engagement.slug,
        )
    assert keep_sqlite_statistics(only_if_missing=True) is True
    described = db.session.execute(
        text("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'feedback_item'")
    ).scalar()
    assert described >= 1
    assert keep_sqlite_statistics(only_if_missing=True) is False  # already described
    assert keep_sqlite_statistics() is True  # the quarter-hour refresh always runs


def _ask_for_alerts(email: str) -> None:
    from engage.feedback.models import Theme
    from engage.publish import alerts

    theme = db.session.scalar(select(Theme).where(Theme.slug == "money"))
    alerts.subscribe(email=email, themes=[theme], engagements=[])


def test_committed_mail_is_handed_to_the_worker_at_once(app, monkeypatch):
    # An outside review (round 21) waited 43 s for an alert's confirmation link: queued
    # mail waited for the worker's minute sweep unless an item's hand-over came first.
    from engage import outbox

    calls = []
    monkeypatch.setattr(outbox, "_hand_over", lambda: calls.append(1))
    monkeypatch.setitem(app.config, "ENGAGE_POST_COMMIT_IN_WORKER", True)
    _ask_for_alerts("rolled@example.org")
    db.session.rollback()
    assert calls == []  # nothing was stored, nothing to send
    _ask_for_alerts("kept@example.org")
    db.session.commit()
    assert calls == [1]
    db.session.commit()  # a commit that queued nothing asks for nothing
    assert calls == [1]
    monkeypatch.setitem(app.config, "ENGAGE_POST_COMMIT_IN_WORKER", False)
    _ask_for_alerts("here@example.org")
    db.session.commit()
    assert calls == [1]  # no worker: the caller sends (tests, `engage send-outbox`)
    monkeypatch.setitem(app.config, "ENGAGE_POST_COMMIT_IN_WORKER", True)
    with outbox.sending_here():  # a worker run that sends the outbox when it ends
        _ask_for_alerts("sweep@example.org")
        db.session.commit()
    assert calls == [1]
    _ask_for_alerts("after@example.org")
    db.session.commit()
    assert calls == [1, 1]


def test_the_hand_over_sends_through_huey(app, smtp_server, monkeypatch):
    monkeypatch.setattr(tasks, "_last_outbox_hand_over", float("-inf"))
    monkeypatch.setitem(app.config, "ENGAGE_POST_COMMIT_IN_WORKER", True)
    tasks.bind(app)
    tasks.huey.flush()
    _ask_for_alerts("quick@example.org")
    db.session.commit()
    # One run asked for on the real queue, due when the window ends: what a worker runs.
    [queued] = tasks.huey.pending()
    assert queued.name.endswith("send_outbox") and queued.eta is not None
    assert tasks.send_outbox.call_local()["send_outbox"].sent == 1
    [message] = smtp_server.wait_for(1)
    assert message["To"] == "quick@example.org"
    assert db.session.scalar(select(OutboxMessage.status)) == OutboxStatus.SENT
    tasks.huey.flush()
