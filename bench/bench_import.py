"""Benchmark `engage import-mail` on mbox files; print one JSON object.

    python bench/bench_import.py --database-url URL --instance DIR --model-dir DIR MBOX...

(``python -m bench`` generates a 1,000- and a 10,000-message mbox and calls this for
SQLite and PostgreSQL, after the web benchmark, on the same 100k-item database.)

Each mbox is imported by a fresh ``engage import-mail --json`` process, as an operator
would run it; the figures are messages per second over the whole command, the same
without the command's fixed start-up cost (measured first by importing a one-message
mbox holding an auto-reply), and the child's peak resident memory from ``wait4()``
(``ru_maxrss`` of that process alone). Every imported message is classified and
acknowledged (queued in the outbox) by the import itself (``--classify-now``, so the
rate counts that work as it always has; by default the import hands it to the worker,
and `bench growth` times that worker too); nothing is sent.

What the issue asks, and so what each figure is held to:

* every mbox: peak RSS under 400 MB;
* the 10k mbox: at least 300 messages a second over the whole command (a 1k import is
  mostly start-up, so its rate is reported but not held to the target);
* flat memory: the 10k peak no more than 1.25 times the 1k peak (``flat`` in the JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common  # noqa: E402

PEAK_RSS_MB_MAX = 400.0
# Only a mailbox this large is held to the rate: a smaller one is mostly start-up.
RATE_TARGET_MIN_MESSAGES = 10_000
RATE_TARGET = 300.0  # messages a second over the whole command
FLAT_MAX_RATIO = 1.25  # the largest mbox's peak RSS over the smallest's


def target_for(messages: int) -> dict:
    """What an import of an mbox with this many messages is held to."""
    target: dict = {"peak_rss_mb_max": PEAK_RSS_MB_MAX}
    if messages >= RATE_TARGET_MIN_MESSAGES:
        target["messages_per_s_min"] = RATE_TARGET
    return target


def meets(result: dict, target: dict) -> bool:
    """Whether one import's figures meet its target (a capped import never does)."""
    rate = target.get("messages_per_s_min")
    return (
        result["completed"]
        and result["peak_rss_mb"] < target["peak_rss_mb_max"]
        and (rate is None or result["messages_per_s"] >= rate)
    )


def flat(results: dict[str, dict]) -> dict | None:
    """Peak RSS of the largest mbox against the smallest; None with fewer than two."""
    imports = sorted(results.values(), key=lambda r: r["mbox_messages"])
    if len(imports) < 2:
        return None
    small, large = imports[0], imports[-1]
    ratio = large["peak_rss_mb"] / small["peak_rss_mb"]
    return {
        "from_messages": small["mbox_messages"],
        "to_messages": large["mbox_messages"],
        "rss_growth_mb": round(large["peak_rss_mb"] - small["peak_rss_mb"], 1),
        "ratio": round(ratio, 3),
        "max_ratio": FLAT_MAX_RATIO,
        "pass": ratio <= FLAT_MAX_RATIO,
    }


STARTUP_MESSAGE = b"""From bench@example.net Mon Jun  3 10:00:00 2019
From: Someone <someone@example.com>
To: engage@engage.example.org
Subject: Out of office: consultation
Date: Mon, 03 Jun 2019 10:00:00 +0000
Message-ID: <startup-probe@example.com>
Auto-Submitted: auto-replied

I am away until Monday.

"""


def _wait(proc: subprocess.Popen, max_seconds: float | None):
    """wait4() the child, interrupting it (SIGINT, as Ctrl-C) after ``max_seconds``."""
    stopped = False
    if max_seconds:
        deadline = time.monotonic() + max_seconds
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                return status, usage, stopped
            if time.monotonic() >= deadline and not stopped:
                proc.send_signal(signal.SIGINT)
                stopped = True
            time.sleep(0.05)
    _, status, usage = os.wait4(proc.pid, 0)
    return status, usage, stopped


