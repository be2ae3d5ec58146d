"""Background jobs run by ``engage worker`` on a huey task queue.

Storage is a SQLite file in the instance folder by default, or Redis when REDIS_URL
is set. Each periodic job sweeps for work that is still owed (unsent mail, the
post-commit owner's work: missing acknowledgements, unclassified items; and new items
not yet in their themes' kept concerns), so a job that fails is simply picked up by
the next run: nothing depends on an in-memory queue surviving a crash.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from flask import Flask
from huey import RedisHuey, SqliteHuey, crontab

from engage.config import instance_path

log = logging.getLogger(__name__)


def _make_huey():
    redis_url = os.environ.get("REDIS_URL")
    if redis_url:
        return RedisHuey("engage", url=redis_url)
    folder = instance_path()
    folder.mkdir(parents=True, exist_ok=True)
    return SqliteHuey("engage", filename=str(folder / "tasks.db"))


huey = _make_huey()
_app: Flask | None = None


def bind(app: Flask) -> None:
    """Use ``app`` for the jobs' application context (the worker's own app)."""
    global _app
    _app = app


def _application() -> Flask:
    global _app
    if _app is None:
        from engage import create_app

        _app = create_app()
    return _app


def run_sweeps() -> dict[str, object]:
    """Run every sweep once; one failing sweep does not stop the others.

    The post-commit owner's owed work (classification, acknowledgement) comes first,
    then new feedback joins the kept concerns of its themes, then the outbox sends what
    was queued (and fetching mail, with IMAP_HOST, before), then the themes' groupings
    staff asked for (last: one may take a minute).
    """
    from engage import outbox
    from engage.followup import post_commit
    from engage.outbox import send_due

    with _application().app_context(), outbox.sending_here():
        jobs: dict[str, Callable[[], object]] = {
            **post_commit.owed_jobs(),
            "place_concerns": _place_concerns,
            "send_outbox": send_due,
            "group_concerns": _group_concerns,
        }
        if _application().config.get("IMAP_HOST"):
            from engage.mail.imap import fetch

            jobs = {"fetch_mail": fetch, **jobs}
        return _run_jobs(jobs)


def _run_jobs(jobs: dict[str, Callable[[], object]]) -> dict[str, object]:
    """Run each job once (inside an app context); one failing does not stop the others."""
    from engage.extensions import db

    results: dict[str, object] = {}
    for name, job in jobs.items():
        try:
            results[name] = job()
        except Exception:
            db.session.rollback()
            log.exception("background job %s failed; it will run again", name)
            results[name] = "failed"
    return results


@huey.task()
def process_new_feedback(request_id: str | None = None) -> dict[str, object]:
    """Classify and acknowledge every new item, in batches (a commit's hand-over queues
    this): the post-commit owner's owed work; place the newly classified items in the
    kept concerns of their themes; then send the outbox, so that the
    acknowledgements it queued leave now rather than at the next minute's sweep.

    ``request_id`` is the id of the request that asked for the run (the first of its
    hand-over window); engage.observability.instrument_worker logs the job under it.

    Any number of these (and of the minute's sweeps) may run at once, in one worker or
    several: each claims the rows it works on (engage.claiming; the outbox claims each
    message), so every item is classified once and every email queued and sent once.
    """
    from engage import outbox
    from engage.followup import post_commit
    from engage.outbox import send_due

    with _application().app_context(), outbox.sending_here():
        return _run_jobs(
            {**post_commit.owed_jobs(), "place_concerns": _place_concerns, "send_outbox": send_due}
        )


def _place_concerns() -> int:
    """New feedback joins the kept concerns of its themes (engage.concerns.placing)."""
    from engage.concerns.placing import place_owed

    return place_owed()


def _group_concerns() -> int:
    """The themes' groupings staff asked for (engage.concerns.jobs)."""
    from engage.concerns.jobs import run_owed

    return run_owed()


@huey.task()
def group_concerns() -> dict[str, object]:
    """Do the groupings staff asked for now rather than at the next minute's sweep (the
    staff page queues this after queuing a grouping). Each is claimed (a row of
    ``concern_job``), so any number of these and of the sweeps do it once."""
    with _application().app_context():
        return _run_jobs({"group_concerns": _group_concerns})


def hand_over_grouping() -> None:
    """Ask the worker to run group_concerns() now (the staff page calls this)."""
    group_concerns.schedule(delay=0)


# A process asks for at most one run per window; the run starts when the window ends,
# after every item committed in it, so one run serves every request of the window.
HAND_OVER_WINDOW = 0.5
_last_hand_over = float("-inf")
_hand_over_lock = threading.Lock()


def hand_over_new_feedback() -> None:
    """Ask the worker to run process_new_feedback() shortly (web requests call this)."""
    global _last_hand_over
    now = time.monotonic()
    with _hand_over_lock:
        if now - _last_hand_over < HAND_OVER_WINDOW:
            return
        _last_hand_over = now
    from engage.observability import job_kwargs

    process_new_feedback.schedule(kwargs=job_kwargs(), delay=HAND_OVER_WINDOW)


@huey.task()
def send_outbox() -> dict[str, object]:
    """Send the outbox now (a commit that queued mail asks for this); each message is
    claimed (engage.outbox), so any number of these and of the sweeps send it once."""
    from engage.outbox import send_due

    with _application().app_context():
        return _run_jobs({"send_outbox": send_due})


_last_outbox_hand_over = float("-inf")


def hand_over_outbox() -> None:
    """Ask the worker to send queued mail shortly: at most one run per HAND_OVER_WINDOW
    from this process, started when the window ends (engage.outbox.hand_over_to)."""
    global _last_outbox_hand_over
    now = time.monotonic()
    with _hand_over_lock:
        if now - _last_outbox_hand_over < HAND_OVER_WINDOW:
            return
        _last_outbox_hand_over = now
    send_outbox.schedule(delay=HAND_OVER_WINDOW)


@huey.periodic_task(crontab(minute="*"))
def every_minute() -> dict[str, object]:
    """The worker's periodic sweep."""
    return run_sweeps()


def group_duplicates() -> dict[str, int]:
    """Group campaign texts and copy-paste letters again (every engagement)."""
    from engage.staff.duplicates import group_all
    from engage.unit_of_work import transaction

    with _application().app_context():
        with transaction():
            result = group_all()
        return result.as_dict()


@huey.periodic_task(crontab(minute="*/15"))
def every_quarter_hour() -> dict[str, int]:
    """New feedback joins its campaign group within a quarter of an hour; on SQLite the
    query planner's statistics follow the data as it grows."""
    from engage.extensions import keep_sqlite_statistics

    result = group_duplicates()
    with _application().app_context():
        result["statistics_refreshed"] = int(keep_sqlite_statistics())
    return result
