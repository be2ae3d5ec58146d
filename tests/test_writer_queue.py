"""extensions.writer_queue(): SQLite writers wait in line; elsewhere it does nothing."""

import select
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from engage.extensions import db, queue_on, writer_queue

HOLD = 0.4


def _hold_in_thread(enter) -> tuple[threading.Thread, threading.Event, list[str]]:
    """Start a thread that enters ``enter()``, says so, and stays HOLD seconds."""
    inside = threading.Event()
    order: list[str] = []

    def first() -> None:
        with enter():
            order.append("first in")
            inside.set()
            time.sleep(HOLD)
            order.append("first out")

    thread = threading.Thread(target=first)
    thread.start()
    assert inside.wait(5)
    return thread, inside, order


@contextmanager
def _in_app(app, enter):
    with app.app_context(), enter():
        yield


def test_a_second_writer_waits_for_the_first(tmp_path):
    lock = str(tmp_path / "db-writer.lock")
    thread, _, order = _hold_in_thread(lambda: queue_on(lock))
    with queue_on(lock):
        order.append("second in")
    thread.join()
    assert order == ["first in", "first out", "second in"]


def test_writers_in_another_process_queue_too(tmp_path):
    lock = str(tmp_path / "db-writer.lock")
    # The holder says "letting go" before it unlocks, so that line is in the pipe by the
    # time anyone else can get in. (Its exit is no marker: the kernel lets go of the
    # lock while closing the process's files, a moment before poll() sees it end.)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, time\n"
            f"fd = os.open({lock!r}, os.O_RDWR | os.O_CREAT)\n"
            "fcntl.flock(fd, fcntl.LOCK_EX)\n"
            "print('held', flush=True)\n"
            f"time.sleep({HOLD})\n"
            "print('letting go', flush=True)\n"
            "fcntl.flock(fd, fcntl.LOCK_UN)\n",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline().strip() == b"held"
        started = time.monotonic()
        with queue_on(lock):
            waited = time.monotonic() - started
            # Without waiting: has the holder already said it let go?
            let_go = select.select([holder.stdout], [], [], 0)[0] != []
    finally:
        holder.wait(5)
        holder.stdout.close()
    assert let_go  # the other process had let go before this one got in
    assert waited >= HOLD / 2


def test_the_queue_is_let_go_when_the_block_fails(tmp_path):
    lock = str(tmp_path / "db-writer.lock")
    with pytest.raises(RuntimeError), queue_on(lock):
        raise RuntimeError("the insert failed")
    entered = threading.Event()

    def enter() -> None:
        with queue_on(lock):
            entered.set()

    threading.Thread(target=enter).start()
    assert entered.wait(2)


def test_the_app_queues_only_on_a_sqlite_file(app):
    """SQLite: a lock file beside the database, and a second writer waits. PostgreSQL
    locks rows itself: no file, and writers do not wait for each other here."""
    url = db.engine.url
    sqlite = url.get_backend_name() == "sqlite"
    thread, _, order = _hold_in_thread(lambda: _in_app(app, writer_queue))
    with writer_queue():
        order.append("second in")
    thread.join()
    if sqlite:
        assert Path(f"{url.database}-writer.lock").exists()
        assert order == ["first in", "first out", "second in"]
    else:
        assert order == ["first in", "second in", "first out"]
