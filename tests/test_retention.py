"""Retention: `engage purge` removes personal details from old feedback, keeps the record."""

from __future__ import annotations

import json
from datetime import UTC, timedelta

import pytest
from sqlalchemy import inspect, select, text

from engage import config
from engage.cli import cli
from engage.extensions import db
from engage.feedback import retention
from engage.feedback.models import (
    Channel,
    DuplicateGroup,
    FeedbackItem,
    TagSource,
    Theme,
    ThemeTag,
)
from engage.feedback.search import matching
from engage.mail.models import OutboxMessage
from engage.public import opendata
from engage.publish import queries
from engage.publish.models import AlertChoice, AlertSubscription, ResponseVote
from engage.staff import accounts, audit, item_actions
from engage.staff.models import AuditEvent, ItemNote, Role
from engage.util import utcnow
from tests.publish.factories import make_response  # noqa: F401

OLD_DAYS = 800  # older than the default 730
# Personal details of the people whose feedback is old: none may survive a purge.
OLD_PERSONAL = (
    "nora.oldham@example.org",
    "Nora Oldham",
    "Acacia Avenue",
    "Zyxwvutsrq",  # a surname no stemmer or tokenizer changes
    "carl.old@example.org",
    "Carl Oldfield",
    "old-message-id-4711@mail.example.org",
    "nora-letter.pdf",
    "020 7946 0001",
)
NEW_PERSONAL = ("nina.newman@example.org", "Nina Newman")


def theme(slug: str) -> Theme:
    return db.session.scalar(select(Theme).where(Theme.slug == slug))


def every_row() -> dict[str, list[tuple]]:
    """Every row of every table the models define, as plain values."""
    rows = {}
    for table in db.metadata.sorted_tables:
        ordered = table.select().order_by(*table.primary_key.columns)
        rows[table.name] = [tuple(r) for r in db.session.execute(ordered)]
    return rows


def stored_text() -> str:
    """Everything in the database as one string (the SQLite full-text index included)."""
    dump = repr(every_row())
    if db.engine.dialect.name == "sqlite":
        blocks = db.session.execute(text("SELECT block FROM feedback_fts_data")).scalars()
        dump += repr([bytes(b or b"") for b in blocks])
    return dump.lower()


def item_columns(item_id: int) -> dict:
    item = db.session.get(FeedbackItem, item_id)
    db.session.refresh(item)
    return {c.key: getattr(item, c.key) for c in inspect(FeedbackItem).column_attrs}


def public_figures(client) -> dict:
    """What the public sees that purging must not change."""
    db.session.expire_all()
    statistics = client.get("/api/v1/statistics").get_json()
    counts = client.get("/open-data/feedback-counts.json").get_json()["counts"]
    return {
        "count_dicts": opendata.count_dicts(),
        "feedback_counts": queries.feedback_counts(),
        "statistics": statistics["items"],
        "open_data_counts": counts,
        "responses": [
            {k: v for k, v in r.items() if k != "generated_at"}
            for r in opendata.published_response_dicts()
        ],
    }


