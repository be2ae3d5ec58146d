"""A theme's grouping is the worker's job: queued once, claimed once, retried, shown."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from engage import tasks
from engage.audit import AuditEvent
from engage.concerns import jobs, service
from engage.concerns.models import Concern, ConcernJob
from engage.engagements.models import Engagement
from engage.extensions import db
from engage.feedback.models import Theme
from engage.staff.models import Role
from tests.concerns.conftest import evaluation_rows
from tests.conftest import TEST_DATABASE_URL


@pytest.fixture
def ungrouped(make_engagement, add_items, theme_named):
    engagement = make_engagement()
    items = add_items(engagement, "jobs", [r["text"] for r in evaluation_rows("jobs")])
    return engagement, theme_named("jobs"), items


def _page(client, engagement):
    return client.get(f"/staff/concerns?engagement={engagement.slug}&theme=jobs")


def _jobs() -> list[ConcernJob]:
    db.session.expire_all()
    return list(db.session.scalars(select(ConcernJob)))


def _count(action: str) -> int:
    return db.session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == action))


def test_the_page_queues_a_themes_first_grouping_once(ungrouped, signed_in):
    engagement, theme, items = ungrouped
    viewer, triager = signed_in(Role.VIEWER), signed_in(Role.TRIAGER)
    first = _page(viewer, engagement)
    second = _page(triager, engagement)
    pressed = triager.post(
        "/staff/concerns/refresh", data={"engagement": engagement.slug, "theme": "jobs"}
    )
    assert pressed.status_code == 302
    [job] = _jobs()
    assert job.state == "queued" and job.items == len(items) and job.attempts == 0
    assert job.requested_by == viewer.user.email
    assert _count("concern.group_requested") == 1
    assert not service.concerns_of(engagement, theme), "the request itself groups nothing"
    for page in (first, second):
        html = page.get_data(as_text=True)
        assert f"Grouping {len(items)} items, asked for at" in html
        assert "Check again" in html
        assert "Find concerns" not in html, "no second request while one is queued"


def test_requests_at_the_same_moment_queue_one_job(app, ungrouped):
    engagement, theme, _items = ungrouped
    # Ids read here: an expired object would reload through this thread's session.
    ids = (engagement.id, theme.id)
    barrier = threading.Barrier(3)
    queued: list[bool] = []

    def ask() -> None:
        with app.app_context():
            e, t = db.session.get(Engagement, ids[0]), db.session.get(Theme, ids[1])
            barrier.wait()
            queued.append(jobs.request_grouping(e, t, by="someone@example.org")[1])
            db.session.remove()

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(queued) == [False, False, True]
    assert len(_jobs()) == 1 and _count("concern.group_requested") == 1


def test_two_workers_claim_the_job_once(app, ungrouped):
    engagement, theme, _items = ungrouped
    job_id = jobs.request_grouping(engagement, theme)[0].id
    barrier = threading.Barrier(2)
    tokens: list[str | None] = []

    def worker() -> None:
        with app.app_context():
            barrier.wait()
            tokens.append(jobs.claim(job_id))
            db.session.remove()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(tokens) == 2 and sum(t is not None for t in tokens) == 1
    [stored] = _jobs()
    assert stored.state == "running" and stored.attempts == 1
    assert stored.claim_token in tokens
    # While its lease runs nobody else takes it; once it lapses (a dead worker) one may.
    assert jobs.run_owed() == 0
    stored.claimed_until = datetime(2000, 1, 1)
    db.session.commit()
    assert jobs.owed_ids() == [job_id]


def test_the_worker_groups_the_theme_and_the_page_shows_the_concerns(app, ungrouped, signed_in):
    engagement, theme, items = ungrouped
    client = signed_in(Role.TRIAGER)
    _page(client, engagement)
    tasks.bind(app)
    assert tasks.run_sweeps()["group_concerns"] == 1
    [job] = _jobs()
    assert job.state == "done" and job.progress == 100 and job.finished_at is not None
    concerns = service.concerns_of(engagement, theme)
    assert len(concerns) >= 2
    assert sorted(m.item_id for c in concerns for m in c.members) == sorted(i.id for i in items)
    [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "concern.refresh"))
    assert event.detail["by"] == "worker" and event.actor_id is None
    assert event.detail["requested_by"] == client.user.email
    # Done once: a second sweep (or worker) finds nothing owed.
    assert tasks.group_concerns.call_local()["group_concerns"] == 0
    html = _page(client, engagement).get_data(as_text=True)
    assert f'id="concern-{concerns[0].id}"' in html
    assert 'id="concern-job"' not in html and "Check again" not in html
    assert len(_jobs()) == 1 and _jobs()[0].state == "done", "a grouped theme is not queued again"


def test_the_page_shows_a_running_groupings_progress(ungrouped, signed_in):
    engagement, theme, items = ungrouped
    job, _ = jobs.request_grouping(engagement, theme)
    job.state, job.started_at, job.progress = "running", datetime(2026, 12, 6, 10, 5), 40
    job.claimed_until = datetime(2999, 1, 1)
    db.session.commit()
    html = _page(signed_in(Role.VIEWER), engagement).get_data(as_text=True)
    assert f"Grouping {len(items)} items, started 10:05 UTC: 40% done." in html
    assert f'href="/staff/concerns?engagement={engagement.slug}&amp;theme=jobs"' in html


def test_progress_is_stored_as_the_grouping_goes(app, ungrouped, monkeypatch):
    engagement, theme, _items = ungrouped
    job, _ = jobs.request_grouping(engagement, theme)
    told: list[int] = []
    seen: list[int] = []
    real = jobs._tell_progress

    def watch(job_id, token, share):
        told.append(min(99, round(share * 100)))
        real(job_id, token, share)
        with db.engine.connect() as connection:
            seen.append(
                connection.scalar(select(ConcernJob.progress).where(ConcernJob.id == job_id))
            )

    monkeypatch.setattr(jobs, "_tell_progress", watch)
    assert jobs.run_owed() == 1
    assert len(seen) >= 3 and seen == sorted(seen) and 0 < seen[-1] < 100
    # Describing the concerns found counts too: the figure passes 90% before the
    # concerns are written, once per concern described.
    assert seen[-1] >= 95 and len([p for p in seen if p > 50]) >= 3
    # Every figure was stored as told: the grouping's transaction held no lock while
    # it computed (on SQLite a held lock would leave the figure behind).
    assert seen == told
    assert _jobs()[0].progress == 100


@pytest.mark.skipif(
    bool(TEST_DATABASE_URL), reason="PostgreSQL waits for a row lock; nothing is busy"
)
def test_a_busy_progress_update_is_tried_once_more(app, ungrouped):
    engagement, theme, _items = ungrouped
    job, _ = jobs.request_grouping(engagement, theme)
    token = jobs.claim(job.id)
    path = db.engine.url.database
    locked, done = threading.Event(), threading.Event()

    def other_writer() -> None:
        # Another process's write that outlasts one busy timeout (5 s), not two.
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        locked.set()
        time.sleep(6.5)
        connection.execute("ROLLBACK")
        connection.close()
        done.set()

    thread = threading.Thread(target=other_writer)
    thread.start()
    assert locked.wait(10)
    jobs._tell_progress(job.id, token, 0.5)
    thread.join(20)
    assert done.is_set()
    assert _jobs()[0].progress == 50, "stored by the second try"


def test_a_failure_is_retried_then_shown_to_staff(ungrouped, signed_in, monkeypatch):
    engagement, theme, _items = ungrouped

    def broken(*args, **kwargs):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(service, "refresh", broken)
    job, _ = jobs.request_grouping(engagement, theme)
    assert jobs.run_owed() == 0
    [job] = _jobs()
    assert job.state == "queued" and job.attempts == 1
    assert "the disk is full" in job.error and job.not_before > datetime.utcnow()
    viewer = signed_in(Role.VIEWER)
    html = _page(viewer, engagement).get_data(as_text=True)
    assert "Attempt 1 of 3 failed (RuntimeError: the disk is full)" in html
    assert jobs.run_owed() == 0 and _jobs()[0].attempts == 1, "it waits before a retry"
    for attempt in (2, 3):
        job = _jobs()[0]
        job.not_before = datetime.utcnow() - timedelta(seconds=1)
        db.session.commit()
        jobs.run_owed()
        assert _jobs()[0].attempts == attempt
    [job] = _jobs()
    assert job.state == "failed" and jobs.owed_ids() == []
    html = _page(viewer, engagement).get_data(as_text=True)
    assert "Grouping this theme failed" in html and "the disk is full" in html
    assert "Check again" not in html
    assert _jobs()[0].state == "failed", "viewing a failed job does not queue it again"
    # A triager asks again: queued afresh, and this time it works.
    monkeypatch.undo()
    triager = signed_in(Role.TRIAGER)
    triager.post("/staff/concerns/refresh", data={"engagement": engagement.slug, "theme": "jobs"})
    [job] = _jobs()
    assert job.state == "queued" and job.attempts == 0 and job.error is None
    assert jobs.run_owed() == 1 and service.concerns_of(engagement, theme)


def test_group_again_is_a_worker_job_too(ungrouped, signed_in):
    engagement, theme, _items = ungrouped
    service.refresh(engagement, theme)
    db.session.commit()
    before = {c.id for c in service.concerns_of(engagement, theme)}
    client = signed_in(Role.TRIAGER)
    client.post(
        "/staff/concerns/refresh",
        data={"engagement": engagement.slug, "theme": "jobs", "rediscover": "1"},
    )
    [job] = _jobs()
    assert job.state == "queued" and job.rediscover
    assert {c.id for c in service.concerns_of(engagement, theme)} == before
    assert jobs.run_owed() == 1
    after = service.concerns_of(engagement, theme)
    [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "concern.refresh"))
    assert event.detail["rediscover"] and event.detail["found"] == len(after) >= 2
    # Nobody had touched them: every concern was made afresh by the job.
    assert all(c.created_at >= _jobs()[0].started_at for c in after)


def test_only_triagers_ask_for_a_grouping_and_only_with_a_csrf_token(app, ungrouped, signed_in):
    engagement, theme, _items = ungrouped
    service.refresh(engagement, theme)
    db.session.commit()
    data = {"engagement": engagement.slug, "theme": "jobs", "rediscover": "1"}
    assert signed_in(Role.VIEWER).post("/staff/concerns/refresh", data=data).status_code == 403
    triager = signed_in(Role.TRIAGER)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        refused = triager.post("/staff/concerns/refresh", data=data)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert refused.status_code == 400
    assert _jobs() == []
    assert (
        db.session.scalar(select(func.count(Concern.id)).where(Concern.theme_id == theme.id)) >= 2
    )


def test_a_web_node_with_a_worker_hands_the_new_job_over_once(
    app, ungrouped, signed_in, monkeypatch
):
    engagement, _theme, _items = ungrouped
    asked: list[int] = []
    monkeypatch.setattr(jobs, "_hand_over", lambda: asked.append(1))
    monkeypatch.setitem(app.config, "ENGAGE_POST_COMMIT_IN_WORKER", True)
    client = signed_in(Role.VIEWER)
    _page(client, engagement)
    _page(client, engagement)
    assert asked == [1], "queued once, handed over once"
    monkeypatch.undo()
    assert jobs._hand_over is tasks.hand_over_grouping, "the app binds the task queue"


def _cli(runner, engagement, *extra):
    from engage.cli import cli

    return runner.invoke(
        cli, ["concerns", "--engagement", engagement.slug, "--theme", "jobs", "--json", *extra]
    )


def test_the_cli_does_a_queued_grouping_through_its_job(ungrouped, signed_in, runner):
    engagement, theme, items = ungrouped
    client = signed_in(Role.TRIAGER)
    _page(client, engagement)
    [job] = _jobs()
    assert job.state == "queued"
    result = _cli(runner, engagement)
    assert result.exit_code == 0, result.output
    assert "did the grouping queued for the worker" in result.stderr
    data = json.loads(result.stdout)
    assert sum(c["count"] for c in data["concerns"]) == len(items)
    [job] = _jobs()
    assert job.state == "done" and job.progress == 100 and job.claim_token is None
    [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "concern.refresh"))
    assert event.detail["by"] == "cli" and event.detail["requested_by"] == client.user.email
    made = {c.id: c.created_at for c in service.concerns_of(engagement, theme)}
    # The worker finds nothing owed afterwards and changes nothing.
    assert jobs.owed_ids() == [] and jobs.run_owed() == 0
    db.session.expire_all()
    assert {c.id: c.created_at for c in service.concerns_of(engagement, theme)} == made
    assert _count("concern.refresh") == 1


def test_the_cli_takes_a_queued_group_again_and_a_retry_still_waiting(ungrouped, runner):
    engagement, theme, _items = ungrouped
    service.refresh(engagement, theme)
    db.session.commit()
    job, _ = jobs.request_grouping(engagement, theme, rediscover=True, by="t@example.org")
    # A failed attempt waits for its retry: an operator's command does not wait.
    job.attempts, job.error = 1, "RuntimeError: once"
    job.not_before = datetime.utcnow() + timedelta(minutes=5)
    db.session.commit()
    assert jobs.owed_ids() == []
    result = _cli(runner, engagement)
    assert result.exit_code == 0, result.output
    [job] = _jobs()
    assert job.state == "done" and job.error is None
    after = service.concerns_of(engagement, theme)
    assert after and all(c.created_at >= job.started_at for c in after), "grouped again"
    [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "concern.refresh"))
    assert event.detail["rediscover"], "as staff asked, without --rediscover"
    job.not_before = None
    db.session.commit()
    assert jobs.run_owed() == 0


def test_the_cli_leaves_a_theme_a_worker_is_grouping(ungrouped, runner):
    engagement, theme, _items = ungrouped
    job, _ = jobs.request_grouping(engagement, theme)
    token = jobs.claim(job.id)  # a worker holds it, its lease live
    assert token is not None
    result = _cli(runner, engagement)
    assert result.exit_code == 75
    assert result.stdout == ""
    assert f"{engagement.slug} · jobs: skipped, a worker has been grouping it" in result.stderr
    assert not service.concerns_of(engagement, theme), "not grouped twice"
    [job] = _jobs()
    assert job.state == "running" and job.claim_token == token
    # Without --theme the other themes are still done; the held one is left out.
    from engage.cli import cli

    listed = runner.invoke(cli, ["concerns", "--engagement", engagement.slug, "--json"])
    assert listed.exit_code == 75
    assert "jobs" not in {block["theme"] for block in json.loads(listed.stdout)}
    # Once its lease has lapsed (a dead worker), the command takes the row.
    job.claimed_until = datetime(2000, 1, 1)
    db.session.commit()
    assert _cli(runner, engagement).exit_code == 0
    assert _jobs()[0].state == "done" and service.concerns_of(engagement, theme)
