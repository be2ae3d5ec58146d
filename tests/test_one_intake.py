"""One intake path and one post-commit owner (issue 19).

Every channel (the web form, the partner API, the inbound email webhook, `engage
import-mail`, IMAP fetch) stores through feedback.service.intake() and hands what it
stored to engage.followup.post_commit; the worker runs the same owner's owed work. And a
batch from email keeps its all-or-none behaviour for the messages it keeps.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from engage import tasks
from engage.cli import cli
from engage.extensions import db
from engage.feedback import service
from engage.feedback.models import Channel, FeedbackItem
from engage.followup import post_commit
from engage.mail import inbound
from tests.batchfail import fail_the_batch
from tests.mail import test_inbound as mail_tests
from tests.mail.test_import_batches import mail
from tests.mail.test_inbound import _deliver, _mbox, message, post_raw
from tests.partners import create_partner

# The webhook's token and the IMAP server, as the mail tests set them up.
webhook_token = mail_tests.webhook_token
dovecot = mail_tests.dovecot


def count() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(FeedbackItem))


@pytest.fixture
def spy(monkeypatch):
    """Records each call of the one intake and of the one post-commit owner."""
    calls = {"intake": [], "after_commit": []}
    real_intake = service.intake
    real_after_commit = post_commit.after_commit

    def intake(submissions, **options):
        submissions = list(submissions)
        channels = {
            (s.submission if isinstance(s, service.Checked) else s).channel for s in submissions
        }
        calls["intake"].append((channels, len(submissions), options))
        return real_intake(submissions, **options)

    def after_commit(items, *, here=False):
        calls["after_commit"].append(([item.reference for item in items], here))
        return real_after_commit(items, here=here)

    monkeypatch.setattr(service, "intake", intake)
    monkeypatch.setattr(post_commit, "after_commit", after_commit)
    return calls


def stored_references() -> list[str]:
    db.session.rollback()
    return list(db.session.scalars(select(FeedbackItem.reference).order_by(FeedbackItem.id)))


def test_the_web_form_goes_through_the_intake_and_the_owner(app, client, make_engagement, spy):
    engagement = make_engagement()
    sent = client.post(
        f"/engagements/{engagement.slug}/feedback",
        data={"text": "Keep the walk-in centre open, please."},
    )
    assert sent.status_code == 303
    [(channels, n, _)] = spy["intake"]
    assert channels == {Channel.WEB} and n == 1
    assert spy["after_commit"] == [(stored_references(), False)]


def test_the_partner_api_goes_through_the_intake_and_the_owner(app, client, spy):
    token = create_partner("Healthwatch Harrow")[1]
    sent = client.post(
        "/api/v1/feedback",
        json=[{"text": "first good item of the batch"}, {"text": "second good item of it"}],
        headers={"Authorization": f"Bearer {token}"},
    )
    assert sent.status_code == 201, sent.get_json()
    [(channels, n, options)] = spy["intake"]
    assert channels == {Channel.API} and n == 2 and not options.get("drop_invalid")
    # One hand-over for the whole batch.
    assert spy["after_commit"] == [(stored_references(), False)]


def test_the_webhook_goes_through_the_intake_and_the_owner(app, client, webhook_token, spy):
    assert post_raw(client, message()).status_code == 201
    [(channels, n, _)] = spy["intake"]
    assert channels == {Channel.EMAIL} and n == 1
    assert spy["after_commit"] == [(stored_references(), False)]


def test_import_mail_goes_through_the_intake_and_the_owner_a_batch_at_a_time(app, tmp_path, spy):
    path = tmp_path / "inbox.mbox"
    _mbox(path, [mail(n)[1] for n in range(inbound.BATCH_SIZE + 10)])
    result = app.test_cli_runner().invoke(cli, ["import-mail", "--json", str(path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.splitlines()[-1])["imported"] == inbound.BATCH_SIZE + 10
    # Two batches (200, 10): one intake each, whose items are handed to the owner, which
    # decides as for every channel (the worker, with ENGAGE_POST_COMMIT_IN_WORKER).
    assert [(channels, n) for channels, n, _ in spy["intake"]] == [
        ({Channel.IMPORT}, inbound.BATCH_SIZE),
        ({Channel.IMPORT}, 10),
    ]
    assert [len(refs) for refs, _ in spy["after_commit"]] == [inbound.BATCH_SIZE, 10]
    assert not any(here for _, here in spy["after_commit"])
    assert [r for refs, _ in spy["after_commit"] for r in refs] == stored_references()
    # --classify-now: the owner follows the batch up here and now.
    _mbox(path, [mail(n)[1] for n in range(300, 303)])
    spy["after_commit"].clear()
    result = app.test_cli_runner().invoke(cli, ["import-mail", "--classify-now", str(path)])
    assert result.exit_code == 0, result.output
    assert [(len(refs), here) for refs, here in spy["after_commit"]] == [(3, True)]


def test_imap_fetch_goes_through_the_intake_and_the_owner(app, dovecot, spy):
    _deliver(
        dovecot,
        "Feedback",
        [message(message_id="<i1@x>"), message(message_id="<i2@x>", body="Another view, kept.")],
    )
    result = app.test_cli_runner().invoke(cli, ["fetch-mail", "--json"])
    assert result.exit_code == 0, result.output
    assert [(channels, n) for channels, n, _ in spy["intake"]] == [({Channel.EMAIL}, 1)] * 2
    assert [refs for refs, _ in spy["after_commit"]] == [[r] for r in stored_references()]


def test_every_channel_hands_its_work_to_the_worker_through_the_owner(
    app, client, make_engagement, webhook_token, monkeypatch
):
    """With ENGAGE_POST_COMMIT_IN_WORKER the owner's one hand-over is what every
    channel's commit calls."""
    handed: list[int] = []
    monkeypatch.setitem(app.config, "ENGAGE_POST_COMMIT_IN_WORKER", True)
    monkeypatch.setattr(post_commit, "_hand_over", lambda: handed.append(count()))
    engagement = make_engagement()
    client.post(
        f"/engagements/{engagement.slug}/feedback",
        data={"text": "Keep the walk-in centre open, please."},
    )
    token = create_partner("Healthwatch Harrow")[1]
    client.post(
        "/api/v1/feedback",
        json=[{"text": "first good item of the batch"}, {"text": "second good item of it"}],
        headers={"Authorization": f"Bearer {token}"},
    )
    post_raw(client, message())
    # Each hand-over came after its commit: the items were already stored.
    assert handed == [1, 3, 4]