@pytest.fixture
def world(app, make_engagement, make_item, make_response):  # noqa: F811
    """Old and new feedback with personal details in every place they can be."""
    staff = accounts.create_staff(
        email="triager@nhs.example", role=Role.TRIAGER, password="x" * 16, name="Tess"
    )
    db.session.commit()
    engagement = make_engagement(areas=["Brent", "Ealing", "Harrow"])
    old = utcnow() - timedelta(days=OLD_DAYS)
    recent = utcnow() - timedelta(days=30)

    nora = make_item(
        "Nora Oldham of 12 Acacia Avenue: Zyxwvutsrq family worried about GP access. "
        "Call 020 7946 0001.",
        engagement_slug=engagement.slug,
        author_name="Nora Oldham",
        author_email="nora.oldham@example.org",
        area="Harrow",
        consent_to_quote=True,
        contact_me=True,
        submitted_at=old,
    )
    item_actions.set_themes(nora, ["services", "decision-making"], by=staff)
    item_actions.save_redaction(nora, "A family worried about GP access.", by=staff)
    item_actions.add_note(nora, "Rang Nora Oldham back on 020 7946 0001.", by=staff)

    carl = make_item(
        "Please reply to carl.old@example.org about the deficit and the money.",
        engagement_slug=engagement.slug,
        channel=Channel.EMAIL,
        author_name="Carl Oldfield",
        author_email="carl.old@example.org",
        subject="From Carl Oldfield about money",
        submitted_at=old,
        extra={
            "message_id": "old-message-id-4711@mail.example.org",
            "attachment_names": ["nora-letter.pdf"],
        },
    )
    carl.area = "12 Acacia Avenue"  # typed in (an older form, or a partner): an address
    # The model tagged it once; those tags are what the public counts use.
    carl.tags.append(ThemeTag(theme=theme("money"), source=TagSource.MODEL, confidence=0.9))
    carl.classified_at = old
    carl.model_version = "v-test"
    # Never classified, no redacted copy: the text goes, the item stays counted.
    anon = make_item(
        "An old comment about jobs at Northwick Park, sent by Zyxwvutsrq.",
        engagement_slug=engagement.slug,
        channel=Channel.API,
        area="Brent",
        submitted_at=old,
    )
    newer = make_item(
        "Nina Newman here: keep the walk-in centre in Ealing open.",
        engagement_slug=engagement.slug,
        author_name="Nina Newman",
        author_email="nina.newman@example.org",
        area="Ealing",
        contact_me=True,
        submitted_at=recent,
    )
    item_actions.add_note(newer, "Nina Newman wants a call back.", by=staff)
    group = DuplicateGroup(engagement_id=engagement.id, size=2, sample_text=carl.text)
    db.session.add(group)
    db.session.flush()
    carl.duplicate_group_id = group.id
    anon.duplicate_group_id = group.id
    db.session.commit()

    response = make_response(engagement=engagement, items=[nora, newer], themes=("services",))
    db.session.add_all(
        [
            ResponseVote(
                response_id=response.id, helpful=False, comment="Nora Oldham: no.", created_at=old
            ),
            ResponseVote(response_id=response.id, helpful=True, comment="Nina Newman: yes."),
            # Stopped long ago, and never confirmed: both go.
            AlertSubscription(
                email="carl.old@example.org",
                created_at=old,
                confirmed_at=old,
                unsubscribed_at=old + timedelta(days=1),
            ),
            AlertSubscription(
                email="pat.old@example.org",
                created_at=old,
                choices=[AlertChoice(engagement_id=engagement.id, created_at=old)],
            ),
            AlertSubscription(
                email="still.subscribed@example.org",
                created_at=old,
                confirmed_at=old,
                choices=[AlertChoice(theme_id=theme("jobs").id, created_at=old, confirmed_at=old)],
            ),
        ]
    )
    # The acknowledgements were queued when the old items came in.
    for message in db.session.scalars(select(OutboxMessage)):
        if message.recipient in ("nora.oldham@example.org", "carl.old@example.org"):
            message.created_at = old
    db.session.commit()
    assert db.session.scalar(select(db.func.count()).select_from(OutboxMessage)) == 3
    return {
        "engagement": engagement,
        "old": [nora.id, carl.id, anon.id],
        "nora": nora.id,
        "carl": carl.id,
        "anon": anon.id,
        "new": newer.id,
        "group": group.id,
        "response": response.id,
    }


def test_purge_removes_old_personal_details_and_keeps_the_record(app, client, world):
    before = public_figures(client)
    new_before = item_columns(world["new"])
    assert all(p.lower() in stored_text() for p in OLD_PERSONAL + NEW_PERSONAL)
    response_page = client.get(f"/you-said-we-did/{world['response']}").get_data(as_text=True)
    assert "A family worried about GP access." in response_page

    result = retention.purge(730)

    assert result.items == 3 and result.notes == 1 and result.outbox_messages == 2
    assert result.vote_comments == 1 and result.alert_subscriptions == 2
    assert result.campaign_samples == 1 and not result.dry_run
    db.session.expire_all()
    dump = stored_text()
    for detail in OLD_PERSONAL:
        assert detail.lower() not in dump, detail
    for detail in NEW_PERSONAL:
        assert detail.lower() in dump, detail

    # Counts, statistics, open data and published responses are exactly as before.
    assert public_figures(client) == before
    after_page = client.get(f"/you-said-we-did/{world['response']}").get_data(as_text=True)
    assert "A family worried about GP access." in after_page
    # The new item is untouched, column for column, and keeps its note.
    assert item_columns(world["new"]) == new_before
    assert db.session.scalar(select(ItemNote.text)) == "Nina Newman wants a call back."


