"""A worker's sweeps in a process of its own, for tests that run several or kill one.

    python -m tests.sweeper RECORD_DIR

Builds the app from the environment (DATABASE_URL, ENGAGE_MODEL_DIR, MAIL_SERVER,
MAIL_PORT ... as `engage worker` would), loads the active model, prints "ready", then
runs the worker's jobs (classify_pending, acknowledge_pending, send_due: what
engage.tasks.process_new_feedback runs) over and over in small batches, so that several
of these interleave, until the file RECORD_DIR/stop exists and a round found nothing
to do. It then prints one JSON line of what it did in all.

Every item this process classified is appended to RECORD_DIR/classified-PID.txt when
(and only when) the transaction that tagged it commits: the test adds the files up to
see that no item was classified twice.

With ENGAGE_TEST_PAUSE=STEP:PATH (STEP is "classify" or "acknowledge") the first batch
of that step writes its item ids to PATH inside its transaction, after its writes and
before its commit, then sleeps until the test kills the process.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session

BATCH = 20


def record_classifications(path: Path) -> Callable[[], None]:
    """Append the ids of items tagged by this process to ``path`` as their commits
    land; returns a function that stops recording."""
    from engage.classify import service as classify

    apply_tag_plan = classify.apply_tag_plan
    pending: list[int] = []

    def recording(plan, **kwargs):
        apply_tag_plan(plan, **kwargs)
        pending.extend(plan.ids)

    def committed(session) -> None:
        if pending:
            with path.open("a") as handle:
                handle.write("".join(f"{item_id}\n" for item_id in pending))
            pending.clear()

    def rolled_back(session, previous_transaction) -> None:
        pending.clear()

    classify.apply_tag_plan = recording
    event.listen(Session, "after_commit", committed)
    event.listen(Session, "after_soft_rollback", rolled_back)

    def stop() -> None:
        classify.apply_tag_plan = apply_tag_plan
        event.remove(Session, "after_commit", committed)
        event.remove(Session, "after_soft_rollback", rolled_back)

    return stop


def _pause_inside(step: str, marker: Path) -> None:
    """Make the first batch of ``step`` stop before its commit (see the module's doc):
    PATH gets the ids of the items it tagged, or the addresses of the emails it queued."""
    from engage import outbox
    from engage.classify import service as classify

    def hold(held: list) -> None:
        marker.write_text(json.dumps(sorted(held)))
        time.sleep(300)  # killed before this ends

    if step == "classify":
        apply_tag_plan = classify.apply_tag_plan

        def paused_tags(plan, **kwargs):
            apply_tag_plan(plan, **kwargs)
            hold(plan.ids)

        classify.apply_tag_plan = paused_tags
    elif step == "acknowledge":
        queue_many = outbox.queue_many

        def paused_queue(messages):
            queue_many(messages)
            if messages:
                hold([message["recipient"] for message in messages])

        outbox.queue_many = paused_queue
    else:
        raise SystemExit(f"unknown step {step!r}")


def main() -> None:
    record = Path(sys.argv[1])
    from engage import create_app, outbox
    from engage.classify import service as classify
    from engage.extensions import db
    from engage.feedback import notifications

    app = create_app({"ENGAGE_POST_COMMIT_IN_WORKER": True})
    totals = {"classified": 0, "acknowledged": 0, "sent": 0, "rounds": 0}
    with app.app_context():
        classify.load_active()
        record_classifications(record / f"classified-{os.getpid()}.txt")
        pause = os.environ.get("ENGAGE_TEST_PAUSE")
        if pause:
            step, _, marker = pause.partition(":")
            _pause_inside(step, Path(marker))
        print("ready", flush=True)
        while True:
            classified = classify.classify_pending(batch_size=BATCH)
            acknowledged = notifications.acknowledge_pending(batch_size=BATCH)
            sent = outbox.send_due(limit=BATCH).sent
            db.session.remove()
            totals["classified"] += classified
            totals["acknowledged"] += acknowledged
            totals["sent"] += sent
            totals["rounds"] += 1
            if not (classified or acknowledged or sent):
                if (record / "stop").exists():
                    break
                time.sleep(0.05)
    print(json.dumps(totals), flush=True)


if __name__ == "__main__":
    main()
