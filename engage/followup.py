"""What runs after feedback is committed, for every channel: one owner, ``post_commit``.

feedback.service's intake commits the items first and then hands them here with
``post_commit.after_commit(items)``. Each step (classification, the acknowledgement
email) has three forms, all registered here by install():

- ``one``: one item (the web form; a message from the webhook or IMAP);
- ``many``: a batch (a partner batch, a mailbox import batch: one prediction, one
  outbox insert of acknowledgements that the outbox renders when it sends them);
  classification and acknowledgement of a batch run together in one
  transaction with one UPDATE marking the rows both classified and acknowledged;
- ``owed``: the work still owed in the table (unclassified items, ``ack_pending``),
  which the worker runs after a hand-over and in its minute sweep.

With ENGAGE_POST_COMMIT_IN_WORKER (the default outside tests) after_commit() only asks
the worker to run the owed work (engage.tasks.process_new_feedback), for every channel
and a mailbox import alike; otherwise, or when the caller asks for it
(`engage import-mail --classify-now`), the steps run here and now. A failing
step is rolled back and logged, never swallowed: what it owed is still marked in the
table and the worker's sweep retries it; the next step still runs.

This module sits above the domains (it calls classify and feedback.notifications);
feedback.service reaches it through service.follow_up_with(), set by create_app.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from engage.extensions import db
from engage.feedback.models import FeedbackItem

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Step:
    """One piece of post-commit work in its single, batch and owed forms."""

    name: str
    one: Callable[[FeedbackItem], object]
    many: Callable[[list[FeedbackItem]], object] | None = None
    owed: Callable[[], object] | None = None


class PostCommit:
    """Owns the work that runs after feedback is committed (see the module's doc)."""

    def __init__(self) -> None:
        self._steps: list[Step] = []
        self._hand_over: Callable[[], None] | None = None

    # Set-up -------------------------------------------------------------------------

    def register(
        self,
        name: str,
        one: Callable[[FeedbackItem], object],
        *,
        many: Callable[[list[FeedbackItem]], object] | None = None,
        owed: Callable[[], object] | None = None,
    ) -> None:
        """Add a step (or replace the step of the same name, keeping its place)."""
        step = Step(name, one, many, owed)
        for index, existing in enumerate(self._steps):
            if existing.name == name:
                self._steps[index] = step
                return
        self._steps.append(step)

    def unregister(self, name: str) -> None:
        self._steps[:] = [step for step in self._steps if step.name != name]

    @property
    def steps(self) -> list[Step]:
        return list(self._steps)

    def hand_over_to(self, hand_over: Callable[[], None] | None) -> None:
        """With ENGAGE_POST_COMMIT_IN_WORKER, after_commit() calls ``hand_over()``.

        ``hand_over`` asks the worker to run every owed step, for all new items in
        batches; when it fails (the queue is down) the worker's minute sweep still finds
        the work, since unclassified and unacknowledged items are marked in the table.
        """
        self._hand_over = hand_over

    # After a commit -----------------------------------------------------------------

    def after_commit(self, items: Sequence[FeedbackItem], *, here: bool = False) -> None:
        """Hand the committed items' work to the worker, or run it now (``here``: always
        now, as `engage import-mail --classify-now` does: one classification per batch)."""
        if not items:
            return
        if (
            not here
            and current_app.config.get("ENGAGE_POST_COMMIT_IN_WORKER")
            and self._hand_over is not None
        ):
            try:
                self._hand_over()
            except Exception:
                log.exception(
                    "could not queue the work after %s; the sweep will do it", items[0].reference
                )
            return
        if len(items) == 1:
            self.run_one(items[0])
        else:
            self.run_many(list(items))

    def run_one(self, item: FeedbackItem) -> None:
        """Run every step's single form on one committed item."""
        for step in self.steps:
            try:
                step.one(item)
            except Exception:
                db.session.rollback()
                log.exception(
                    "post-commit step %s failed for %s; the worker will retry",
                    step.name,
                    item.reference,
                )

    def run_many(self, items: list[FeedbackItem]) -> None:
        """Run every step on a batch of committed items, a batch at a time.

        Classification and acknowledgement, when both are the registered ones, run
        together in one transaction (_classify_and_acknowledge); if that fails they run
        one after the other. Any other step with a batch form runs once for all the
        items, and a step without one item by item (reloaded), as for one item.
        """
        steps = self.steps
        done = _classify_and_acknowledge(items, steps)
        for step in steps:
            if step.name in done:
                continue
            if step.many is not None:
                _run_step(step.name, step.many, items, items)
                continue
            ids = [item.id for item in items]
            loaded = db.session.scalars(
                select(FeedbackItem)
                .where(FeedbackItem.id.in_(ids))
                .order_by(FeedbackItem.id)
                .execution_options(populate_existing=True)
            ).all()
            for item in loaded:
                _run_step(step.name, step.one, item, [item])

    # The worker ---------------------------------------------------------------------

    def owed_jobs(self) -> dict[str, Callable[[], object]]:
        """Each step's owed form by name: what the worker runs (after a hand-over, and
        in its minute sweep), each returning how many items it did."""
        return {step.name: step.owed for step in self.steps if step.owed is not None}


post_commit = PostCommit()


def install() -> PostCommit:
    """Register classification and acknowledgement (create_app calls this)."""
    from engage.classify import service as classify
    from engage.feedback import notifications

    post_commit.register(
        "classify",
        classify.classify_item,
        many=lambda items: classify.classify_batch(
            [(item.id, item.text) for item in items], owed_only=True
        ),
        owed=classify.classify_pending,
    )
    post_commit.register(
        "acknowledge",
        notifications.acknowledge,
        many=lambda items: acknowledge_batch([item.id for item in items]),
        owed=notifications.acknowledge_pending,
    )
    return post_commit


def _run_step(name: str, form: Callable, argument: object, items: list[FeedbackItem]) -> None:
    """Run one form of a step; on failure roll back, log and leave it to the worker."""
    first = items[0].reference if items else "?"
    try:
        form(argument)
    except Exception:
        db.session.rollback()
        log.exception(
            "post-commit step %s failed for %s item(s) from %s; the worker will retry",
            name,
            len(items),
            first,
        )


def _classify_and_acknowledge(items: list[FeedbackItem], steps: list[Step]) -> set[str]:
    """Classify the batch and queue its acknowledgements in one transaction, with one
    UPDATE marking the items both classified and acknowledged (on PostgreSQL each
    UPDATE rewrites every row and its index entries). Returns the names of the steps it
    did: both, or none when either step is not the registered one, there is no model,
    or it failed.

    The prediction and the emails are made first; then the items are claimed (see
    engage.claiming) and only what is still owed is written: a worker's sweep that
    classified or acknowledged some of them meanwhile is not done again.
    """
    from engage import claiming, outbox
    from engage.classify import service as classify
    from engage.feedback import notifications

    ones = {step.name: step.one for step in steps}
    if (
        ones.get("classify") is not classify.classify_item
        or ones.get("acknowledge") is not notifications.acknowledge
    ):
        return set()
    try:
        model, row = classify.load_active()
    except classify.NoModelError:
        return set()  # the classify step says so and leaves them for the sweep
    try:
        plan = classify.plan_tags([(item.id, item.text) for item in items], model, row.version)
        owed = notifications.owed_acknowledgement(_items_for_acknowledgement(plan.ids))
        emails = notifications.acknowledgement_rows(owed)
        with claiming.writing():
            plan = plan.only(
                claiming.claim(plan.ids, FeedbackItem.classified_at.is_(None), of=FeedbackItem)
            )
            acknowledged = set(
                claiming.claim(
                    [item.id for item in owed], FeedbackItem.ack_pending, of=FeedbackItem
                )
            )
            outbox.queue_many(
                [email for item, email in zip(owed, emails, strict=True) if item.id in acknowledged]
            )
            if plan.ids:
                classify.apply_tag_plan(plan, acknowledged=acknowledged)
            unclassified = acknowledged.difference(plan.ids)
            if unclassified:  # classified by someone else meanwhile, still owed an email
                notifications.mark_acknowledged(unclassified)
            # Kept here: the claim, the tags, the acknowledgements and their commit are one short
            # transaction inside claiming.writing() (see claiming).
            db.session.commit()
    except Exception:
        db.session.rollback()
        log.warning(
            "classifying and acknowledging %s items together failed; one step at a time",
            len(items),
            exc_info=True,
        )
        return set()
    return {"classify", "acknowledge"}


def acknowledge_batch(ids: list[int]) -> int:
    """Batch form of notifications.acknowledge(): queue the emails these items are owed.

    The same emails and bookkeeping (ack_pending cleared in the same transaction), with
    one read, one outbox insert and one commit for the batch. Returns how many.
    """
    from engage.feedback import notifications

    # feedback.notifications renders and queues them: one place says what the email is.
    return notifications.queue_acknowledgements(_items_for_acknowledgement(ids))


def _items_for_acknowledgement(ids: list[int]) -> list[FeedbackItem]:
    """The items among ``ids`` still owed an acknowledgement (the email is written when
    the outbox sends it: feedback.notifications.render_acknowledgement)."""
    return list(
        db.session.scalars(
            select(FeedbackItem)
            .where(FeedbackItem.id.in_(ids), FeedbackItem.ack_pending)
            .order_by(FeedbackItem.id)
            .execution_options(populate_existing=True)
        )
    )