def test_what_an_old_item_keeps(app, world):
    retention.purge(730)
    db.session.expire_all()
    nora = db.session.get(FeedbackItem, world["nora"])
    assert nora.text == nora.redacted_text == "A family worried about GP access."
    assert (nora.author_name, nora.author_email, nora.subject) == (None, None, None)
    assert nora.area == "Harrow" and nora.consent_to_quote and not nora.contact_me
    assert sorted(t.slug for t in nora.themes()) == ["decision-making", "services"]
    assert nora.reference.startswith("YS-") and nora.engagement_id == world["engagement"].id

    carl = db.session.get(FeedbackItem, world["carl"])
    assert carl.text == retention.PLACEHOLDER
    assert carl.area is None  # a typed-in area is not a borough
    assert carl.attachment_names is None and carl.subject is None
    assert carl.message_id == retention.hashed_message_id("old-message-id-4711@mail.example.org")
    assert carl.message_id.startswith("msgid-sha256:") and len(carl.message_id) == 77
    assert [t.slug for t in carl.themes()] == ["money"]
    assert carl.channel == Channel.EMAIL and carl.duplicate_group_id == world["group"]
    group = db.session.get(DuplicateGroup, world["group"])
    assert group.sample_text == retention.PLACEHOLDER and group.size == 2

    anon = db.session.get(FeedbackItem, world["anon"])
    assert anon.text == retention.PLACEHOLDER and anon.area == "Brent"
    # Marked processed, so the worker never tags the placeholder (that would change counts).
    assert anon.classified_at is not None and anon.tags == []
    # A redacted copy is real text: it may still be classified once there is a model.
    waiting = select(FeedbackItem.id).where(FeedbackItem.classified_at.is_(None))
    assert sorted(db.session.scalars(waiting)) == sorted([world["nora"], world["new"]])

    votes = db.session.scalars(select(ResponseVote).order_by(ResponseVote.id)).all()
    assert [(v.helpful, v.comment) for v in votes] == [(False, None), (True, "Nina Newman: yes.")]
    assert db.session.scalars(select(AlertSubscription.email)).all() == [
        "still.subscribed@example.org"
    ]
    assert len(db.session.scalars(select(AlertChoice)).all()) == 1  # the others' went with them
    assert db.session.scalars(select(OutboxMessage.recipient)).all() == ["nina.newman@example.org"]


def test_search_no_longer_finds_purged_words(app, world):
    dialect = db.engine.dialect.name

    def found(q: str) -> list[int]:
        return db.session.scalars(select(FeedbackItem.id).where(matching(q, dialect))).all()

    assert sorted(found("Zyxwvutsrq")) == sorted([world["nora"], world["anon"]])
    retention.purge(730)
    db.session.expire_all()
    assert found("Zyxwvutsrq") == [] and found("Acacia") == []
    assert found("walk-in centre Ealing") == [world["new"]]
    assert found("family GP access") == [world["nora"]]  # the redacted copy is searchable


def test_dry_run_changes_nothing(app, world):
    before = every_row()
    result = retention.purge(730, dry_run=True)
    assert result.dry_run and result.items == 3 and result.outbox_messages == 2
    db.session.expire_all()
    assert every_row() == before
    assert audit.count(action="retention.purge") == 0
    real = retention.purge(730)
    # The same counts as the real run (the cutoff moves on with the clock between the two).
    same = {**result.as_dict(), "dry_run": False, "cutoff": None}
    assert same == {**real.as_dict(), "cutoff": None}


def test_second_purge_finds_nothing_left(app, world):
    retention.purge(730)
    again = retention.purge(730)
    counts = {k: v for k, v in again.as_dict().items() if type(v) is int}
    assert counts == {
        "older_than_days": 730,
        "items": 0,
        "notes": 0,
        "vote_comments": 0,
        "outbox_messages": 0,
        "alert_subscriptions": 0,
        "campaign_samples": 0,
    }
    assert audit.count(action="retention.purge") == 2


def test_a_shorter_period_reaches_newer_items(app, world):
    assert retention.purge(10).items == 4
    db.session.expire_all()
    newer = db.session.get(FeedbackItem, world["new"])
    assert newer.author_email is None and newer.area == "Ealing"


def test_purge_is_audited(app, world):
    retention.purge(730)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "retention.purge"))
    assert event.detail["items"] == 3 and event.detail["older_than_days"] == 730
    assert event.detail["cutoff"].endswith("Z") and event.detail["dry_run"] is False
    assert event.actor_id is None


