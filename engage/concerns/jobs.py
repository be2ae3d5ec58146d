"""A theme's grouping as a worker job: the first one, and staff's "group again".

Grouping a theme of 15,000 items takes half a minute or more, too long for a web
request. The staff page (or its buttons) calls ``request_grouping``, which queues the
theme's one ``ConcernJob`` row; the worker's sweeps and a hand-over run
``run_owed``, which claims each queued row and does the grouping:

1. claim (engage.claiming.writing: the write lock on SQLite; on PostgreSQL the
   conditional UPDATE waits for any other claimer's row lock and then reads the row
   again): ``queued`` (or ``running`` with a lapsed lease: a worker that died) becomes
   ``running`` with this worker's token and a lease of ``LEASE``; committed at once.
   Two workers, or two web nodes' hand-overs, claim it once;
2. group (``service.refresh``) with no lock held while it computes, telling the row
   its progress on a connection of its own;
3. write the concerns, audit ``concern.refresh`` by the worker and set ``done``, in one
   commit, only while the row still carries this worker's token.

A failure rolls the grouping back and queues the row again after ``RETRY_AFTER``
(longer each time), keeping the error; after ``MAX_ATTEMPTS`` it is ``failed`` and the
page shows the error to staff, who may ask again.

``engage concerns`` goes through the same claim (``run_by_hand``): a theme whose row is
owed is claimed, grouped and set ``done`` by the command, so no worker groups it again
afterwards; a row a worker holds on a live lease is left to it (``HeldByWorker``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import and_, false, func, or_, select, true, update
from sqlalchemy.exc import IntegrityError, OperationalError

from engage import audit, claiming
from engage.concerns import service
from engage.concerns.models import Concern, ConcernJob
from engage.engagements.models import Engagement
from engage.extensions import db
from engage.feedback.models import FeedbackItem, Theme, ThemeTag
from engage.feedback.queries import has_words
from engage.util import utcnow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
RETRY_AFTER = timedelta(seconds=30)  # times the attempts made so far
LEASE = timedelta(minutes=30)  # a claim older than this was a dead worker's
OPEN = ("queued", "running")


_hand_over: Callable[[], None] | None = None


def hand_over_to(function: Callable[[], None]) -> None:
    """Set how a web node asks the worker to start a queued grouping now (the app binds
    engage.tasks.hand_over_grouping; this layer cannot import the task queue)."""
    global _hand_over
    _hand_over = function


def hand_over() -> None:
    """Ask the worker to run the queued groupings now; without a hand-over the worker's
    minute sweep finds them."""
    if _hand_over is not None:
        _hand_over()


def job_of(engagement: Engagement, theme: Theme) -> ConcernJob | None:
    return db.session.scalar(
        select(ConcernJob).where(
            ConcernJob.engagement_id == engagement.id, ConcernJob.theme_id == theme.id
        )
    )


def has_concerns(engagement: Engagement, theme: Theme) -> bool:
    return (
        db.session.scalar(
            select(Concern.id)
            .where(Concern.engagement_id == engagement.id, Concern.theme_id == theme.id)
            .limit(1)
        )
        is not None
    )


def count_items(engagement: Engagement, theme: Theme) -> int:
    """About how many items the theme holds (tagged with it, not spam): for the page."""
    return int(
        db.session.scalar(
            select(func.count(func.distinct(FeedbackItem.id)))
            .join(ThemeTag, ThemeTag.item_id == FeedbackItem.id)
            .where(
                FeedbackItem.engagement_id == engagement.id,
                ThemeTag.theme_id == theme.id,
                has_words(),
            )
        )
        or 0
    )


def request_grouping(
    engagement: Engagement, theme: Theme, *, rediscover: bool = False, by: str | None = None
) -> tuple[ConcernJob, bool]:
    """Queue the theme's grouping for the worker; return its row and whether this call
    queued it (False: it was queued or running already). Commits.

    Two requests at once queue it once: the row is unique per engagement and theme, and
    a row is queued again only from ``done`` or ``failed`` by a conditional UPDATE.
    """
    items = count_items(engagement, theme)
    now = utcnow()
    job = job_of(engagement, theme)
    if job is None:
        try:
            with db.session.begin_nested():
                job = ConcernJob(
                    engagement_id=engagement.id,
                    theme_id=theme.id,
                    state="queued",
                    rediscover=rediscover,
                    items=items,
                    requested_by=by,
                    requested_at=now,
                )
                db.session.add(job)
            _audit_request(engagement, theme, rediscover, items)
            db.session.commit()
            return job, True
        except IntegrityError:  # another request made the row first
            db.session.rollback()
            return job_of(engagement, theme), False
    queued = db.session.execute(
        update(ConcernJob)
        .where(ConcernJob.id == job.id, ConcernJob.state.not_in(OPEN))
        .values(
            state="queued",
            rediscover=rediscover,
            items=items,
            progress=0,
            attempts=0,
            error=None,
            requested_by=by,
            requested_at=now,
            started_at=None,
            finished_at=None,
            not_before=None,
            claim_token=None,
            claimed_until=None,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if queued:
        _audit_request(engagement, theme, rediscover, items)
    db.session.commit()
    db.session.refresh(job)
    return job, bool(queued)


def _audit_request(engagement: Engagement, theme: Theme, rediscover: bool, items: int) -> None:
    audit.record(
        "concern.group_requested",
        detail={
            "engagement": engagement.slug,
            "theme": theme.slug,
            "rediscover": rediscover,
            "items": items,
        },
    )


def _claimable(now, *, by_hand: bool = False):
    """Rows a process may take: queued and due, or running on a lapsed lease (a dead
    worker's). ``by_hand`` (an operator's command) also takes a queued row still waiting
    for its retry, and a failed one: the operator is the retry."""
    due = or_(ConcernJob.not_before.is_(None), ConcernJob.not_before <= now)
    return or_(
        and_(ConcernJob.state == "queued", true() if by_hand else due),
        ConcernJob.state == "failed" if by_hand else false(),
        and_(ConcernJob.state == "running", ConcernJob.claimed_until < now),
    )


def claim(job_id: int, *, by_hand: bool = False) -> str | None:
    """Take the job for this process if it is still owed; its claim token, or None.

    The one claim of a grouping, for the worker and for ``engage concerns`` (``by_hand``,
    see _claimable): a live claim is never taken from its holder."""
    token = uuid.uuid4().hex
    now = utcnow()
    with claiming.writing():
        taken = db.session.execute(
            update(ConcernJob)
            .where(ConcernJob.id == job_id, _claimable(now, by_hand=by_hand))
            .values(
                state="running",
                claim_token=token,
                claimed_until=now + LEASE,
                started_at=now,
                progress=0,
                attempts=ConcernJob.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        db.session.commit()
    return token if taken else None


def _tell_progress(job_id: int, token: str, share: float) -> None:
    """Store the progress on a connection of its own (the grouping's transaction has
    written nothing yet: service.refresh writes only once grouping and describing are
    done). A busy database (SQLite: another writer held the lock for longer than the
    busy timeout) is tried once more; if it is still busy the figure only lags."""
    for attempt in (1, 2):
        try:
            with db.engine.begin() as connection:
                connection.execute(
                    update(ConcernJob)
                    .where(ConcernJob.id == job_id, ConcernJob.claim_token == token)
                    .values(progress=max(0, min(99, round(share * 100))))
                )
            return
        except OperationalError:
            if attempt == 2:
                log.info("progress of concern job %s not stored (database busy)", job_id)


def run(job_id: int) -> bool:
    """Claim and do one job (the worker); True if this process did it."""
    token = claim(job_id)
    if token is None:
        return False
    try:
        return _group(job_id, token, by="worker")
    except Exception:
        log.exception("grouping concerns (job %s) failed", job_id)
        return False


class HeldByWorker(Exception):
    """A worker holds the theme's grouping on a live lease: not grouped here."""

    def __init__(self, job: ConcernJob) -> None:
        self.job = job
        super().__init__(
            f"a worker has been grouping it since {job.started_at:%H:%M} UTC "
            f"({job.progress}% done; its lease runs to {job.claimed_until:%H:%M} UTC)"
        )