def test_the_worker_runs_the_owners_owed_work(app, monkeypatch):
    """process_new_feedback (after a hand-over) and the minute sweep run the same
    owed forms, the ones the owner holds."""
    runs: list[str] = []
    post_commit.register("test-owed", lambda item: None, owed=lambda: runs.append("owed") or 7)
    try:
        tasks.bind(app)
        assert tasks.process_new_feedback.call_local()["test-owed"] == 7
        assert tasks.run_sweeps()["test-owed"] == 7
    finally:
        post_commit.unregister("test-owed")
    assert runs == ["owed", "owed"]
    assert set(post_commit.owed_jobs()) == {"classify", "acknowledge"}


# Email batches through the intake: all or none for what they keep ---------------------


def _email(n: int, text: str | None = None) -> service.Submission:
    return service.Submission(
        text=text or f"Message {n}: the walk-in centre matters to us.",
        channel=Channel.IMPORT,
        author_email=f"resident{n}@example.org",
        extra={"message_id": f"intake{n}@example.org", "attachment_names": None},
    )


def test_drop_invalid_stores_the_valid_ones_with_their_mail_fields(app):
    result = service.intake([_email(0), _email(1, "short"), _email(2)], drop_invalid=True)
    assert set(result.refused) == {1} and "text" in result.refused[1]
    assert result.items[1] is None and result.references[1] is None
    stored = db.session.execute(
        select(FeedbackItem.reference, FeedbackItem.message_id).order_by(FeedbackItem.id)
    ).all()
    assert [r for r, _ in stored] == [result.references[0], result.references[2]]
    assert [m for _, m in stored] == ["intake0@example.org", "intake2@example.org"]


def test_without_drop_invalid_one_bad_email_refuses_the_batch(app):
    with pytest.raises(service.InvalidBatch):
        service.intake([_email(0), _email(1, "short"), _email(2)])
    assert count() == 0


@pytest.mark.parametrize("fails_after", ["insert", "commit"])
def test_an_email_batch_that_fails_stores_none_of_what_it_kept(app, monkeypatch, fails_after):
    fail_the_batch(monkeypatch, fails_after)
    with pytest.raises(RuntimeError):
        service.intake([_email(0), _email(1, "short"), _email(2)], drop_invalid=True)
    monkeypatch.undo()
    assert count() == 0


def test_a_mailbox_batch_whose_transaction_fails_stores_none_of_it(app, monkeypatch):
    """ingest_many(): a rejected message is dropped, the batch's others stored together
    or not at all (here never: every transaction fails, so each message is reported)."""

    def failing(rows):
        raise RuntimeError("disk full")

    monkeypatch.setattr(service, "insert_items", failing)
    batch = [mail(0), mail(1, subject="", body="ok"), mail(2)]
    summary = inbound.ingest_many(batch, channel=Channel.IMPORT, batch_size=10)
    assert summary.as_dict() == {"imported": 0, "duplicates": 0, "auto_replies": 0, "rejected": 3}
    assert count() == 0
    monkeypatch.undo()
    summary = inbound.ingest_many(batch, channel=Channel.IMPORT, batch_size=10)
    assert summary.as_dict() == {"imported": 2, "duplicates": 0, "auto_replies": 0, "rejected": 1}
    assert count() == 2