def test_cli_purge_json_and_default_from_setting(app, runner, world):
    out = runner.invoke(cli, ["purge", "--dry-run", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["older_than_days"] == app.config["ENGAGE_RETENTION_DAYS"] == 730
    assert data["dry_run"] is True and data["items"] == 3
    assert db.session.get(FeedbackItem, world["nora"]).author_email == "nora.oldham@example.org"

    previous = app.config["ENGAGE_RETENTION_DAYS"]
    app.config["ENGAGE_RETENTION_DAYS"] = 10
    try:
        out = runner.invoke(cli, ["purge", "--dry-run", "--json"])
    finally:
        app.config["ENGAGE_RETENTION_DAYS"] = previous
    assert json.loads(out.output)["items"] == 4

    out = runner.invoke(cli, ["purge", "--older-than", "730"])
    assert out.exit_code == 0, out.output
    assert "Removed personal details from 3 feedback items" in out.output
    db.session.expire_all()
    assert db.session.get(FeedbackItem, world["nora"]).author_email is None


def test_cli_refuses_a_period_under_one_day(app, runner, world):
    out = runner.invoke(cli, ["purge", "--older-than", "0"])
    assert out.exit_code == 2 and "0" in out.output
    assert db.session.get(FeedbackItem, world["nora"]).author_email == "nora.oldham@example.org"


def test_retention_setting_from_environment(monkeypatch):
    monkeypatch.delenv("ENGAGE_RETENTION_DAYS", raising=False)
    assert config.retention_days() == 730
    monkeypatch.setenv("ENGAGE_RETENTION_DAYS", "365")
    assert config.retention_days() == 365
    for bad in ("0", "-5", "two years"):
        monkeypatch.setenv("ENGAGE_RETENTION_DAYS", bad)
        with pytest.raises(config.ConfigError, match="ENGAGE_RETENTION_DAYS"):
            config.retention_days()


def test_privacy_notice_states_the_period(app, client):
    page = client.get("/privacy").get_data(as_text=True)
    assert "730 days (2 years)" in page
    previous = app.config["ENGAGE_RETENTION_DAYS"]
    app.config["ENGAGE_RETENTION_DAYS"] = 400
    try:
        page = client.get("/privacy").get_data(as_text=True)
    finally:
        app.config["ENGAGE_RETENTION_DAYS"] = previous
    assert "400 days after you send your feedback" in page and "years)" not in page


def test_an_old_message_imported_again_after_a_purge_is_a_duplicate(app, make_engagement):
    from email.message import EmailMessage
    from email.utils import format_datetime

    from engage.mail import inbound

    make_engagement(slug="case-for-change")
    message = EmailMessage()
    message["From"] = "Olive Oldham <olive.oldham@example.org>"
    message["To"] = "engage+case-for-change@engage.example.org"
    message["Subject"] = "About the merger"
    sent = (utcnow() - timedelta(days=OLD_DAYS)).replace(tzinfo=UTC)
    message["Date"] = format_datetime(sent, usegmt=True)
    message["Message-ID"] = "<olive-4712@mail.example.org>"
    message.set_content("I worry that the merger takes decisions away from Harrow.")
    assert inbound.ingest(message.as_bytes()).result == inbound.IMPORTED
    assert retention.purge(730).items == 1
    # Importing the same mailbox export again must not bring her details back.
    assert inbound.ingest(message.as_bytes()).result == inbound.DUPLICATE
    items = db.session.scalars(select(FeedbackItem)).all()
    assert len(items) == 1 and items[0].author_email is None


def test_purged_texts_are_not_training_labels(app, world):
    from engage.classify import service as classify

    staff = accounts.create_staff(email="t2@nhs.example", role=Role.TRIAGER, password="x" * 16)
    item_actions.set_themes(db.session.get(FeedbackItem, world["anon"]), ["jobs"], by=staff)
    db.session.commit()
    retention.purge(730)
    texts, labels = classify.staff_labels()
    assert retention.PLACEHOLDER not in texts
    assert "A family worried about GP access." in texts  # a redacted copy still teaches


def test_purge_clears_the_forms_double_submit_key(app, world):
    old = db.session.get(FeedbackItem, world["nora"])
    old.submission_key = "a-hash-of-the-session-and-the-text"
    db.session.commit()
    assert retention.purge(730).items == 3
    db.session.expire_all()
    assert db.session.get(FeedbackItem, world["nora"]).submission_key is None
    assert retention.purge(730).items == 0  # nothing left to remove: not counted again