def _processed(database_url: str, tag: str) -> tuple[int, int]:
    """(items stored, messages read) for an mbox whose Message-IDs start with ``tag-N.``."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            ids = conn.execute(
                text("SELECT message_id FROM feedback_item WHERE message_id LIKE :p"),
                {"p": f"{tag}-%"},
            ).scalars()
            numbers = [int(m.split("-", 1)[1].split(".", 1)[0]) for m in ids]
    finally:
        engine.dispose()
    return len(numbers), (max(numbers) + 1 if numbers else 0)


def import_mail(
    path: Path, env: dict[str, str], max_seconds: float | None = None, *, classify_now: bool = False
) -> dict:
    """Run one `engage import-mail --json PATH`; its counts, wall time and peak RSS.

    With ``max_seconds`` the import is interrupted then, and what it did is read back
    from the database (the messages' Message-IDs carry their number in the mbox).
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            [
                str(common.VENV_BIN / "engage"),
                "import-mail",
                "--json",
                *(["--classify-now"] if classify_now else []),
                str(path),
            ],
            cwd=common.ROOT,
            env=env,
            stdout=out,
            stderr=err,
        )
        status, usage, stopped = _wait(proc, max_seconds)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode("utf-8", "replace")
    warnings = [line for line in stderr.splitlines() if line.strip()]
    if stopped:
        tag = path.stem.rsplit("-", 1)[-1]
        stored, read = _processed(env["DATABASE_URL"], tag)
        counts = {"imported": stored, "messages_read": read, "stopped_after_s": max_seconds}
    elif proc.returncode != 0:
        raise RuntimeError(f"engage import-mail exited {proc.returncode}: {stderr[-2000:]}")
    else:
        counts = json.loads(stdout.strip().splitlines()[-1])
    return {
        "completed": not stopped,
        "counts": counts,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux: kilobytes
        "stderr_lines": len(warnings),
        **({"stderr_sample": warnings[:3]} if warnings else {}),
    }


def run(args: argparse.Namespace) -> dict:
    env = common.app_env(args.database_url, Path(args.instance), Path(args.model_dir))
    probe = Path(args.instance) / "startup-probe.mbox"
    probe.write_bytes(STARTUP_MESSAGE)
    common.log("import-mail: start-up cost (one auto-reply)")
    startup = import_mail(probe, env, classify_now=True)
    out: dict = {"startup": startup}
    imports: dict[str, dict] = {}
    for path in map(Path, args.mbox):
        total = sum(1 for line in path.open("rb") if line.startswith(b"From bench@"))
        common.log(f"import-mail: {path.name} ({total:,} messages)")
        result = import_mail(path, env, args.max_seconds or None, classify_now=True)
        messages = total if result["completed"] else result["counts"]["messages_read"]
        steady = max(result["seconds"] - startup["seconds"], 1e-6)
        result.update(
            mbox_messages=total,
            messages=messages,
            messages_per_s=round(messages / result["seconds"], 1),
            messages_per_s_after_startup=round(messages / steady, 1),
        )
        result["target"] = target_for(total)
        result["pass"] = meets(result, result["target"])
        common.log(
            f"import-mail: {messages:,} of {total:,} messages in {result['seconds']} s "
            f"({result['messages_per_s']}/s), peak RSS {result['peak_rss_mb']} MB, "
            f"{result['counts']}"
        )
        imports[f"{total // 1000}k" if total >= 1000 else str(total)] = result
    out.update(imports)
    memory = flat(imports)
    if memory is not None:
        out["rss_growth_mb"] = memory["rss_growth_mb"]
        out["flat"] = memory
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    common.add_where_arguments(parser)
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=float(os.environ.get("BENCH_IMPORT_MAX_SECONDS", 0)),
        help="interrupt an import after this long (0: never) and count what it did",
    )
    parser.add_argument("mbox", nargs="+")
    args = parser.parse_args(argv)
    print(json.dumps(run(args)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