def run_by_hand(
    engagement: Engagement, theme: Theme, *, rediscover: bool = False, by: str = "cli"
) -> ConcernJob | None:
    """For ``engage concerns``: do the theme's owed grouping here, through its row.

    If the theme's row is owed (queued, even waiting for a retry; failed; or running on
    a lapsed lease), claim it with the worker's claim, group (as staff asked: again if
    either they or ``rediscover`` say so), audit and set ``done`` in one commit, and
    return the row: no worker groups it afterwards. Return None when no grouping is
    owed (the caller refreshes as usual). Raise ``HeldByWorker`` when a worker holds a
    live claim. A failure is recorded on the row as the worker's are, then raised.
    """
    job = job_of(engagement, theme)
    if job is None or job.state == "done":
        return None
    token = claim(job.id, by_hand=True)
    db.session.refresh(job)
    if token is None:
        if job.state == "running":
            raise HeldByWorker(job)
        return None  # done meanwhile (by a worker)
    done = _group(job.id, token, by=by, rediscover=rediscover or job.rediscover)
    db.session.refresh(job)
    if done:
        return job
    if job.state == "running":  # our lease lapsed meanwhile and a worker took the row
        raise HeldByWorker(job)
    return None


def _group(job_id: int, token: str, *, by: str, rediscover: bool = False) -> bool:
    """Group a claimed job's theme, audit it and set it ``done`` in one commit; False if
    the row was no longer ours. A failure is rolled back, recorded (_failed) and raised."""
    job = db.session.get(ConcernJob, job_id)
    engagement = db.session.get(Engagement, job.engagement_id)
    theme = db.session.get(Theme, job.theme_id)
    rediscover = rediscover or job.rediscover
    try:
        # Reading the items is about a tenth of the work; grouping and describing the
        # concerns found (service.refresh's share) the rest but the writing and commit,
        # which take little and end in "done".
        _tell_progress(job_id, token, 0.02)
        result = service.refresh(
            engagement,
            theme,
            rediscover=rediscover,
            progress=lambda share: _tell_progress(job_id, token, 0.1 + 0.88 * share),
        )
        audit.record(
            "concern.refresh",
            detail={
                "engagement": engagement.slug,
                "theme": theme.slug,
                "rediscover": rediscover,
                "found": result.found,
                "joined": result.joined,
                "new_group": result.to_new_group,
                "by": by,
                "requested_by": job.requested_by,
            },
        )
        # The grouping's writes already hold the write lock on SQLite; the token check
        # makes sure the row is still ours (a lapsed lease may have gone to another).
        finished = db.session.execute(
            update(ConcernJob)
            .where(ConcernJob.id == job_id, ConcernJob.claim_token == token)
            .values(
                state="done",
                progress=100,
                finished_at=utcnow(),
                error=None,
                claim_token=None,
                claimed_until=None,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        if not finished:
            db.session.rollback()
            return False
        db.session.commit()
        return True
    except Exception as error:
        db.session.rollback()
        _failed(job_id, token, error)
        raise


def _failed(job_id: int, token: str, error: Exception) -> None:
    """Queue the job again after a pause, or, after MAX_ATTEMPTS, mark it failed."""
    now = utcnow()
    message = f"{type(error).__name__}: {error}"[:2000]
    mine = and_(ConcernJob.id == job_id, ConcernJob.claim_token == token)
    with claiming.writing():
        attempts = db.session.scalar(select(ConcernJob.attempts).where(mine))
        if attempts is None:  # no longer ours
            db.session.rollback()
            return
        if attempts >= MAX_ATTEMPTS:
            values = {"state": "failed", "finished_at": now}
        else:
            values = {"state": "queued", "not_before": now + RETRY_AFTER * attempts}
        db.session.execute(
            update(ConcernJob)
            .where(mine)
            .values(error=message, claim_token=None, claimed_until=None, **values)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()


def owed_ids() -> list[int]:
    return list(
        db.session.scalars(
            select(ConcernJob.id).where(_claimable(utcnow())).order_by(ConcernJob.requested_at)
        )
    )


def run_owed() -> int:
    """Do every grouping owed (the worker's job); return how many this process did."""
    ids = owed_ids()
    db.session.rollback()
    return sum(run(job_id) for job_id in ids)
