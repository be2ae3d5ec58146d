"""Serve engage from a process of its own, for tests that kill it or run several.

    python -m tests.feedback.serve            # werkzeug, prints its port on stdout
    gunicorn -w 4 'tests.feedback.serve:make_app()'

The database is DATABASE_URL (the test's own); ENGAGE_INSTANCE_PATH and the rest come
from the environment as for `engage run`. With ENGAGE_TEST_PAUSE_AFTER_INSERT=PATH,
a batch (more than one row) writes PATH once its rows are inserted, then waits inside
its transaction before the commit, so a test can kill the process at that moment.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def make_app():
    from engage import create_app

    pause_marker = os.environ.get("ENGAGE_TEST_PAUSE_AFTER_INSERT")
    if pause_marker:
        _pause_batches_after_insert(Path(pause_marker))
    return create_app(
        {
            "RATELIMIT_ENABLED": False,
            # The request only stores; the worker (not running here) would do the rest.
            "ENGAGE_POST_COMMIT_IN_WORKER": True,
        }
    )


def _pause_batches_after_insert(marker: Path) -> None:
    from engage.feedback import service

    insert_items = service.insert_items

    def insert_then_wait(rows):
        ids = insert_items(rows)
        if len(rows) > 1:
            marker.write_text(str(len(rows)))
            time.sleep(120)  # killed before this ends
        return ids

    service.insert_items = insert_then_wait


def main() -> None:
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, make_app(), threaded=True)
    sys.stdout.write(f"{server.server_port}\n")
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
